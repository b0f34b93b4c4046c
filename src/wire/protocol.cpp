// Encoder and total decoder of the agent-run wire protocol (PROTOCOL.md).
#include "wire/protocol.hpp"

#include <cstring>

#include "common/short_copy.hpp"

namespace agent_run::wire {

const char* to_string(DecodeError e) {
  switch (e) {
    case DecodeError::Ok: return "ok";
    case DecodeError::Truncated: return "truncated";
    case DecodeError::BadMagic: return "bad_magic";
    case DecodeError::BadVersion: return "bad_version";
    case DecodeError::BadType: return "bad_type";
    case DecodeError::TooLarge: return "too_large";
    case DecodeError::BadValue: return "bad_value";
    case DecodeError::TrailingBytes: return "trailing_bytes";
  }
  return "unknown";
}

namespace {

// The attribute value tags (ValueType).
constexpr uint8_t kString = uint8_t(ValueType::String), kInt = uint8_t(ValueType::Int),
                  kDouble = uint8_t(ValueType::Double), kBool = uint8_t(ValueType::Bool);

inline size_t clamp_len(size_t n) { return n > kMaxString ? kMaxString : n; }

// ---- writer -----------------------------------------------------------------

inline uint8_t* put_u8(uint8_t* p, uint8_t v) { *p = v; return p + 1; }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
// The wire is little-endian: on such hosts a store is a memcpy.
inline uint8_t* put_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); return p + 2; }
inline uint8_t* put_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); return p + 4; }
inline uint8_t* put_u64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); return p + 8; }
#else
inline uint8_t* put_u16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); return p + 2; }
inline uint8_t* put_u32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); p[2] = uint8_t(v >> 16); p[3] = uint8_t(v >> 24);
  return p + 4;
}
inline uint8_t* put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
  return p + 8;
}
#endif

inline uint8_t* put_str(uint8_t* p, const char* s, size_t size) {
  size_t n = clamp_len(size);
  p = put_u32(p, uint32_t(n));
  copy_short(p, s, n);
  return p + n;
}
inline uint8_t* put_str(uint8_t* p, const std::string& s) { return put_str(p, s.data(), s.size()); }

inline size_t attr_size(const Attribute& a) {
  switch (a.value.index()) {
    case 0: return encoded_string_attribute_size(a.key.size(), std::get<std::string>(a.value).size());
    case 1: case 2: return encoded_string_size(a.key.size()) + 1 + 8;
    default: return encoded_string_size(a.key.size()) + 1 + 1;
  }
}

// The count, then at most `room` of attrs.
inline size_t attrs_size(const std::vector<Attribute>& attrs, size_t room = kMaxAttributes) {
  size_t n = 4;
  size_t count = attrs.size() < room ? attrs.size() : room;
  for (size_t i = 0; i < count; ++i) n += attr_size(attrs[i]);
  return n;
}

// The count, the attributes already encoded, then attrs (as many as fit).
uint8_t* put_attrs(uint8_t* p, const std::vector<Attribute>& attrs, const EncodedAttributes& first) {
  const uint32_t room = kMaxAttributes - first.count;
  uint32_t count = uint32_t(attrs.size() < room ? attrs.size() : room);
  p = put_u32(p, first.count + count);
  if (first.size != 0) std::memcpy(p, first.data, first.size);
  p += first.size;
  for (uint32_t i = 0; i < count; ++i) {
    const Attribute& a = attrs[i];
    p = put_str(p, a.key);
    switch (a.value.index()) {
      case 0: p = put_u8(p, kString); p = put_str(p, std::get<std::string>(a.value)); break;
      case 1: p = put_u8(p, kInt); p = put_u64(p, uint64_t(std::get<int64_t>(a.value))); break;
      case 2: {
        p = put_u8(p, kDouble);
        uint64_t bits;
        double d = std::get<double>(a.value);
        std::memcpy(&bits, &d, 8);
        p = put_u64(p, bits);
        break;
      }
      default: p = put_u8(p, kBool); p = put_u8(p, std::get<bool>(a.value) ? 1 : 0); break;
    }
  }
  return p;
}

