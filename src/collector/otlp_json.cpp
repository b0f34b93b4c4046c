#include "collector/otlp_json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "agent_run/version.hpp"
#include "collector/word_scan.hpp"
#include "common/short_copy.hpp"

namespace agent_run::collector {

namespace {

// The two lowercase hex digits of every byte: one copy per byte of an id.
struct HexPairs {
  char pairs[256][2];
  constexpr HexPairs() : pairs() {
    constexpr char digits[] = "0123456789abcdef";
    for (int i = 0; i < 256; ++i) {
      pairs[i][0] = digits[i >> 4];
      pairs[i][1] = digits[i & 15];
    }
  }
};
constexpr HexPairs kHexPairs;

// An append-only writer over a std::string with inlined appends: the writer
// keeps its own length and grows the string geometrically, so the per-field
// appends are a bounds check and a memcpy (std::string's own appends are out
// of line in libstdc++ and dominated the profile).
class Writer {
 public:
  // Appends to s. keep_size: writes from s's start and never shrinks it, so a
  // buffer reused for every batch is zero-filled (by resize) only when it grows.
  explicit Writer(std::string& s, bool keep_size = false)
      : s_(s), len_(keep_size ? 0 : s.size()), keep_size_(keep_size) {}
  ~Writer() {
    if (!keep_size_) s_.resize(len_);
  }
  size_t length() const { return len_; }
  // The growth is out of line so that need() and the puts built on it
  // inline into the encoder's loops (a call per field dominated otherwise).
  inline char* need(size_t n) {
    if (__builtin_expect(len_ + n > s_.size(), 0)) grow(n);
    return &s_[len_];
  }
  __attribute__((always_inline)) inline void put(const char* p, size_t n) {
    std::memcpy(need(n), p, n);
    len_ += n;
  }
  template <size_t N>
  inline void lit(const char (&text)[N]) {
    put(text, N - 1);
  }
  inline void put(char c) {
    *need(1) = c;
    ++len_;
  }
  inline void put(const std::string& v) { put(v.data(), v.size()); }
  template <typename Int>
  inline void integer(Int v) {
    fmt::format_int f(v);
    put(f.data(), f.size());
  }
  inline void hex(const uint8_t* b, size_t n) {
    char* p = need(2 * n);
    for (size_t i = 0; i < n; ++i) std::memcpy(p + 2 * i, kHexPairs.pairs[b[i]], 2);
    len_ += 2 * n;
  }
  void string(const char* p, size_t n);
  inline void string(const std::string& v) { string(v.data(), v.size()); }
  inline void string(const wire::StringRef& v) { string(v.data, v.size); }
  __attribute__((noinline)) void escaped_string(const char* p, size_t n);

 private:
  __attribute__((noinline)) void grow(size_t n) { s_.resize(std::max(s_.size() * 2, len_ + n + 4096)); }

