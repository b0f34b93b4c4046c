// The one table of configuration keys. The template, the docs test, the
// environment variable names and all validation come from here, so a key
// added here is everywhere at once.
#include <algorithm>
#include <cctype>
#include <utility>

#include "config/config.hpp"
#include "config/internal.hpp"

namespace agent_run::config {
namespace {

constexpr int64_t KiB = 1024;
constexpr int64_t MiB = 1024 * KiB;
constexpr int64_t GiB = 1024 * MiB;

KeyInfo make_key(const char* name, ValueType type, std::string def, const char* comment, const char* otel) {
  KeyInfo k{};
  k.name = name;
  k.type = type;
  k.default_value = std::move(def);
  k.comment = comment;
  k.otel_env = otel;
  k.env_var = env_var_for(k.name);
  return k;
}

KeyInfo key_bool(const char* name, bool def, const char* comment, const char* otel = "") {
  return make_key(name, ValueType::Bool, def ? "true" : "false", comment, otel);
}

KeyInfo key_int(const char* name, int64_t def, int64_t min, int64_t max, const char* comment,
                const char* otel = "") {
  KeyInfo k = make_key(name, ValueType::Int, std::to_string(def), comment, otel);
  k.min = min;
  k.max = max;
  return k;
}

KeyInfo key_string(const char* name, const char* def, const char* comment, const char* otel = "",
                   ValueFormat format = ValueFormat::Any) {
  KeyInfo k = make_key(name, ValueType::String, detail::quote(def), comment, otel);
  k.format = format;
  return k;
}

KeyInfo key_enum(const char* name, const char* def, std::vector<std::string> allowed,
                 const char* comment, const char* otel = "") {
  KeyInfo k = make_key(name, ValueType::Enum, detail::quote(def), comment, otel);
  k.allowed = std::move(allowed);
  return k;
}

KeyInfo key_list(const char* name, const char* comment, const char* otel = "",
                 ValueFormat format = ValueFormat::Any) {
  KeyInfo k = make_key(name, ValueType::StringList, "[]", comment, otel);
  k.format = format;
  return k;
}

std::vector<KeyInfo> build_keys() {
  // Order matters: it is the order of the template and of describe().
  // Top-level keys first, then one group per table.
  std::vector<KeyInfo> table;
  table.reserve(28);
  // One statement per key, so that one key at a time is on the stack (a
  // braced list would hold every key there at once, and then copy each).
  auto add = [&table](KeyInfo k) { table.push_back(std::move(k)); };
  add(key_bool("enabled", true,
               "Run the agent at all; false runs the app untouched. OTEL_SDK_DISABLED=true sets it to false.",
               "OTEL_SDK_DISABLED"));
  add(key_string("service_name", "",
                 "Service name on every span; empty: the program's name.",
                 "OTEL_SERVICE_NAME"));
  add(key_bool("strict", false,
               "A bad configuration stops the launch (exit 2) instead of running the app without the agent."));
  add(key_enum("log_level", "warning", {"debug", "info", "warning", "error", "off"},
               "How much the agent itself logs."));
  add(key_string("log_file", "",
                 "File for the agent's own log; empty: stderr (the agent never writes to stdout)."));
  add(key_string("data_dir", "",
                 "Directory for agent-run's files; empty: $XDG_DATA_HOME/agent-run or ~/.local/share/agent-run."));
  add(key_bool("inherit_subprocesses", true,
               "Python programs started by the app get the agent too."));
  add(key_list("resource_attributes",
               "Extra resource attributes on every span, as \"key=value\" strings.",
               "OTEL_RESOURCE_ATTRIBUTES", ValueFormat::KeyValue));

  add(key_list("plugins.disabled",
               "Built-in plugins not to load, by name, e.g. [\"sqlite3\"]."));
  add(key_list("plugins.paths",
               "Python files with your own plugins, loaded after the built-in ones."));
  add(key_int("plugins.error_limit", 3, 1, 1000000,
              "Errors a plugin may raise before it is unplugged for the rest of the run."));

  add(key_int("spans.buffer_bytes", 8 * MiB, 64 * KiB, 1 * GiB,
              "Bytes of finished spans held in the app; when full, new spans are dropped and counted."));
  add(key_int("spans.max_attributes", 128, 1, 10000,
              "Attributes kept per span; further ones are dropped and counted."));
  add(key_int("spans.max_attribute_length", 4096, 16, 1 * MiB,
              "Longest attribute value in bytes; longer values are truncated."));
  add(key_enum("spans.db_statement", "sanitized", {"sanitized", "raw", "off"},
               "SQL on database spans: literals replaced by '?' (sanitized), as written (raw), or none (off)."));

  add(key_bool("collector.enabled", true,
               "Run the collector process that receives spans from the app and exports them."));
  add(key_int("collector.drain_timeout_ms", 5000, 0, 600000,
              "At exit, milliseconds allowed for buffered spans to be sent before they are dropped."));
  add(key_int("collector.flush_interval_ms", 200, 10, 60000,
              "Milliseconds between sends of buffered spans from the app to the collector."));

  add(key_enum("exporter.type", "local", {"local", "otlp", "console"},
               "Where spans go: local files, an OTLP/HTTP endpoint, or the console. Also set by OTEL_TRACES_EXPORTER "
               "(none turns the agent off) and by an OTLP endpoint variable (selects otlp).",
               "OTEL_TRACES_EXPORTER"));

  add(key_string("exporter.local.path", "",
                 "Directory for trace files; empty: <data_dir>/traces."));
  add(key_int("exporter.local.max_file_bytes", 64 * MiB, 64 * KiB, 64 * GiB,
              "A trace file is rotated when it reaches this many bytes."));
  add(key_int("exporter.local.max_files", 5, 1, 10000,
              "Rotated trace files kept; older ones are deleted."));

  add(key_string("exporter.otlp.endpoint", "http://127.0.0.1:4318/v1/traces",
                 "OTLP/HTTP URL spans are sent to. Also set by OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "
                 "or OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces appended.",
                 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ValueFormat::HttpUrl));
  add(key_list("exporter.otlp.headers",
               "HTTP headers sent with every export, as \"key=value\" strings.",
               "OTEL_EXPORTER_OTLP_HEADERS", ValueFormat::KeyValue));
  add(key_int("exporter.otlp.timeout_ms", 10000, 1, 600000,
              "Milliseconds one export request may take.",
              "OTEL_EXPORTER_OTLP_TIMEOUT"));
  add(key_enum("exporter.otlp.compression", "gzip", {"gzip", "none"},
               "Compression of request bodies.",
               "OTEL_EXPORTER_OTLP_COMPRESSION"));
  add(key_int("exporter.otlp.queue_spans", 100000, 1, 100000000,
              "Spans held while the endpoint is slow or down; beyond this, spans are dropped and counted."));
  add(key_int("exporter.otlp.max_retry_ms", 30000, 0, 3600000,
              "Longest time a failed export is retried before its spans are dropped."));
  return table;
}

}  // namespace

const std::vector<KeyInfo>& keys() {
  // Built on first use, not at load time: no global constructors.
  static const std::vector<KeyInfo> table = build_keys();
  return table;
}

const KeyInfo* find_key(const std::string& name) {
  for (const auto& k : keys())
    if (k.name == name) return &k;
  return nullptr;
}

std::string env_var_for(const std::string& key_name) {
  std::string out = "AGENT_RUN_";
  out.reserve(out.size() + key_name.size());
  // ASCII upper case, what std::toupper does in the "C" locale, without a call per character.
  for (char c : key_name) out += c == '.' ? '_' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  return out;
}

const KeyInfo* find_key_by_env_var(const std::string& variable) {
  for (const auto& k : keys())
    if (k.env_var == variable) return &k;
  return nullptr;
}

std::string option_for(const std::string& key_name) {
  std::string out = "--";
  for (char c : key_name) out += (c == '.' || c == '_') ? '-' : c;
  return out;
}

const std::vector<std::string>& table_names() {
  static const std::vector<std::string> tables = [] {
    std::vector<std::string> out;
    for (const auto& k : keys()) {
      // Every dotted prefix is a table: "exporter.otlp.endpoint" -> exporter, exporter.otlp.
      for (size_t dot = k.name.find('.'); dot != std::string::npos; dot = k.name.find('.', dot + 1)) {
        std::string t = k.name.substr(0, dot);
        if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
      }
    }
    return out;
  }();
  return tables;
}

const std::vector<std::string>& launcher_variables() {
  static const std::vector<std::string> vars = {
      "AGENT_RUN_CONFIG",           "AGENT_RUN_BOOTSTRAP", "AGENT_RUN_ORIG_PYTHONPATH",
      "AGENT_RUN_COLLECTOR_SOCKET", "AGENT_RUN_VERSION",   "AGENT_RUN_LAUNCHER_PID",
  };
  return vars;
}

}  // namespace agent_run::config