// ---- reader -----------------------------------------------------------------

struct Reader {
  const uint8_t* p;
  const uint8_t* end;
  size_t left() const { return size_t(end - p); }
  bool u8(uint8_t& v) { if (left() < 1) return false; v = *p++; return true; }
  bool u16(uint16_t& v) { if (left() < 2) return false; v = uint16_t(p[0] | (p[1] << 8)); p += 2; return true; }
  bool u32(uint32_t& v) { if (left() < 4) return false; v = detail::load_u32(p); p += 4; return true; }
  bool u64(uint64_t& v) { if (left() < 8) return false; v = detail::load_u64(p); p += 8; return true; }
};

DecodeError read_str(Reader& r, std::string& out) {
  uint32_t n;
  if (!r.u32(n)) return DecodeError::Truncated;
  if (n > kMaxString) return DecodeError::TooLarge;
  if (n > r.left()) return DecodeError::Truncated;
  // clear+append: into a reused string's capacity without assign's general
  // replace (the collector's hottest call per string).
  out.clear();
  out.append(reinterpret_cast<const char*>(r.p), n);
  r.p += n;
  return DecodeError::Ok;
}

// The checks of decode_span, without copying: a string's length against the
// limit and the bytes left; every attribute's tag and value.
DecodeError check_str(Reader& r, StringRef& out) {
  uint32_t n;
  if (!r.u32(n)) return DecodeError::Truncated;
  if (n > kMaxString) return DecodeError::TooLarge;
  if (n > r.left()) return DecodeError::Truncated;
  out.data = reinterpret_cast<const char*>(r.p);
  out.size = n;
  r.p += n;
  return DecodeError::Ok;
}

DecodeError check_attr_list(Reader& r, uint32_t count) {
  if (count > kMaxAttributes) return DecodeError::TooLarge;
  constexpr size_t kMinAttr = 4 + 1 + 1;  // empty key, tag, bool
  if (size_t(count) * kMinAttr > r.left()) return DecodeError::Truncated;
  StringRef s;
  for (uint32_t i = 0; i < count; ++i) {
    DecodeError e = check_str(r, s);
    if (e != DecodeError::Ok) return e;
    uint8_t tag;
    if (!r.u8(tag)) return DecodeError::Truncated;
    switch (tag) {
      case kString:
        e = check_str(r, s);
        if (e != DecodeError::Ok) return e;
        break;
      case kInt:
      case kDouble:
        if (r.left() < 8) return DecodeError::Truncated;
        r.p += 8;
        break;
      case kBool: {
        uint8_t v;
        if (!r.u8(v)) return DecodeError::Truncated;
        if (v > 1) return DecodeError::BadValue;
        break;
      }
      default:
        return DecodeError::BadValue;
    }
  }
  return DecodeError::Ok;
}

// Checked attributes into out[first...] (out is resized to first + count).
void copy_attrs(AttributeCursor c, std::vector<Attribute>& out, size_t first) {
  out.resize(first + c.remaining());
  AttributeRef ref;
  for (size_t i = first; c.next(ref); ++i) {
    Attribute& a = out[i];
    // clear+append: into a reused string's capacity without assign's
    // general replace.
    a.key.clear();
    a.key.append(ref.key.data, ref.key.size);
    switch (ref.type) {
      case ValueType::String:
        if (a.value.index() != 0) a.value = std::string();
        std::get<std::string>(a.value).clear();
        std::get<std::string>(a.value).append(ref.string.data, ref.string.size);
        break;
      case ValueType::Int:
        a.value = int64_t(ref.bits);
        break;
      case ValueType::Double: {
        double d;
        std::memcpy(&d, &ref.bits, 8);
        a.value = d;
        break;
      }
      case ValueType::Bool:
        a.value = ref.bits == 1;
        break;
    }
  }
}

}  // namespace

// ---- encoding ---------------------------------------------------------------

size_t encoded_span_size(const Span& s) { return encoded_span_size(s, EncodedAttributes{}); }

