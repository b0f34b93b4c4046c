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

constexpr std::string_view kLogLevels[] = {"debug", "info", "warning", "error", "off"};
constexpr std::string_view kDbStatement[] = {"sanitized", "raw", "off"};
constexpr std::string_view kExporterTypes[] = {"local", "otlp", "console"};
constexpr std::string_view kCompressions[] = {"gzip", "none"};

template <size_t N>
constexpr Choices choices(const std::string_view (&items)[N]) {
  return Choices{items, N};
}

// One row per key: name, type, default (as TOML), comment, then what the
// type needs. Ints give their default as text (the template prints it) and
// their range; tests check that every default parses and is in range, and
// that env_var is env_var_for(name).
constexpr KeyInfo key_bool(std::string_view name, std::string_view env_var, bool def, std::string_view comment,
                 std::string_view otel = {}) {
  return KeyInfo{name, ValueType::Bool, def ? "true" : "false", comment, {}, 0, INT64_MAX, ValueFormat::Any, otel,
                 env_var};
}

constexpr KeyInfo key_int(std::string_view name, std::string_view env_var, std::string_view def, int64_t min, int64_t max,
                std::string_view comment, std::string_view otel = {}) {
  return KeyInfo{name, ValueType::Int, def, comment, {}, min, max, ValueFormat::Any, otel, env_var};
}

constexpr KeyInfo key_string(std::string_view name, std::string_view env_var, std::string_view def_toml,
                   std::string_view comment, std::string_view otel = {}, ValueFormat format = ValueFormat::Any) {
  return KeyInfo{name, ValueType::String, def_toml, comment, {}, 0, INT64_MAX, format, otel, env_var};
}

constexpr KeyInfo key_enum(std::string_view name, std::string_view env_var, std::string_view def_toml, Choices allowed,
                 std::string_view comment, std::string_view otel = {}) {
  return KeyInfo{name, ValueType::Enum, def_toml, comment, allowed, 0, INT64_MAX, ValueFormat::Any, otel, env_var};
}

constexpr KeyInfo key_list(std::string_view name, std::string_view env_var, std::string_view comment,
                 std::string_view otel = {}, ValueFormat format = ValueFormat::Any) {
  return KeyInfo{name, ValueType::StringList, "[]", comment, {}, 0, INT64_MAX, format, otel, env_var};
}

