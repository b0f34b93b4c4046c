// The environment layer: the OpenTelemetry variables users already set
// (OTEL_*), then agent-run's own AGENT_RUN_<KEY> over them.
//
// A bad AGENT_RUN_* value is an error (the user meant it for us); a bad
// OTEL_* value is only a warning and is ignored (it may have been set for
// another tool in the same environment).
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "config/config.hpp"
#include "config/internal.hpp"
#include "config/suggestions.hpp"

extern char** environ;

namespace agent_run::config {

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

EnvNames process_environment_names() {
  // Only the AGENT_RUN_* names: they are all load() looks at, and copying
  // every name of a large environment is most of the work otherwise.
  return [] {
    std::vector<std::string> names;
    for (char** e = environ; e && *e; ++e) {
      if (std::strncmp(*e, "AGENT_RUN_", 10) != 0) continue;
      const char* eq = std::strchr(*e, '=');
      names.emplace_back(*e, eq ? static_cast<size_t>(eq - *e) : std::strlen(*e));
    }
    return names;
  };
}

EnvLookup map_environment(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

EnvNames map_environment_names(const std::map<std::string, std::string>& vars) {
  std::vector<std::string> names;
  for (const auto& [name, value] : vars) names.push_back(name);
  return [names] { return names; };
}

namespace detail {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(const std::string& in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    int hi = i + 1 < in.size() ? hex_digit(in[i + 1]) : -1;
    int lo = i + 2 < in.size() ? hex_digit(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

}  // namespace

bool decode_key_value_list(const std::string& text, std::vector<std::string>& out, std::string& why) {
  out.clear();
  for (const auto& part : split(text, ',')) {
    std::string entry = trim(part);
    if (entry.empty()) continue;  // "a=1,,b=2" or a trailing comma: nothing meant
    size_t eq = entry.find('=');
    if (eq == std::string::npos) {
      why = fmt::format("{} has no '='", quote(entry));
      return false;
    }
    std::string key, value;
    if (!percent_decode(trim(entry.substr(0, eq)), key) || !percent_decode(trim(entry.substr(eq + 1)), value)) {
      why = fmt::format("{} has a '%' not followed by two hex digits", quote(entry));
      return false;
    }
    if (key.empty()) {
      why = fmt::format("{} has no key before '='", quote(entry));
      return false;
    }
    out.push_back(key + "=" + value);
  }
  return true;
}

namespace {

struct EnvLayer {
  const Sources& sources;
  Config& config;
  std::vector<Diagnostic>& errors;
  std::vector<Diagnostic>& warnings;

  // OTel treats an empty variable as unset; so do we, for both families.
  std::optional<std::string> get(const std::string& name) const {
    auto v = sources.env(name);
    if (!v || trim(*v).empty()) return std::nullopt;
    return v;
  }

  // AGENT_RUN_* and the command line beat OTEL_*, also for the choices
  // OTEL_* variables imply (an endpoint selecting otlp).
  bool chosen_by_user(const std::string& key) const {
    return get(env_var_for(key)).has_value() || sources.overrides.count(key) > 0;
  }

  void warn(const std::string& var, const std::string& message) {
    warnings.push_back({"environment " + var, message});
  }

  // Sets `key` from an OTEL_* variable's text with the key's own rules;
  // a bad value is a warning. Returns whether it was applied.
  bool set_from_otel(const std::string& var, const std::string& key, const std::string& text) {
    const KeyInfo* info = find_key(key);
    Value value;
    std::string why = parse_text(*info, text, value);
    if (!why.empty()) {
      warn(var, fmt::format("{}={} is ignored; {}", var, quote(text), why));
      return false;
    }
    return config.set(key, std::move(value), "environment " + var);
  }

  // The signal-specific variable (…_TRACES_…) beats the general one.
  std::optional<std::pair<std::string, std::string>> otlp_var(const std::string& suffix) const {
    for (std::string var : {"OTEL_EXPORTER_OTLP_TRACES_" + suffix, "OTEL_EXPORTER_OTLP_" + suffix})
      if (auto v = get(var)) return std::make_pair(var, *v);
    return std::nullopt;
  }

  void otel() {
    if (auto v = get("OTEL_SDK_DISABLED")) {
      std::string t = to_lower(trim(*v));
      if (t == "true")
        config.set("enabled", false, "environment OTEL_SDK_DISABLED");
      else if (t != "false")
        warn("OTEL_SDK_DISABLED", fmt::format("OTEL_SDK_DISABLED={} is ignored; use true or false", quote(*v)));
    }

    std::string service_from_attributes;
    if (auto v = get("OTEL_RESOURCE_ATTRIBUTES")) {
      std::vector<std::string> items;
      std::string why;
      if (decode_key_value_list(*v, items, why)) {
        for (const auto& item : items)
          if (item.rfind("service.name=", 0) == 0) service_from_attributes = item.substr(13);
        config.set("resource_attributes", std::move(items), "environment OTEL_RESOURCE_ATTRIBUTES");
      } else {
        // The OTel spec: on any error the whole value is discarded.
        warn("OTEL_RESOURCE_ATTRIBUTES",
             fmt::format("OTEL_RESOURCE_ATTRIBUTES is ignored: {}; use key=value pairs separated by commas, "
                         "with ',', '=' and '%' in them percent-encoded",
                         why));
      }
    }
    // OTEL_SERVICE_NAME beats service.name in OTEL_RESOURCE_ATTRIBUTES (OTel spec).
    if (auto v = get("OTEL_SERVICE_NAME"))
      config.set("service_name", trim(*v), "environment OTEL_SERVICE_NAME");
    else if (!service_from_attributes.empty())
      config.set("service_name", service_from_attributes, "environment OTEL_RESOURCE_ATTRIBUTES");

    bool exporter_from_otel = false;
    if (auto v = get("OTEL_TRACES_EXPORTER"); v && !chosen_by_user("exporter.type")) {
      std::vector<std::string> names;
      for (const auto& part : split(*v, ','))
        if (!trim(part).empty()) names.push_back(to_lower(trim(part)));
      if (names.empty()) names.push_back(to_lower(trim(*v)));
      const std::string first = names.front();
      if (names.size() > 1)
        warn("OTEL_TRACES_EXPORTER",
             fmt::format("OTEL_TRACES_EXPORTER={}: agent-run exports to one destination; using '{}'", quote(*v), first));
      if (first == "otlp" || first == "console") {
        exporter_from_otel = config.set("exporter.type", first, "environment OTEL_TRACES_EXPORTER");
      } else if (first == "none") {
        // Traces are all agent-run records: no trace exporter means no agent.
        exporter_from_otel = config.set("enabled", false, "environment OTEL_TRACES_EXPORTER");
      } else {
        warn("OTEL_TRACES_EXPORTER",
             fmt::format("OTEL_TRACES_EXPORTER={} is ignored; agent-run supports otlp, console and none "
                         "(or set AGENT_RUN_EXPORTER_TYPE to local, otlp or console)",
                         quote(*v)));
      }
    }

    bool endpoint_set = false;
    if (auto v = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
      endpoint_set = set_from_otel("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "exporter.otlp.endpoint", trim(*v));
      if (endpoint_set && !exporter_from_otel && !chosen_by_user("exporter.type"))
        config.set("exporter.type", std::string("otlp"), "environment OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    } else if (auto base = get("OTEL_EXPORTER_OTLP_ENDPOINT")) {
      // The signal-less endpoint is a base URL: the OTel spec appends the signal's path.
      std::string url = trim(*base);
      while (!url.empty() && url.back() == '/') url.pop_back();
      endpoint_set = set_from_otel("OTEL_EXPORTER_OTLP_ENDPOINT", "exporter.otlp.endpoint", url + "/v1/traces");
      if (endpoint_set && !exporter_from_otel && !chosen_by_user("exporter.type"))
        config.set("exporter.type", std::string("otlp"), "environment OTEL_EXPORTER_OTLP_ENDPOINT");
    }

    if (auto hv = otlp_var("HEADERS")) {
      std::vector<std::string> items;
      std::string why;
      if (decode_key_value_list(hv->second, items, why))
        config.set("exporter.otlp.headers", std::move(items), "environment " + hv->first);
      else
        warn(hv->first, fmt::format("{} is ignored: {}; use key=value pairs separated by commas", hv->first, why));
    }
    if (auto tv = otlp_var("TIMEOUT")) set_from_otel(tv->first, "exporter.otlp.timeout_ms", tv->second);
    if (auto cv = otlp_var("COMPRESSION")) set_from_otel(cv->first, "exporter.otlp.compression", cv->second);
    // The SDKs' batch span processor variables size the collector's batches.
    if (auto v = get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"))
      set_from_otel("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "collector.batch_max_spans", trim(*v));
    if (auto v = get("OTEL_BSP_SCHEDULE_DELAY"))
      set_from_otel("OTEL_BSP_SCHEDULE_DELAY", "collector.batch_max_delay_ms", trim(*v));
    if (auto pv = otlp_var("PROTOCOL"); pv && to_lower(trim(pv->second)) != "http/protobuf")
      warn(pv->first, fmt::format("{}={} is ignored; agent-run sends OTLP as http/protobuf (port 4318 by default)",
                                  pv->first, quote(pv->second)));
  }

  void agent_run() {
    for (const auto& key : keys()) {
      const std::string var(key.env_var);
      auto text = get(var);
      if (!text) continue;
      Value value;
      std::string why = parse_text(key, *text, value);
      if (!why.empty()) {
        errors.push_back(not_allowed("environment " + var, var + "=" + quote(*text), why));
        continue;
      }
      config.set(key.name, std::move(value), "environment " + var);
    }
  }

  void unknown_variables() {
    if (!sources.env_names) return;
    const std::string prefix = "AGENT_RUN_";
    // Built only when there is an unknown variable to suggest a name for.
    std::vector<std::string> known;  // without the prefix, so it does not make everything look close
    for (const auto& name : sources.env_names()) {
      if (name.rfind(prefix, 0) != 0) continue;
      if (find_key_by_env_var(name)) continue;
      if (is_launcher_variable(name)) continue;
      if (known.empty())
        for (const auto& k : keys()) known.emplace_back(k.env_var.substr(prefix.size()));
      std::string message = fmt::format("{} is not an agent-run setting and is ignored", name);
      if (auto best = closest(name.substr(prefix.size()), known))
        message += fmt::format(" (did you mean '{}{}'?)", prefix, *best);
      warn(name, message);
    }
  }
};

}  // namespace

void apply_environment(const Sources& sources, Config& config, std::vector<Diagnostic>& errors,
                       std::vector<Diagnostic>& warnings) {
  if (!sources.env) return;
  EnvLayer layer{sources, config, errors, warnings};
  layer.otel();
  layer.agent_run();
  layer.unknown_variables();
}

}  // namespace detail
}  // namespace agent_run::config