uint8_t* encode_span(const Span& s, uint8_t* p) { return encode_span(s, EncodedAttributes{}, p); }

size_t encoded_span_size(const Span& s, const EncodedAttributes& first) {
  size_t n = kSpanHeadBytes;
  n += encoded_string_size(s.name.size());
  n += encoded_string_size(s.status_message.size());
  n += first.size + attrs_size(s.attributes, kMaxAttributes - first.count);
  n += 4;
  size_t events = s.events.size() < kMaxEvents ? s.events.size() : kMaxEvents;
  for (size_t i = 0; i < events; ++i) {
    const Event& e = s.events[i];
    n += 8 + encoded_string_size(e.name.size()) + attrs_size(e.attributes);
  }
  return n;
}

uint8_t* encode_span(const Span& s, const EncodedAttributes& first, uint8_t* p) {
  const uint32_t room = kMaxAttributes - first.count;  // for span.attributes
  uint32_t dropped = s.dropped_attributes_count;
  if (s.attributes.size() > room) dropped += uint32_t(s.attributes.size() - room);
  p = put_span_head(p, SpanHead{s.trace_id, s.span_id, s.parent_span_id, s.trace_flags, s.kind, s.status_code,
                                s.start_unix_nano, s.end_unix_nano, dropped});
  p = put_str(p, s.name);
  p = put_str(p, s.status_message);
  p = put_attrs(p, s.attributes, first);
  uint32_t events = uint32_t(s.events.size() < kMaxEvents ? s.events.size() : kMaxEvents);
  p = put_u32(p, events);
  for (uint32_t i = 0; i < events; ++i) {
    const Event& e = s.events[i];
    p = put_u64(p, e.time_unix_nano);
    p = put_str(p, e.name);
    p = put_attrs(p, e.attributes, EncodedAttributes{});
  }
  return p;
}

uint8_t* put_span_head(uint8_t* p, const SpanHead& h) {
  std::memcpy(p, h.trace_id, 16); p += 16;
  std::memcpy(p, h.span_id, 8); p += 8;
  std::memcpy(p, h.parent_span_id, 8); p += 8;
  p = put_u8(p, h.trace_flags);
  p = put_u8(p, uint8_t(h.kind));
  p = put_u8(p, uint8_t(h.status_code));
  p = put_u8(p, 0);
  p = put_u64(p, h.start_unix_nano);
  p = put_u64(p, h.end_unix_nano);
  return put_u32(p, h.dropped_attributes_count);
}

uint8_t* put_string(uint8_t* p, const char* data, size_t length) { return put_str(p, data, length); }

uint8_t* put_int_attribute(uint8_t* p, const char* key, size_t key_length, int64_t value) {
  p = put_str(p, key, key_length);
  p = put_u8(p, kInt);
  return put_u64(p, uint64_t(value));
}

bool has_key(const EncodedAttributes& attrs, const char* key, size_t key_length) {
  Reader r{attrs.data, attrs.data + attrs.size};
  for (uint32_t i = 0; i < attrs.count; ++i) {
    uint32_t n;
    uint8_t tag;
    if (!r.u32(n) || n > r.left()) return false;
    if (n == key_length && std::memcmp(r.p, key, n) == 0) return true;
    r.p += n;
    if (!r.u8(tag)) return false;
    size_t skip = tag == kString ? 0 : tag == kBool ? 1 : 8;
    if (tag == kString && !r.u32(n)) return false;
    if (tag == kString) skip = n;
    if (skip > r.left()) return false;
    r.p += skip;
  }
  return false;
}

DecodeError decode_attributes(const uint8_t* data, size_t size, uint32_t count, std::vector<Attribute>& out) {
  Reader r{data, data + size};
  DecodeError e = check_attr_list(r, count);
  if (e != DecodeError::Ok) return e;
  if (r.left() != 0) return DecodeError::BadValue;
  copy_attrs(AttributeCursor(data, count), out, out.size());
  return DecodeError::Ok;
}