  std::string& s_;
  size_t len_;
  bool keep_size_;
};

// true: the byte must be escaped in a JSON string.
struct EscapeTable {
  bool needs[256];
  constexpr EscapeTable() : needs() {
    for (int c = 0; c < 0x20; ++c) needs[c] = true;
    needs[int('"')] = true;
    needs[int('\\')] = true;
  }
};
constexpr EscapeTable kEscape;

// Nonzero when a byte of w needs escaping (< 0x20, '"', '\\'). Exact as to
// whether any does (a borrow can only mark a byte above one that does).
inline uint64_t escape_bits(uint64_t w) {
  constexpr uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
  uint64_t control = (w - ones * 0x20) & ~w & high;
  uint64_t q = w ^ (ones * '"');
  uint64_t b = w ^ (ones * '\\');
  return control | ((q - ones) & ~q & high) | ((b - ones) & ~b & high);
}

void Writer::string(const char* p, size_t n) {
  if (__builtin_expect(any_byte_bits(p, n, escape_bits) == 0, 1)) {  // the common case
    char* out = need(n + 2);
    out[0] = '"';
    copy_short(out + 1, p, n);
    out[n + 1] = '"';
    len_ += n + 2;
    return;
  }
  escaped_string(p, n);
}

void Writer::escaped_string(const char* p, size_t n) {
  put('"');
  size_t run = 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (!kEscape.needs[c]) continue;
    put(p + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': lit("\\\""); break;
      case '\\': lit("\\\\"); break;
      case '\n': lit("\\n"); break;
      case '\r': lit("\\r"); break;
      case '\t': lit("\\t"); break;
      case '\b': lit("\\b"); break;
      case '\f': lit("\\f"); break;
      default: {
        static const char digits[] = "0123456789abcdef";
        char buf[6] = {'\\', 'u', '0', '0', digits[c >> 4], digits[c & 15]};
        put(buf, 6);
      }
    }
  }
  put(p + run, n - run);
  put('"');
}

inline void u64_string(Writer& w, uint64_t v) {
  w.put('"');
  w.integer(v);
  w.put('"');
}

void value(Writer& w, const wire::AttributeRef& a) {
  switch (a.type) {
    case wire::ValueType::String:
      w.lit("{\"stringValue\":");
      w.string(a.string);
      w.put('}');
      break;
    case wire::ValueType::Int:
      w.lit("{\"intValue\":\"");
      w.integer(int64_t(a.bits));
      w.lit("\"}");
      break;
    case wire::ValueType::Double: {
      double d;
      std::memcpy(&d, &a.bits, 8);
      w.lit("{\"doubleValue\":");
      if (std::isnan(d)) {
        w.lit("\"NaN\"");
      } else if (std::isinf(d)) {
        if (d > 0)
          w.lit("\"Infinity\"");
        else
          w.lit("\"-Infinity\"");
      } else {
        char buf[64];
        auto end = fmt::format_to(buf, "{}", d);
        w.put(buf, size_t(end - buf));
      }
      w.put('}');
      break;
    }
    case wire::ValueType::Bool:
      if (a.bits)
        w.lit("{\"boolValue\":true}");
      else
        w.lit("{\"boolValue\":false}");
      break;
  }
}

void attributes(Writer& w, wire::AttributeCursor c) {
  w.lit("\"attributes\":[");
  wire::AttributeRef a;
  for (bool first = true; c.next(a); first = false) {
    if (!first) w.put(',');
    w.lit("{\"key\":");
    w.string(a.key);
    w.lit(",\"value\":");
    value(w, a);
    w.put('}');
  }
  w.put(']');
}

void span(Writer& w, const wire::SpanRecord& s) {
  static const uint8_t zero[8] = {};
  w.lit("{\"traceId\":\"");
  w.hex(s.trace_id, 16);
  w.lit("\",\"spanId\":\"");
  w.hex(s.span_id, 8);
  w.put('"');
  if (std::memcmp(s.parent_span_id, zero, 8) != 0) {
    w.lit(",\"parentSpanId\":\"");
    w.hex(s.parent_span_id, 8);
    w.put('"');
  }
  w.lit(",\"flags\":");
  w.integer(unsigned(s.trace_flags));
  w.lit(",\"name\":");
  w.string(s.name);
  w.lit(",\"kind\":");
  w.put(char('0' + int(s.kind)));
  w.lit(",\"startTimeUnixNano\":");
  u64_string(w, s.start_unix_nano);
  w.lit(",\"endTimeUnixNano\":");
  u64_string(w, s.end_unix_nano);
  w.put(',');
  attributes(w, s.attribute_cursor());
  if (s.dropped_attributes_count) {
    w.lit(",\"droppedAttributesCount\":");
    w.integer(s.dropped_attributes_count);
  }
  if (s.event_count != 0) {
    w.lit(",\"events\":[");
    wire::EventCursor events = s.event_cursor();
    wire::EventRef e;
    for (bool first = true; events.next(e); first = false) {
      if (!first) w.put(',');
      w.lit("{\"timeUnixNano\":");
      u64_string(w, e.time_unix_nano);
      w.lit(",\"name\":");
      w.string(e.name);
      w.put(',');
      attributes(w, e.attributes);
      w.put('}');
    }
    w.put(']');
  }
  w.lit(",\"status\":{\"code\":");
  w.put(char('0' + int(s.status_code)));
  if (s.status_message.size != 0) {
    w.lit(",\"message\":");
    w.string(s.status_message);
  }
  w.lit("}}");
}

void resource(Writer& w, const ResourceInfo& r) {
  w.lit("\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":");
  w.string(r.service_name);
  w.lit("}},{\"key\":\"process.pid\",\"value\":{\"intValue\":\"");
  w.integer(r.pid);
  w.lit("\"}},{\"key\":\"telemetry.sdk.name\",\"value\":{\"stringValue\":\"agent-run\"}},"
        "{\"key\":\"telemetry.sdk.language\",\"value\":{\"stringValue\":\"python\"}},"
        "{\"key\":\"telemetry.sdk.version\",\"value\":{\"stringValue\":");
  w.string(r.agent_version);
  w.lit("}}]}");
}

}  // namespace

void append_hex(std::string& out, const uint8_t* b, size_t n) {
  Writer w(out);
  w.hex(b, n);
}

void append_json_string(std::string& out, const std::string& s) {
  Writer w(out);
  w.string(s);
}

namespace {

void otlp_json_line(const SpanBatch& batch, Writer& w) {
  w.lit("{\"resourceSpans\":[");
  auto groups = batch.by_resource();
  bool first_group = true;
  for (size_t r = 0; r < groups.size(); ++r) {
    if (groups[r].empty()) continue;
    if (!first_group) w.put(',');
    first_group = false;
    w.put('{');
    resource(w, *batch.resources[r]);
    w.lit(",\"scopeSpans\":[{\"scope\":{\"name\":\"agent-run\",\"version\":\"");
    w.put(agent_run::kVersion, std::strlen(agent_run::kVersion));
    w.lit("\"},\"spans\":[");
    bool first = true;
    for (uint32_t i : groups[r]) {
      if (!first) w.put(',');
      first = false;
      span(w, batch.record(i));
    }
    w.lit("]}]}");
  }
  w.lit("]}\n");
}

}  // namespace

void append_otlp_json_line(const SpanBatch& batch, std::string& out) {
  Writer w(out);
  otlp_json_line(batch, w);
}

size_t write_otlp_json_line(const SpanBatch& batch, std::string& buffer) {
  Writer w(buffer, true);
  otlp_json_line(batch, w);
  return w.length();
}

}  // namespace agent_run::collector
