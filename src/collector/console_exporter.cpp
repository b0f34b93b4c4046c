// Console exporter: one human-readable line per span, for debugging. Written
// to --console-path, or to the collector's log (never the app's stdout: the
// collector does not hold the app's terminal).
#include <fmt/format.h>

#include <cstdio>
#include <cstring>

#include "collector/exporter.hpp"
#include "collector/log.hpp"
#include "collector/otlp_json.hpp"

namespace agent_run::collector {

namespace {

const char* kind_name(wire::SpanKind k) {
  switch (k) {
    case wire::SpanKind::Internal: return "internal";
    case wire::SpanKind::Server: return "server";
    case wire::SpanKind::Client: return "client";
    case wire::SpanKind::Producer: return "producer";
    case wire::SpanKind::Consumer: return "consumer";
    default: return "unspecified";
  }
}

void append_attr_value(std::string& out, const wire::AttributeValue& v) {
  switch (v.index()) {
    case 0: append_json_string(out, std::get<std::string>(v)); break;
    case 1: fmt::format_to(std::back_inserter(out), "{}", std::get<int64_t>(v)); break;
    case 2: fmt::format_to(std::back_inserter(out), "{}", std::get<double>(v)); break;
    default: out += std::get<bool>(v) ? "true" : "false"; break;
  }
}

class ConsoleExporter : public Exporter {
 public:
  explicit ConsoleExporter(FILE* f, bool owned) : f_(f), owned_(owned) {}
  ~ConsoleExporter() override {
    if (owned_ && f_) std::fclose(f_);
  }
  const char* name() const override { return "console"; }

  void export_batch(SpanBatch&& batch) override {
    std::string out;
    static const uint8_t zero[8] = {};
    wire::Span s;
    for (size_t i = 0; i < batch.size(); ++i) {
      batch.decode(i, s);
      const ResourceInfo& r = *batch.resources[batch.resource_of(i)];
      double ms = s.end_unix_nano >= s.start_unix_nano ? double(s.end_unix_nano - s.start_unix_nano) / 1e6 : 0.0;
      fmt::format_to(std::back_inserter(out), "span {} [{} pid {}] {} {:.3f} ms trace=", s.name, r.service_name, r.pid,
                     kind_name(s.kind), ms);
      append_hex(out, s.trace_id, 16);
      out += " span=";
      append_hex(out, s.span_id, 8);
      if (std::memcmp(s.parent_span_id, zero, 8) != 0) {
        out += " parent=";
        append_hex(out, s.parent_span_id, 8);
      }
      if (s.status_code == wire::StatusCode::Error) {
        out += " status=ERROR";
        if (!s.status_message.empty()) {
          out += ' ';
          append_json_string(out, s.status_message);
        }
      } else if (s.status_code == wire::StatusCode::Ok) {
        out += " status=OK";
      }
      for (const auto& a : s.attributes) {
        out += ' ';
        out += a.key;
        out += '=';
        append_attr_value(out, a.value);
      }
      for (const auto& e : s.events) {
        out += " event:";
        append_json_string(out, e.name);
      }
      out += '\n';
    }
    if (f_) {
      std::fwrite(out.data(), 1, out.size(), f_);
      std::fflush(f_);
    }
    stats_.exported_spans += batch.size();
    stats_.requests++;
  }

  void shutdown(uint64_t) override {
    if (f_) std::fflush(f_);
  }
  ExporterStats stats() const override { return stats_; }

 private:
  FILE* f_;
  bool owned_;
  ExporterStats stats_;
};

}  // namespace

std::unique_ptr<Exporter> make_console_exporter(const Options& o, std::string& error) {
  if (!o.console_path.empty()) {
    FILE* f = std::fopen(o.console_path.c_str(), "ae");
    if (!f) {
      error = "console exporter: cannot open " + o.console_path + ": " + std::strerror(errno);
      return nullptr;
    }
    return std::make_unique<ConsoleExporter>(f, true);
  }
  return std::make_unique<ConsoleExporter>(Log::get().file(), false);
}

}  // namespace agent_run::collector