uint8_t* put_count(uint8_t* p, uint32_t count) { return put_u32(p, count); }

uint8_t* put_string_attribute(uint8_t* p, const char* key, size_t key_length, const char* value,
                              size_t value_length) {
  p = put_str(p, key, key_length);
  p = put_u8(p, kString);
  return put_str(p, value, value_length);
}

void append_span(const Span& span, std::string& out) {
  size_t n = encoded_span_size(span);
  size_t old = out.size();
  out.resize(old + n);
  encode_span(span, reinterpret_cast<uint8_t*>(&out[old]));
}

void write_header(uint8_t* p, MessageType type, uint32_t payload_length) {
  p = put_u32(p, kMagic);
  p = put_u16(p, kProtocolVersion);
  p = put_u16(p, uint16_t(type));
  p = put_u32(p, payload_length);
  put_u32(p, 0);  // reserved
}

// Appends a header for a `payload`-byte message to `out` and room for the
// payload; returns where the payload starts.
static uint8_t* begin_message(std::string& out, MessageType type, size_t payload) {
  size_t old = out.size();
  out.resize(old + kHeaderSize + payload);
  uint8_t* p = reinterpret_cast<uint8_t*>(&out[old]);
  write_header(p, type, uint32_t(payload));
  return p + kHeaderSize;
}

void append_hello(const Hello& h, std::string& out) {
  size_t payload = 4 + encoded_string_size(h.agent_version.size()) + encoded_string_size(h.service_name.size());
  uint8_t* p = begin_message(out, MessageType::Hello, payload);
  p = put_u32(p, h.pid);
  p = put_str(p, h.agent_version);
  put_str(p, h.service_name);
}

void write_hello_pid(uint8_t* hello, uint32_t pid) { put_u32(hello + kHeaderSize, pid); }

void write_stats(const Stats& s, uint8_t* p) {
  write_header(p, MessageType::Stats, uint32_t(kStatsMessageSize - kHeaderSize));
  p += kHeaderSize;
  p = put_u32(p, s.pid);
  p = put_u64(p, s.submitted);
  p = put_u64(p, s.sent);
  p = put_u64(p, s.dropped_buffer_full);
  p = put_u64(p, s.dropped_no_collector);
  put_u64(p, s.dropped_too_large);
}

void append_stats(const Stats& s, std::string& out) {
  size_t old = out.size();
  out.resize(old + kStatsMessageSize);
  write_stats(s, reinterpret_cast<uint8_t*>(&out[old]));
}

void append_health(const Health& h, std::string& out) {
  const size_t count = h.plugins.size() < kMaxPlugins ? h.plugins.size() : kMaxPlugins;
  size_t payload = 4 + 4;
  for (size_t i = 0; i < count; ++i) {
    const PluginHealth& ph = h.plugins[i];
    payload += encoded_string_size(ph.name.size()) + encoded_string_size(ph.state.size()) + 8 + 8 +
               encoded_string_size(ph.last_error.size());
  }
  uint8_t* p = begin_message(out, MessageType::Health, payload);
  p = put_u32(p, h.pid);
  p = put_u32(p, uint32_t(count));
  for (size_t i = 0; i < count; ++i) {
    const PluginHealth& ph = h.plugins[i];
    p = put_str(p, ph.name);
    p = put_str(p, ph.state);
    p = put_u64(p, ph.calls);
    p = put_u64(p, ph.errors);
    p = put_str(p, ph.last_error);
  }
}

void append_spans_message(const std::vector<Span>& spans, std::string& out) {
  size_t payload = 4;
  for (const Span& s : spans) payload += 4 + encoded_span_size(s);
  uint8_t* p = begin_message(out, MessageType::Spans, payload);
  p = put_u32(p, uint32_t(spans.size()));
  for (const Span& s : spans) {
    p = put_u32(p, uint32_t(encoded_span_size(s)));
    p = encode_span(s, p);
  }
}

// ---- decoding ---------------------------------------------------------------

