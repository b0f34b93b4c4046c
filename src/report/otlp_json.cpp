#include "report/otlp_json.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "report/json_events.hpp"

namespace agent_run::report {

namespace {

using namespace std::string_view_literals;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;  // OTLP/JSON ids are case-insensitive hex
  return -1;
}

bool parse_hex64(std::string_view s, uint64_t& out) {
  uint64_t v = 0;
  for (char c : s) {
    const int d = hex_digit(c);
    if (d < 0) return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  out = v;
  return true;
}

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// OTLP/JSON requires enums as integers; the proto names are accepted too
// because some older exporters wrote them.
int kind_from_name(std::string_view s) {
  if (s == "SPAN_KIND_INTERNAL") return kKindInternal;
  if (s == "SPAN_KIND_SERVER") return kKindServer;
  if (s == "SPAN_KIND_CLIENT") return kKindClient;
  if (s == "SPAN_KIND_PRODUCER") return kKindProducer;
  if (s == "SPAN_KIND_CONSUMER") return kKindConsumer;
  if (s == "SPAN_KIND_UNSPECIFIED") return kKindUnspecified;
  return -1;
}

int status_from_name(std::string_view s) {
  if (s == "STATUS_CODE_UNSET") return kStatusUnset;
  if (s == "STATUS_CODE_OK") return kStatusOk;
  if (s == "STATUS_CODE_ERROR") return kStatusError;
  return -1;
}

// Where the parser is. Attribute lists (resource, span, event) share KvList /
// Kv / AnyValue; `kv_owner_` says whose they are. Unknown subtrees are Skip.
enum class Ctx : uint8_t {
  Top,
  ResourceSpansArr, ResourceSpans, Resource,
  ScopeSpansArr, ScopeSpans,
  SpansArr, Span, Status, EventsArr, Event,
  KvList, Kv, AnyValue,
  Stats, PluginsArr, Plugin,
  Skip,
};

// The field named by the last key, resolved once per key.
enum class Field : uint8_t {
  Unknown,
  ResourceSpans, AgentRunStats,
  Resource, ScopeSpans, Attributes, Spans,
  TraceId, SpanId, ParentSpanId, Name, Kind, StartTime, EndTime, Events, Status,
  Code, Message,
  Key, Value, StringValue, IntValue, BoolValue, DoubleValue,
  Service, Pid, DroppedSpans, DroppedPart, Plugins, State, Errors, Calls, LastError,
};

enum class Owner : uint8_t { Resource, Span, Event };

class Handler {
 public:
  using string_t = std::string;
  using number_integer_t = int64_t;
  using number_unsigned_t = uint64_t;
  using number_float_t = double;

  Handler(ParsedLine& out, std::string& error) : out_(out), error_(error) { stack_.reserve(16); }

  bool seen_payload() const { return seen_payload_; }

  bool null() { return scalar_ok(); }  // null = field absent, wherever it is
  bool boolean(bool v) {
    if (ctx() == Ctx::AnyValue && field_ == Field::BoolValue) {
      kv_value_ = v ? "true" : "false";
      kv_has_value_ = true;
      return true;
    }
    return scalar_ok();
  }
  bool number_integer(number_integer_t v) { return number(static_cast<int64_t>(v), v >= 0, static_cast<uint64_t>(v)); }
  bool number_unsigned(number_unsigned_t v) { return number(v <= INT64_MAX ? static_cast<int64_t>(v) : INT64_MAX, true, v); }
  bool number_float(number_float_t, const string_t& raw) {
    if (ctx() == Ctx::AnyValue && field_ == Field::DoubleValue) {
      kv_value_ = raw;
      kv_has_value_ = true;
      return true;
    }
    return scalar_ok();
  }

  bool string(string_t& v) {
    switch (ctx()) {
      case Ctx::Span: return span_string(v);
      case Ctx::Status:
        if (field_ == Field::Message) span().status_message = std::move(v);
        else if (field_ == Field::Code) {
          const int c = status_from_name(v);
          if (c < 0) return fail(fmt::format("unknown status code \"{}\"", v));
          span().status_code = c;
        }
        return true;
      case Ctx::Kv:
        if (field_ == Field::Key) kv_key_ = std::move(v);
        return true;
      case Ctx::AnyValue:
        if (field_ == Field::StringValue || field_ == Field::IntValue) {
          kv_value_ = std::move(v);  // intValue is a decimal string in OTLP/JSON (64-bit)
          kv_has_value_ = true;
        }
        return true;
      case Ctx::Event:
        if (field_ == Field::Name) event_name_ = std::move(v);
        return true;
      case Ctx::Stats:
      case Ctx::Plugin:
        return stats_string(v);
      default: return scalar_ok();
    }
  }

  bool key(string_t& k) {
    field_ = resolve(ctx(), k);
    return true;
  }

  bool start_object(std::size_t) {
    if (stack_.empty()) return push(Ctx::Top);
    switch (ctx()) {
      case Ctx::Skip: ++skip_depth_; return true;
      case Ctx::Top:
        if (field_ == Field::AgentRunStats) {
          seen_payload_ = true;
          out_.stats.emplace_back();
          dropped_parts_ = 0;
          has_dropped_parts_ = false;
          return push(Ctx::Stats);
        }
        if (field_ == Field::ResourceSpans) return fail("resourceSpans must be an array");
        return skip();
      case Ctx::ResourceSpansArr:
        resource_first_span_ = out_.spans.size();
        resource_service_.clear();
        return push(Ctx::ResourceSpans);
      case Ctx::ResourceSpans:
        if (field_ == Field::Resource) return push(Ctx::Resource);
        if (field_ == Field::ScopeSpans) return fail("scopeSpans must be an array");
        return skip();
      case Ctx::ScopeSpansArr: return push(Ctx::ScopeSpans);
      case Ctx::ScopeSpans:
        if (field_ == Field::Spans) return fail("spans must be an array");
        return skip();  // scope: name and version are not reported
      case Ctx::SpansArr:
        out_.spans.emplace_back();
        has_trace_id_ = has_span_id_ = has_start_ = has_end_ = false;
        return push(Ctx::Span);
      case Ctx::Span:
        if (field_ == Field::Status) return push(Ctx::Status);
        if (field_ == Field::Attributes || field_ == Field::Events) return fail("span attributes and events must be arrays");
        return skip();
      case Ctx::EventsArr:
        event_name_.clear();
        exc_type_.clear();
        exc_message_.clear();
        return push(Ctx::Event);
      case Ctx::KvList:
        kv_key_.clear();
        kv_value_.clear();
        kv_has_value_ = false;
        return push(Ctx::Kv);
      case Ctx::Kv:
        if (field_ == Field::Value) return push(Ctx::AnyValue);
        return skip();
      case Ctx::PluginsArr:
        out_.stats.back().plugins.emplace_back();
        return push(Ctx::Plugin);
      case Ctx::Resource:
      case Ctx::Status:
      case Ctx::Event:
      case Ctx::AnyValue:  // arrayValue / kvlistValue: not needed by the report
      case Ctx::Stats:
      case Ctx::Plugin:
        if (field_ == Field::Attributes || field_ == Field::Plugins) return fail("attributes and plugins must be arrays");
        return skip();
    }
    return skip();
  }

  bool end_object() {
    switch (ctx()) {
      case Ctx::Skip: return unskip();
      case Ctx::Top:
        if (!seen_payload_) return fail("neither resourceSpans nor agentRunStats");
        break;
      case Ctx::ResourceSpans:
        // The resource may come before or after its spans: name them now.
        for (size_t i = resource_first_span_; i < out_.spans.size(); ++i) out_.spans[i].service = resource_service_;
        break;
      case Ctx::Span:
        if (!has_trace_id_) return fail("span without a valid traceId (32 hex digits)");
        if (!has_span_id_) return fail("span without a valid spanId (16 hex digits)");
        if (!has_start_ || !has_end_) return fail("span without startTimeUnixNano / endTimeUnixNano");
        break;
      case Ctx::Kv: end_kv(); break;
      case Ctx::Stats: {
        auto& st = out_.stats.back();
        if (!st.has_dropped_spans && has_dropped_parts_) {
          st.dropped_spans = dropped_parts_;
          st.has_dropped_spans = true;
        }
        break;
      }
      case Ctx::Event:
        if (event_name_ == "exception" && span().exception.empty()) {
          auto& e = span().exception;
          e = exc_type_;
          if (!exc_message_.empty()) e += (e.empty() ? "" : ": ") + exc_message_;
          if (e.empty()) e = "exception";
        }
        break;
      default: break;
    }
    stack_.pop_back();
    return true;
  }

  bool start_array(std::size_t) {
    if (stack_.empty()) return fail("a JSON array, not an object");
    switch (ctx()) {
      case Ctx::Skip: ++skip_depth_; return true;
      case Ctx::Top:
        if (field_ == Field::ResourceSpans) {
          seen_payload_ = true;
          return push(Ctx::ResourceSpansArr);
        }
        if (field_ == Field::AgentRunStats) return fail("agentRunStats must be an object");
        return skip();
      case Ctx::ResourceSpans:
        if (field_ == Field::ScopeSpans) return push(Ctx::ScopeSpansArr);
        if (field_ == Field::Resource) return fail("resource must be an object");
        return skip();
      case Ctx::Resource:
        if (field_ == Field::Attributes) return push_kv_list(Owner::Resource);
        return skip();
      case Ctx::ScopeSpans:
        if (field_ == Field::Spans) return push(Ctx::SpansArr);
        return skip();
      case Ctx::Span:
        if (field_ == Field::Attributes) return push_kv_list(Owner::Span);
        if (field_ == Field::Events) return push(Ctx::EventsArr);
        if (field_ == Field::Status) return fail("status must be an object");
        return skip();
      case Ctx::Event:
        if (field_ == Field::Attributes) return push_kv_list(Owner::Event);
        return skip();
      case Ctx::Stats:
        if (field_ == Field::Plugins) return push(Ctx::PluginsArr);
        return skip();
      case Ctx::Kv:
      case Ctx::AnyValue:
      case Ctx::Status:
      case Ctx::Plugin: return skip();
      default: return fail("unexpected array inside an array");
    }
  }

  bool end_array() {
    if (ctx() == Ctx::Skip) return unskip();
    stack_.pop_back();
    return true;
  }

 private:
  Ctx ctx() const { return stack_.empty() ? Ctx::Top : stack_.back(); }
  bool push(Ctx c) {
    stack_.push_back(c);
    return true;
  }
  bool skip() {
    skip_depth_ = 1;
    return push(Ctx::Skip);
  }
  bool unskip() {
    if (--skip_depth_ == 0) stack_.pop_back();
    return true;
  }
  bool push_kv_list(Owner o) {
    kv_owner_ = o;
    return push(Ctx::KvList);
  }
  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }
  // A scalar where the report needs nothing: fine unless it stands where a
  // container is required.
  bool scalar_ok() {
    switch (ctx()) {
      case Ctx::ResourceSpansArr: case Ctx::ScopeSpansArr: case Ctx::SpansArr: case Ctx::EventsArr:
      case Ctx::KvList: case Ctx::PluginsArr:
        return fail("an array holds a value where objects are expected");
      default: break;
    }
    if (stack_.empty()) return fail("a JSON value, not an object");
    switch (field_) {
      case Field::ResourceSpans: case Field::ScopeSpans: case Field::Spans: case Field::Attributes:
      case Field::Events: case Field::Plugins:
        if (ctx() != Ctx::Skip && ctx() != Ctx::AnyValue && ctx() != Ctx::Kv) return fail("a list field holds a scalar");
        break;
      default: break;
    }
    return true;
  }

  SpanRecord& span() { return out_.spans.back(); }

  bool span_string(string_t& v) {
    auto& s = span();
    switch (field_) {
      case Field::TraceId:
        if (v.size() != 32 || !parse_hex64(std::string_view(v).substr(0, 16), s.trace_id.hi) ||
            !parse_hex64(std::string_view(v).substr(16), s.trace_id.lo))
          return fail(fmt::format("traceId \"{}\" is not 32 hex digits", v));
        has_trace_id_ = s.trace_id != TraceId{};
        return true;
      case Field::SpanId:
        if (v.size() != 16 || !parse_hex64(v, s.span_id)) return fail(fmt::format("spanId \"{}\" is not 16 hex digits", v));
        has_span_id_ = s.span_id != 0;
        return true;
      case Field::ParentSpanId:
        if (v.empty()) return true;
        if (v.size() != 16 || !parse_hex64(v, s.parent_span_id))
          return fail(fmt::format("parentSpanId \"{}\" is not 16 hex digits", v));
        return true;
      case Field::Name: s.name = std::move(v); return true;
      case Field::Kind: {
        const int k = kind_from_name(v);
        if (k < 0) return fail(fmt::format("unknown span kind \"{}\"", v));
        s.kind = k;
        return true;
      }
      case Field::StartTime:
        if (!parse_u64(v, s.start_unix_nano)) return fail("startTimeUnixNano is not an unsigned integer");
        has_start_ = true;
        return true;
      case Field::EndTime:
        if (!parse_u64(v, s.end_unix_nano)) return fail("endTimeUnixNano is not an unsigned integer");
        has_end_ = true;
        return true;
      default: return true;
    }
  }

  // Counters may come as decimal strings, as OTLP/JSON writes 64-bit integers.
  bool stats_string(string_t& v) {
    switch (field_) {
      case Field::Pid:
      case Field::DroppedSpans:
      case Field::DroppedPart:
      case Field::Errors:
      case Field::Calls: {
        uint64_t n;
        if (!parse_u64(v, n)) return fail(fmt::format("agentRunStats: \"{}\" is not a count", v));
        return number(n <= INT64_MAX ? static_cast<int64_t>(n) : INT64_MAX, true, n);
      }
      default: break;
    }
    if (ctx() == Ctx::Stats) {
      if (field_ == Field::Service) out_.stats.back().service = std::move(v);
      return true;
    }
    auto& p = out_.stats.back().plugins.back();
    if (field_ == Field::Name) p.name = std::move(v);
    else if (field_ == Field::State) p.state = std::move(v);
    else if (field_ == Field::LastError) p.last_error = std::move(v);
    return true;
  }

  bool number(int64_t sv, bool non_negative, uint64_t uv) {
    switch (ctx()) {
      case Ctx::Span:
        switch (field_) {
          case Field::Kind: span().kind = static_cast<int>(sv); return true;
          // uint64 is a string in OTLP/JSON, but a number is unambiguous.
          case Field::StartTime:
            if (!non_negative) return fail("negative startTimeUnixNano");
            span().start_unix_nano = uv;
            has_start_ = true;
            return true;
          case Field::EndTime:
            if (!non_negative) return fail("negative endTimeUnixNano");
            span().end_unix_nano = uv;
            has_end_ = true;
            return true;
          case Field::TraceId: case Field::SpanId: case Field::ParentSpanId: case Field::Name:
            return fail("span ids and name must be strings");
          default: return true;
        }
      case Ctx::Status:
        if (field_ == Field::Code) span().status_code = static_cast<int>(sv);
        return true;
      case Ctx::AnyValue:
        if (field_ == Field::IntValue) {
          kv_value_ = std::to_string(sv);
          kv_has_value_ = true;
        }
        return true;
      case Ctx::Stats: {
        auto& st = out_.stats.back();
        if (field_ == Field::Pid) st.pid = sv;
        else if (field_ == Field::DroppedSpans) {
          if (!non_negative) return fail("negative dropped_spans");
          st.dropped_spans = uv;
          st.has_dropped_spans = true;
        } else if (field_ == Field::DroppedPart) {
          if (!non_negative) return fail("negative dropped span count");
          dropped_parts_ += uv;
          has_dropped_parts_ = true;
        }
        return true;
      }
      case Ctx::Plugin: {
        auto& p = out_.stats.back().plugins.back();
        if (field_ == Field::Errors) p.errors = non_negative ? uv : 0;
        else if (field_ == Field::Calls) p.calls = non_negative ? uv : 0;
        return true;
      }
      default: return scalar_ok();
    }
  }

  void end_kv() {
    if (!kv_has_value_) return;
    const std::string_view key = kv_key_;
    switch (kv_owner_) {
      case Owner::Resource:
        if (key == "service.name"sv) resource_service_ = std::move(kv_value_);
        break;
      case Owner::Span: {
        auto& s = span();
        // Both the classic and the current semantic-convention names.
        if (key == "db.statement"sv || key == "db.query.text"sv) s.db_statement = std::move(kv_value_);
        else if (key == "db.operation"sv || key == "db.operation.name"sv) s.db_operation = std::move(kv_value_);
        else if (key == "db.system"sv || key == "db.system.name"sv) s.db_system = std::move(kv_value_);
        break;
      }
      case Owner::Event:
        if (key == "exception.type"sv) exc_type_ = std::move(kv_value_);
        else if (key == "exception.message"sv) exc_message_ = std::move(kv_value_);
        break;
    }
  }

  static Field resolve(Ctx c, std::string_view k) {
    // string_view literals: the lengths are known at compile time, no strlen per key.
    switch (c) {
      case Ctx::Top:
        if (k == "resourceSpans"sv) return Field::ResourceSpans;
        if (k == "agentRunStats"sv) return Field::AgentRunStats;
        break;
      case Ctx::ResourceSpans:
        if (k == "resource"sv) return Field::Resource;
        if (k == "scopeSpans"sv) return Field::ScopeSpans;
        break;
      case Ctx::Resource:
      case Ctx::Event:
        if (k == "attributes"sv) return Field::Attributes;
        if (k == "name"sv) return Field::Name;
        break;
      case Ctx::ScopeSpans:
        if (k == "spans"sv) return Field::Spans;
        break;
      case Ctx::Span:
        // Spans are most of the store: dispatch on length before comparing.
        switch (k.size()) {
          case 4:
            if (k == "name"sv) return Field::Name;
            if (k == "kind"sv) return Field::Kind;
            break;
          case 6:
            if (k == "spanId"sv) return Field::SpanId;
            if (k == "status"sv) return Field::Status;
            if (k == "events"sv) return Field::Events;
            break;
          case 7:
            if (k == "traceId"sv) return Field::TraceId;
            break;
          case 10:
            if (k == "attributes"sv) return Field::Attributes;
            break;
          case 12:
            if (k == "parentSpanId"sv) return Field::ParentSpanId;
            break;
          case 15:
            if (k == "endTimeUnixNano"sv) return Field::EndTime;
            break;
          case 17:
            if (k == "startTimeUnixNano"sv) return Field::StartTime;
            break;
          default: break;
        }
        break;
      case Ctx::Status:
        if (k == "code"sv) return Field::Code;
        if (k == "message"sv) return Field::Message;
        break;
      case Ctx::Kv:
        if (k == "key"sv) return Field::Key;
        if (k == "value"sv) return Field::Value;
        break;
      case Ctx::AnyValue:
        if (k == "stringValue"sv) return Field::StringValue;
        if (k == "intValue"sv) return Field::IntValue;
        if (k == "boolValue"sv) return Field::BoolValue;
        if (k == "doubleValue"sv) return Field::DoubleValue;
        break;
      case Ctx::Stats:
        if (k == "service"sv) return Field::Service;
        if (k == "pid"sv) return Field::Pid;
        if (k == "dropped_spans"sv) return Field::DroppedSpans;
        // The per-cause counters of the wire protocol's STATS message, should
        // the collector write those instead of one total.
        if (k == "dropped_buffer_full"sv || k == "dropped_no_collector"sv || k == "dropped_too_large"sv)
          return Field::DroppedPart;
        if (k == "plugins"sv) return Field::Plugins;
        break;
      case Ctx::Plugin:
        if (k == "name"sv) return Field::Name;
        if (k == "state"sv) return Field::State;
        if (k == "errors"sv) return Field::Errors;
        if (k == "calls"sv) return Field::Calls;
        if (k == "last_error"sv) return Field::LastError;
        break;
      default: break;
    }
    return Field::Unknown;
  }

  ParsedLine& out_;
  std::string& error_;
  std::vector<Ctx> stack_;
  unsigned skip_depth_ = 0;
  Field field_ = Field::Unknown;
  bool seen_payload_ = false;

  size_t resource_first_span_ = 0;
  std::string resource_service_;
  bool has_trace_id_ = false, has_span_id_ = false, has_start_ = false, has_end_ = false;

  Owner kv_owner_ = Owner::Span;
  std::string kv_key_, kv_value_;
  bool kv_has_value_ = false;

  std::string event_name_, exc_type_, exc_message_;

  uint64_t dropped_parts_ = 0;
  bool has_dropped_parts_ = false;
};

}  // namespace

