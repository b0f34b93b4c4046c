#include "collector/options.hpp"

#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>

namespace agent_run::collector {

namespace {

bool to_u64(const std::string& s, uint64_t& out, int base = 10) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, base);
  if (errno || *end || s[0] == '-') return false;
  out = v;
  return true;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t p = s.find(sep, start);
    if (p == std::string::npos) p = s.size();
    std::string item = s.substr(start, p - start);
    if (!item.empty()) out.push_back(item);
    start = p + 1;
  }
  return out;
}

}  // namespace

std::string usage() {
  return "usage: collector --socket=PATH [--listen-fd=N] [--release-stderr=0|1] [--app-pid=N] [--ready-fd=N] [--log=PATH] [--exporter=store|local,otlp,console,none]\n"
         "  [--remove-socket-dir=0|1] [--private-bootstrap=DIR]\n"
         "  [--service-name=S] [--drain-timeout-ms=N] [--data-dir=DIR] [--store-max-file-bytes=N] [--store-max-files=N]\n"
         "  [--otlp-endpoint=URL] [--otlp-traces-endpoint=URL] [--otlp-timeout-ms=N] [--otlp-compression=gzip|none]\n"
         "  [--otlp-queue-spans=N] [--otlp-max-retry-ms=N] [--otlp-backoff-max-ms=N] [--console-path=PATH] [--batch-max-spans=N] [--batch-max-delay-ms=N]\n"
         "  environment: AGENT_RUN_COLLECTOR_OTLP_HEADERS=k=v,k2=v2\n";
}

std::optional<Options> parse_options(int argc, char** argv, std::string& error) {
  Options o;
  if (const char* h = std::getenv("AGENT_RUN_COLLECTOR_OTLP_HEADERS")) o.otlp_headers = h;
  using Setter = std::function<bool(const std::string&)>;
  auto u32 = [](uint32_t& field) {
    return Setter([&field](const std::string& v) {
      uint64_t x;
      if (!to_u64(v, x) || x > 0xffffffffu) return false;
      field = uint32_t(x);
      return true;
    });
  };
  auto u64 = [](uint64_t& field) { return Setter([&field](const std::string& v) { return to_u64(v, field); }); };
  auto str = [](std::string& field) {
    return Setter([&field](const std::string& v) {
      field = v;
      return true;
    });
  };
  std::map<std::string, Setter> setters = {
      {"socket", str(o.socket_path)},
      {"socket-mode", Setter([&](const std::string& v) {
         uint64_t x;
         if (!to_u64(v, x, 8) || x > 0777) return false;
         o.socket_mode = int(x);
         return true;
       })},
      {"app-pid", Setter([&](const std::string& v) {
         uint64_t x;
         if (!to_u64(v, x) || x > 0x7fffffff) return false;
         o.app_pid = int(x);
         return true;
       })},
      {"listen-fd", Setter([&](const std::string& v) {
         uint64_t x;
         if (!to_u64(v, x) || x > 65535) return false;
         o.listen_fd = int(x);
         return true;
       })},
      {"release-stderr", Setter([&](const std::string& v) {
         if (v != "0" && v != "1") return false;
         o.release_stderr = v == "1";
         return true;
       })},
      {"ready-fd", Setter([&](const std::string& v) {
         uint64_t x;
         if (!to_u64(v, x) || x > 65535) return false;
         o.ready_fd = int(x);
         return true;
       })},
      {"log", str(o.log_path)},
      {"remove-socket-dir", Setter([&](const std::string& v) {
         if (v != "0" && v != "1") return false;
         o.remove_socket_dir = v == "1";
         return true;
       })},
      {"private-bootstrap", str(o.private_bootstrap)},
      {"service-name", str(o.service_name)},
      {"exporter", Setter([&](const std::string& v) {
         o.exporters = split(v, ',');
         for (auto& e : o.exporters) {
           if (e == "local") e = "store";
           if (e != "store" && e != "otlp" && e != "console" && e != "none") return false;
         }
         return true;
       })},
      {"drain-timeout-ms", u32(o.drain_timeout_ms)},
      {"batch-max-spans", u32(o.batch_max_spans)},
      {"batch-max-delay-ms", u32(o.batch_max_delay_ms)},
      {"data-dir", str(o.data_dir)},
      {"store-max-file-bytes", u64(o.store_max_file_bytes)},
      {"store-max-files", u32(o.store_max_files)},
      {"otlp-endpoint", str(o.otlp_endpoint)},
      {"otlp-traces-endpoint", str(o.otlp_traces_endpoint)},
      {"otlp-timeout-ms", u32(o.otlp_timeout_ms)},
      {"otlp-compression", Setter([&](const std::string& v) {
         if (v != "gzip" && v != "none") return false;
         o.otlp_compression = v;
         return true;
       })},
      {"otlp-queue-spans", u64(o.otlp_queue_spans)},
      {"otlp-max-request-spans", u32(o.otlp_max_request_spans)},
      {"otlp-retry-initial-ms", u32(o.otlp_retry_initial_ms)},
      {"otlp-backoff-max-ms", u32(o.otlp_backoff_max_ms)},
      {"otlp-max-retry-ms", u32(o.otlp_max_retry_ms)},
      {"console-path", str(o.console_path)},
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      error = "unexpected argument: " + a;
      return std::nullopt;
    }
    size_t eq = a.find('=');
    std::string key = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    std::string value = eq == std::string::npos ? std::string() : a.substr(eq + 1);
    auto it = setters.find(key);
    if (it == setters.end()) {
      error = "unknown option --" + key;
      return std::nullopt;
    }
    if (eq == std::string::npos || !it->second(value)) {
      error = "bad value for --" + key + ": '" + value + "'";
      return std::nullopt;
    }
  }
  if (o.socket_path.empty()) {
    error = "--socket is required";
    return std::nullopt;
  }
  if (o.batch_max_spans == 0) o.batch_max_spans = 1;
  if (o.otlp_max_request_spans == 0) o.otlp_max_request_spans = 1;
  return o;
}

}  // namespace agent_run::collector