DecodeError decode_header(const uint8_t* data, size_t size, Header& out) {
  Reader r{data, data + size};
  uint32_t magic, length, reserved;
  uint16_t version, type;
  if (!r.u32(magic)) return DecodeError::Truncated;
  if (magic != kMagic) return DecodeError::BadMagic;
  if (!r.u16(version) || !r.u16(type) || !r.u32(length) || !r.u32(reserved)) return DecodeError::Truncated;
  if (version != kProtocolVersion) return DecodeError::BadVersion;
  if (type < uint16_t(MessageType::Hello) || type > uint16_t(MessageType::Health)) return DecodeError::BadType;
  if (reserved != 0) return DecodeError::BadValue;
  if (length > kMaxPayload) return DecodeError::TooLarge;
  out.type = MessageType(type);
  out.payload_length = length;
  return DecodeError::Ok;
}

DecodeError decode_hello(const uint8_t* data, size_t size, Hello& out) {
  Reader r{data, data + size};
  if (!r.u32(out.pid)) return DecodeError::Truncated;
  DecodeError e = read_str(r, out.agent_version);
  if (e != DecodeError::Ok) return e;
  e = read_str(r, out.service_name);
  if (e != DecodeError::Ok) return e;
  return r.left() ? DecodeError::TrailingBytes : DecodeError::Ok;
}

DecodeError decode_stats(const uint8_t* data, size_t size, Stats& out) {
  Reader r{data, data + size};
  if (!r.u32(out.pid) || !r.u64(out.submitted) || !r.u64(out.sent) || !r.u64(out.dropped_buffer_full) ||
      !r.u64(out.dropped_no_collector) || !r.u64(out.dropped_too_large))
    return DecodeError::Truncated;
  return r.left() ? DecodeError::TrailingBytes : DecodeError::Ok;
}

DecodeError decode_health(const uint8_t* data, size_t size, Health& out) {
  Reader r{data, data + size};
  uint32_t count;
  if (!r.u32(out.pid) || !r.u32(count)) return DecodeError::Truncated;
  if (count > kMaxPlugins) return DecodeError::TooLarge;
  constexpr size_t kMinPlugin = 4 + 4 + 8 + 8 + 4;  // empty strings, two counters
  if (size_t(count) * kMinPlugin > r.left()) return DecodeError::Truncated;
  out.plugins.assign(count, PluginHealth{});
  for (PluginHealth& ph : out.plugins) {
    DecodeError e = read_str(r, ph.name);
    if (e == DecodeError::Ok) e = read_str(r, ph.state);
    if (e != DecodeError::Ok) return e;
    if (!r.u64(ph.calls) || !r.u64(ph.errors)) return DecodeError::Truncated;
    e = read_str(r, ph.last_error);
    if (e != DecodeError::Ok) return e;
  }
  return r.left() ? DecodeError::TrailingBytes : DecodeError::Ok;
}

// ---- records checked in place -------------------------------------------------

bool EventCursor::next(EventRef& e) {
  if (left_ == 0) return false;
  --left_;
  e.time_unix_nano = detail::load_u64(p_);
  uint32_t n = detail::load_u32(p_ + 8);
  e.name = StringRef{reinterpret_cast<const char*>(p_ + 12), n};
  p_ += 12 + n;
  e.attributes = AttributeCursor(p_ + 4, detail::load_u32(p_));
  AttributeCursor skip = e.attributes;
  AttributeRef a;
  while (skip.next(a)) {
  }
  p_ = skip.position();
  return true;
}

namespace {

// A record's fixed head (kSpanHeadBytes, as put_span_head writes it), read
// without checks from bytes the caller has. Returns its reserved byte.
uint8_t read_span_head(const uint8_t* data, SpanRecord& s) {
  s.trace_id = data;
  s.span_id = data + 16;
  s.parent_span_id = data + 24;
  s.trace_flags = data[32];
  s.kind = SpanKind(data[33]);
  s.status_code = StatusCode(data[34]);
  s.start_unix_nano = detail::load_u64(data + 36);
  s.end_unix_nano = detail::load_u64(data + 44);
  s.dropped_attributes_count = detail::load_u32(data + 52);
  return data[35];
}

}  // namespace