std::string to_hex(const TraceId& id) { return fmt::format("{:016x}{:016x}", id.hi, id.lo); }
std::string to_hex(uint64_t span_id) { return fmt::format("{:016x}", span_id); }

const char* kind_name(int kind) {
  switch (kind) {
    case kKindInternal: return "internal";
    case kKindServer: return "server";
    case kKindClient: return "client";
    case kKindProducer: return "producer";
    case kKindConsumer: return "consumer";
    default: return "unspecified";
  }
}

bool OtlpLineParser::parse(std::string_view line, ParsedLine& out, std::string& error) {
  out.spans.clear();
  out.stats.clear();
  error.clear();
  Handler h(out, error);
  if (!JsonEvents<Handler>(line, h, error).parse()) {
    if (error.empty()) error = "not the expected shape";
    return false;
  }
  return true;
}

bool mentions_trace(std::string_view line, const std::vector<std::string>& ids) {
  static constexpr std::string_view key = "\"traceId\"";
  size_t pos = 0;
  while ((pos = line.find(key, pos)) != std::string_view::npos) {
    pos += key.size();
    size_t p = pos;
    while (p < line.size() && (line[p] == ' ' || line[p] == '\t' || line[p] == ':')) ++p;
    if (p < line.size() && line[p] == '"' && p + 33 <= line.size()) {
      char id[32];
      for (int i = 0; i < 32; ++i) {
        char c = line[p + 1 + i];
        id[i] = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
      }
      if (std::binary_search(ids.begin(), ids.end(), std::string_view(id, 32))) return true;
    }
  }
  return false;
}

}  // namespace agent_run::report