// Order matters: it is the order of the template and of describe().
// Top-level keys first, then one group per table. Constant-initialized: no
// code runs to build it (the library is also linked into the extension).
constexpr KeyInfo kKeys[] = {
    key_bool("enabled", "AGENT_RUN_ENABLED", true,
             "Run the agent at all; false runs the app untouched. OTEL_SDK_DISABLED=true sets it to false.",
             "OTEL_SDK_DISABLED"),
    key_string("service_name", "AGENT_RUN_SERVICE_NAME", "\"\"",
               "Service name on every span; empty: the program's name.", "OTEL_SERVICE_NAME"),
    key_bool("strict", "AGENT_RUN_STRICT", false,
             "A bad configuration stops the launch (exit 2) instead of running the app without the agent."),
    key_bool("quick_launch", "AGENT_RUN_QUICK_LAUNCH", true,
             "Replay the launcher's decision for a launch identical to an earlier one (arguments, environment, "
             "directory, files) without running the launcher: about 1 ms less per start."),
    key_enum("log_level", "AGENT_RUN_LOG_LEVEL", "\"warning\"", choices(kLogLevels),
             "How much the agent itself logs."),
    key_string("log_file", "AGENT_RUN_LOG_FILE", "\"\"",
               "File for the agent's own log; empty: stderr (the agent never writes to stdout)."),
    key_string("data_dir", "AGENT_RUN_DATA_DIR", "\"\"",
               "Directory for agent-run's files; empty: $XDG_DATA_HOME/agent-run or ~/.local/share/agent-run."),
    key_bool("inherit_subprocesses", "AGENT_RUN_INHERIT_SUBPROCESSES", true,
             "Python programs started by the app get the agent too."),
    key_list("resource_attributes", "AGENT_RUN_RESOURCE_ATTRIBUTES",
             "Extra resource attributes on every span, as \"key=value\" strings.", "OTEL_RESOURCE_ATTRIBUTES",
             ValueFormat::KeyValue),

    key_list("plugins.disabled", "AGENT_RUN_PLUGINS_DISABLED",
             "Built-in plugins not to load, by name, e.g. [\"sqlite3\"]."),
    key_list("plugins.paths", "AGENT_RUN_PLUGINS_PATHS",
             "Python files with your own plugins, loaded after the built-in ones."),
    key_int("plugins.error_limit", "AGENT_RUN_PLUGINS_ERROR_LIMIT", "3", 1, 1000000,
            "Errors a plugin may raise before it is unplugged for the rest of the run."),

    key_int("spans.buffer_bytes", "AGENT_RUN_SPANS_BUFFER_BYTES", "8388608" /* 8 MiB */, 64 * KiB, 1 * GiB,
            "Bytes of finished spans held in the app; when full, new spans are dropped and counted."),
    key_int("spans.max_attributes", "AGENT_RUN_SPANS_MAX_ATTRIBUTES", "128", 1, 10000,
            "Attributes kept per span; further ones are dropped and counted."),
    key_int("spans.max_attribute_length", "AGENT_RUN_SPANS_MAX_ATTRIBUTE_LENGTH", "4096", 16, 1 * MiB,
            "Longest attribute value in bytes; longer values are truncated."),
    key_enum("spans.db_statement", "AGENT_RUN_SPANS_DB_STATEMENT", "\"sanitized\"", choices(kDbStatement),
             "SQL on database spans: literals replaced by '?' (sanitized), as written (raw), or none (off)."),

    key_bool("collector.enabled", "AGENT_RUN_COLLECTOR_ENABLED", true,
             "Run the collector process that receives spans from the app and exports them."),
    key_int("collector.drain_timeout_ms", "AGENT_RUN_COLLECTOR_DRAIN_TIMEOUT_MS", "5000", 0, 600000,
            "At exit, milliseconds allowed for buffered spans to be sent before they are dropped."),
    key_int("collector.flush_interval_ms", "AGENT_RUN_COLLECTOR_FLUSH_INTERVAL_MS", "200", 10, 60000,
            "Longest wait of buffered spans in the app before they are sent to the collector (sooner at 128 KiB)."),
    key_int("collector.batch_max_spans", "AGENT_RUN_COLLECTOR_BATCH_MAX_SPANS", "512", 1, 1000000,
            "Most spans the collector hands its exporters at once: one trace-file line, one OTLP request.",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
    key_int("collector.batch_max_delay_ms", "AGENT_RUN_COLLECTOR_BATCH_MAX_DELAY_MS", "200", 10, 600000,
            "Longest wait of spans in the collector before they are exported (sooner at batch_max_spans).",
            "OTEL_BSP_SCHEDULE_DELAY"),

    key_enum("exporter.type", "AGENT_RUN_EXPORTER_TYPE", "\"local\"", choices(kExporterTypes),
             "Where spans go: local files, an OTLP/HTTP endpoint, or the console. Also set by OTEL_TRACES_EXPORTER "
             "(none turns the agent off) and by an OTLP endpoint variable (selects otlp).",
             "OTEL_TRACES_EXPORTER"),

    key_string("exporter.local.path", "AGENT_RUN_EXPORTER_LOCAL_PATH", "\"\"",
               "Directory for trace files; empty: <data_dir>/traces."),
    key_int("exporter.local.max_file_bytes", "AGENT_RUN_EXPORTER_LOCAL_MAX_FILE_BYTES", "67108864" /* 64 MiB */,
            64 * KiB, 64 * GiB, "A trace file is rotated when it reaches this many bytes."),
    key_int("exporter.local.max_files", "AGENT_RUN_EXPORTER_LOCAL_MAX_FILES", "5", 1, 10000,
            "Rotated trace files kept; older ones are deleted."),

    key_string("exporter.otlp.endpoint", "AGENT_RUN_EXPORTER_OTLP_ENDPOINT", "\"http://127.0.0.1:4318/v1/traces\"",
               "OTLP/HTTP URL spans are sent to. Also set by OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "
               "or OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces appended.",
               "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ValueFormat::HttpUrl),
    key_list("exporter.otlp.headers", "AGENT_RUN_EXPORTER_OTLP_HEADERS",
             "HTTP headers sent with every export, as \"key=value\" strings.", "OTEL_EXPORTER_OTLP_HEADERS",
             ValueFormat::KeyValue),
    key_int("exporter.otlp.timeout_ms", "AGENT_RUN_EXPORTER_OTLP_TIMEOUT_MS", "10000", 1, 600000,
            "Milliseconds one export request may take.", "OTEL_EXPORTER_OTLP_TIMEOUT"),
    key_enum("exporter.otlp.compression", "AGENT_RUN_EXPORTER_OTLP_COMPRESSION", "\"gzip\"",
             choices(kCompressions), "Compression of request bodies.", "OTEL_EXPORTER_OTLP_COMPRESSION"),
    key_int("exporter.otlp.queue_spans", "AGENT_RUN_EXPORTER_OTLP_QUEUE_SPANS", "100000", 1, 100000000,
            "Spans held while the endpoint is slow or down; beyond this, spans are dropped and counted."),
    key_int("exporter.otlp.max_retry_ms", "AGENT_RUN_EXPORTER_OTLP_MAX_RETRY_MS", "30000", 0, 3600000,
            "Longest time a failed export is retried before its spans are dropped."),
};

}  // namespace

KeyList keys() { return KeyList{kKeys, sizeof kKeys / sizeof kKeys[0]}; }

const KeyInfo* find_key(std::string_view name) {
  for (const auto& k : keys())
    if (k.name == name) return &k;
  return nullptr;
}

std::string env_var_for(std::string_view key_name) {
  std::string out = "AGENT_RUN_";
  out.reserve(out.size() + key_name.size());
  // ASCII upper case, what std::toupper does in the "C" locale, without a call per character.
  for (char c : key_name) out += c == '.' ? '_' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  return out;
}

const KeyInfo* find_key_by_env_var(std::string_view variable) {
  for (const auto& k : keys())
    if (k.env_var == variable) return &k;
  return nullptr;
}

std::string option_for(std::string_view key_name) {
  std::string out = "--";
  for (char c : key_name) out += (c == '.' || c == '_') ? '-' : c;
  return out;
}

const std::vector<std::string>& table_names() {
  static const std::vector<std::string> tables = [] {
    std::vector<std::string> out;
    for (const auto& k : keys()) {
      // Every dotted prefix is a table: "exporter.otlp.endpoint" -> exporter, exporter.otlp.
      for (size_t dot = k.name.find('.'); dot != std::string_view::npos; dot = k.name.find('.', dot + 1)) {
        std::string t(k.name.substr(0, dot));
        if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
      }
    }
    return out;
  }();
  return tables;
}

bool is_launcher_variable(std::string_view name) {
  for (const auto& v : kLauncherVariables)
    if (name == v.name) return true;
  return false;
}

}  // namespace agent_run::config