DecodeError parse_span_record(const uint8_t* data, size_t size, SpanRecord& s) {
  if (size < kSpanHeadBytes) return DecodeError::Truncated;
  const uint8_t reserved = read_span_head(data, s);
  if (uint8_t(s.kind) > uint8_t(SpanKind::Consumer) || uint8_t(s.status_code) > uint8_t(StatusCode::Error) ||
      reserved != 0)
    return DecodeError::BadValue;
  Reader r{data + kSpanHeadBytes, data + size};
  DecodeError e = check_str(r, s.name);
  if (e != DecodeError::Ok) return e;
  e = check_str(r, s.status_message);
  if (e != DecodeError::Ok) return e;
  if (!r.u32(s.attribute_count)) return DecodeError::Truncated;
  s.attributes = r.p;
  e = check_attr_list(r, s.attribute_count);
  if (e != DecodeError::Ok) return e;
  if (!r.u32(s.event_count)) return DecodeError::Truncated;
  if (s.event_count > kMaxEvents) return DecodeError::TooLarge;
  constexpr size_t kMinEvent = 8 + 4 + 4;
  if (size_t(s.event_count) * kMinEvent > r.left()) return DecodeError::Truncated;
  s.events = r.p;
  for (uint32_t i = 0; i < s.event_count; ++i) {
    uint64_t time;
    if (!r.u64(time)) return DecodeError::Truncated;
    StringRef name;
    e = check_str(r, name);
    if (e != DecodeError::Ok) return e;
    uint32_t count;
    if (!r.u32(count)) return DecodeError::Truncated;
    e = check_attr_list(r, count);
    if (e != DecodeError::Ok) return e;
  }
  return r.left() ? DecodeError::TrailingBytes : DecodeError::Ok;
}

SpanRecord checked_span_record(const uint8_t* data, uint32_t events_offset) {
  SpanRecord s;
  read_span_head(data, s);
  const uint8_t* p = data + kSpanHeadBytes;
  uint32_t n = detail::load_u32(p);
  s.name = StringRef{reinterpret_cast<const char*>(p + 4), n};
  p += 4 + n;
  n = detail::load_u32(p);
  s.status_message = StringRef{reinterpret_cast<const char*>(p + 4), n};
  p += 4 + n;
  s.attribute_count = detail::load_u32(p);
  s.attributes = p + 4;
  s.event_count = detail::load_u32(data + events_offset);
  s.events = data + events_offset + 4;
  return s;
}

void copy_span(const SpanRecord& rec, Span& s) {
  std::memcpy(s.trace_id, rec.trace_id, 16);
  std::memcpy(s.span_id, rec.span_id, 8);
  std::memcpy(s.parent_span_id, rec.parent_span_id, 8);
  s.trace_flags = rec.trace_flags;
  s.kind = rec.kind;
  s.status_code = rec.status_code;
  s.start_unix_nano = rec.start_unix_nano;
  s.end_unix_nano = rec.end_unix_nano;
  s.dropped_attributes_count = rec.dropped_attributes_count;
  s.name.assign(rec.name.data, rec.name.size);
  s.status_message.assign(rec.status_message.data, rec.status_message.size);
  copy_attrs(rec.attribute_cursor(), s.attributes, 0);
  s.events.resize(rec.event_count);
  EventCursor events = rec.event_cursor();
  EventRef ref;
  for (size_t i = 0; events.next(ref); ++i) {
    Event& ev = s.events[i];
    ev.time_unix_nano = ref.time_unix_nano;
    ev.name.assign(ref.name.data, ref.name.size);
    copy_attrs(ref.attributes, ev.attributes, 0);
  }
}

DecodeError decode_span(const uint8_t* data, size_t size, Span& s) {
  SpanRecord record;
  DecodeError e = parse_span_record(data, size, record);
  if (e != DecodeError::Ok) return e;
  copy_span(record, s);
  return DecodeError::Ok;
}

}  // namespace agent_run::wire
