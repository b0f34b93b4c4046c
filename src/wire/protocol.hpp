#pragma once
// The versioned, length-framed protocol between the app's processes and the
// collector (see PROTOCOL.md). Both ends use this file.
//
// Encoding appends to a caller's buffer; decoding is total: it never reads
// past the bytes it is given and reports what was wrong as an error kind.
// Nothing here throws, prints or allocates at static-initialization time.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/unaligned_load.hpp"
#include "wire/span.hpp"

namespace agent_run::wire {

constexpr uint32_t kMagic = 0x57525241u;       // bytes "ARRW" on the wire (little-endian)
constexpr uint16_t kProtocolVersion = 1;
constexpr size_t kHeaderSize = 16;
constexpr uint32_t kMaxPayload = 4u << 20;     // 4 MiB
constexpr uint32_t kMaxSpansPerMessage = 65536;
constexpr uint32_t kMaxString = 64u << 10;     // any one string inside a span
constexpr uint32_t kMaxAttributes = 1024;      // per span or per event
constexpr uint32_t kMaxEvents = 1024;          // per span

enum class MessageType : uint16_t { Hello = 1, Spans = 2, Stats = 3, Health = 4 };
constexpr uint32_t kMaxPlugins = 1024;          // per HEALTH message

enum class DecodeError : uint8_t {
  Ok = 0,
  Truncated,      // fewer bytes than a length or a field says
  BadMagic,
  BadVersion,
  BadType,
  TooLarge,       // payload length or a count above its limit
  BadValue,       // an enum, a type tag or a reserved field out of range
  TrailingBytes,  // bytes left after the last field of a payload
};
const char* to_string(DecodeError e);

struct Header {
  MessageType type = MessageType::Hello;
  uint32_t payload_length = 0;
};

struct Hello {
  uint32_t pid = 0;
  std::string agent_version;
  std::string service_name;
};

struct Stats {
  uint32_t pid = 0;
  uint64_t submitted = 0;
  uint64_t sent = 0;
  uint64_t dropped_buffer_full = 0;
  uint64_t dropped_no_collector = 0;
  uint64_t dropped_too_large = 0;
};

// The agent's plugin health in one process (sent at exit): what the
// report's plugin-health section shows.
struct PluginHealth {
  std::string name;
  std::string state;  // active, waiting, unplugged, disabled, unsupported, failed
  uint64_t calls = 0;
  uint64_t errors = 0;
  std::string last_error;
};

struct Health {
  uint32_t pid = 0;
  std::vector<PluginHealth> plugins;
};

// ---- encoding ---------------------------------------------------------------

// The exact number of bytes encode_span() appends.
size_t encoded_span_size(const Span& span);
// Appends one span record (without a length prefix) at `out`, which must
// hold encoded_span_size(span) bytes. Returns the end.
uint8_t* encode_span(const Span& span, uint8_t* out);

// Attributes already encoded (put_string_attribute/put_int_attribute, one
// after another, no count), which go before span.attributes: a recorder
// that writes the attributes it knows at a span's start in wire form (the
// WSGI server span) keeps no Attribute strings for them. count: at most
// kMaxAttributes (span.attributes fill the rest).
struct EncodedAttributes {
  const uint8_t* data = nullptr;
  size_t size = 0;
  uint32_t count = 0;
};
size_t encoded_span_size(const Span& span, const EncodedAttributes& first);
// Whether one of them has this key.
bool has_key(const EncodedAttributes& attrs, const char* key, size_t key_length);
uint8_t* encode_span(const Span& span, const EncodedAttributes& first, uint8_t* out);
void append_span(const Span& span, std::string& out);

// An encoded span written field by field, for a recorder that keeps no Span
// (the sqlite3 client spans): the same bytes encode_span() writes for a span
// with these fields. The caller sizes the buffer: kSpanHeadBytes, then
// encoded_string_size() of the name and of the status message, 4 for the
// attribute count, the attributes, and 4 for the event count.
struct SpanHead {
  const uint8_t* trace_id;        // 16 bytes
  const uint8_t* span_id;         // 8
  const uint8_t* parent_span_id;  // 8
  uint8_t trace_flags;
  SpanKind kind;
  StatusCode status_code;
  uint64_t start_unix_nano;
  uint64_t end_unix_nano;
  uint32_t dropped_attributes_count = 0;
};
constexpr size_t kSpanHeadBytes = 16 + 8 + 8 + 4 + 8 + 8 + 4;
inline size_t encoded_string_size(size_t length) { return 4 + (length > kMaxString ? kMaxString : length); }
inline size_t encoded_string_attribute_size(size_t key_length, size_t value_length) {
  return encoded_string_size(key_length) + 1 + encoded_string_size(value_length);
}
uint8_t* put_span_head(uint8_t* out, const SpanHead& head);
uint8_t* put_string(uint8_t* out, const char* data, size_t length);
uint8_t* put_count(uint8_t* out, uint32_t count);          // of attributes or events
uint8_t* put_string_attribute(uint8_t* out, const char* key, size_t key_length, const char* value,
                              size_t value_length);
inline size_t encoded_int_attribute_size(size_t key_length) { return encoded_string_size(key_length) + 1 + 8; }
uint8_t* put_int_attribute(uint8_t* out, const char* key, size_t key_length, int64_t value);

void write_header(uint8_t* out, MessageType type, uint32_t payload_length);
// Complete messages (header + payload), appended to `out`.
void append_hello(const Hello& hello, std::string& out);
// Writes `pid` into a HELLO message made by append_hello (its bytes from the
// header on): the span sink's flusher sends one HELLO, built once, from
// whichever process it runs in, and may not allocate.
void write_hello_pid(uint8_t* hello, uint32_t pid);
void append_stats(const Stats& stats, std::string& out);
// A STATS message has a fixed size: written into the caller's bytes (the
// span sink's flusher, which may not allocate).
constexpr size_t kStatsMessageSize = kHeaderSize + 4 + 5 * 8;
void write_stats(const Stats& stats, uint8_t* out);
void append_health(const Health& health, std::string& out);
// A SPANS payload is a u32 count followed by `count` records, each a u32
// length and the encoded span. The sink builds them itself from its buffer;
// this helper encodes a whole vector (tests, benchmarks).
void append_spans_message(const std::vector<Span>& spans, std::string& out);

// ---- decoding ---------------------------------------------------------------

// Checks a 16-byte header: magic, version, type, reserved bits, payload limit.
DecodeError decode_header(const uint8_t* data, size_t size, Header& out);
DecodeError decode_hello(const uint8_t* data, size_t size, Hello& out);
DecodeError decode_stats(const uint8_t* data, size_t size, Stats& out);
DecodeError decode_health(const uint8_t* data, size_t size, Health& out);
DecodeError decode_span(const uint8_t* data, size_t size, Span& out);

// A span record checked in place: every length, count, tag and enum of the
// record validated as decode_span does, its fixed fields read out, its
// strings and attributes left in the record's bytes (which must outlive it).
// The collector keeps the records it checked and writes its output from
// them; decode_span is parse_span_record then copy_span.
struct StringRef {
  const char* data = nullptr;
  uint32_t size = 0;
};
enum class ValueType : uint8_t { String = 1, Int = 2, Double = 3, Bool = 4 };
struct AttributeRef {
  StringRef key;
  ValueType type = ValueType::Bool;
  StringRef string;   // ValueType::String
  uint64_t bits = 0;  // Int (two's complement), Double (IEEE 754 bits), Bool (0 or 1)
};
// The attributes of a checked record (or of one of its events), in order.
class AttributeCursor {
 public:
  AttributeCursor(const uint8_t* first, uint32_t count) : p_(first), left_(count) {}
  inline bool next(AttributeRef& out);  // inline: the collector's JSON writer calls it per attribute
  uint32_t remaining() const { return left_; }
  const uint8_t* position() const { return p_; }  // after the last attribute once all are read

 private:
  const uint8_t* p_;
  uint32_t left_;
};
struct EventRef {
  uint64_t time_unix_nano = 0;
  StringRef name;
  AttributeCursor attributes{nullptr, 0};
};
class EventCursor {
 public:
  EventCursor(const uint8_t* first, uint32_t count) : p_(first), left_(count) {}
  bool next(EventRef& out);

 private:
  const uint8_t* p_;
  uint32_t left_;
};
struct SpanRecord {
  const uint8_t* trace_id = nullptr;        // 16 bytes
  const uint8_t* span_id = nullptr;         // 8
  const uint8_t* parent_span_id = nullptr;  // 8, all zero for a root span
  uint8_t trace_flags = 0;
  SpanKind kind = SpanKind::Internal;
  StatusCode status_code = StatusCode::Unset;
  uint64_t start_unix_nano = 0;
  uint64_t end_unix_nano = 0;
  uint32_t dropped_attributes_count = 0;
  StringRef name;
  StringRef status_message;
  uint32_t attribute_count = 0;
  const uint8_t* attributes = nullptr;  // the first attribute
  uint32_t event_count = 0;
  const uint8_t* events = nullptr;      // the first event
  AttributeCursor attribute_cursor() const { return AttributeCursor(attributes, attribute_count); }
  EventCursor event_cursor() const { return EventCursor(events, event_count); }
};
DecodeError parse_span_record(const uint8_t* data, size_t size, SpanRecord& out);
// Where a checked record's event count is (from its first byte): with it,
// checked_span_record reads the record again without walking its attributes.
inline uint32_t events_offset(const uint8_t* data, const SpanRecord& record) {
  return uint32_t(record.events - 4 - data);
}
// The SpanRecord of bytes parse_span_record accepted, read again without
// checks (the collector keeps checked records and their events_offset).
SpanRecord checked_span_record(const uint8_t* data, uint32_t events_offset);
// The record's fields copied into `out` (whose strings and vectors keep
// their capacity).
void copy_span(const SpanRecord& record, Span& out);
// `count` attributes encoded one after another (EncodedAttributes), appended
// to `out`; every byte must belong to them.
DecodeError decode_attributes(const uint8_t* data, size_t size, uint32_t count, std::vector<Attribute>& out);

// Walks a SPANS payload; calls on_record(const uint8_t* record, size_t size,
// const SpanRecord&) for each checked record. On the first error, stops and
// returns it (records already passed stay passed: the collector rolls them
// back, counts the message as rejected and closes the connection).
template <typename F>
DecodeError walk_spans_payload(const uint8_t* data, size_t size, F&& on_record, uint32_t* count_out = nullptr);
// The same, calling on_span(const Span&) with each span decoded into `scratch`.
template <typename F>
DecodeError decode_spans_payload(const uint8_t* data, size_t size, Span& scratch, F&& on_span, uint32_t* count_out = nullptr);

// ---- implementation of the template ----------------------------------------

namespace detail {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
// The wire is little-endian: on such hosts a load is a native one.
inline uint32_t load_u32(const uint8_t* p) { return load_native_u32(p); }
inline uint64_t load_u64(const uint8_t* p) { return load_native_u64(p); }
#else
inline uint32_t load_u32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline uint64_t load_u64(const uint8_t* p) { return uint64_t(load_u32(p)) | (uint64_t(load_u32(p + 4)) << 32); }
#endif
}  // namespace detail

inline bool AttributeCursor::next(AttributeRef& a) {
  if (left_ == 0) return false;
  --left_;
  uint32_t n = detail::load_u32(p_);
  a.key = StringRef{reinterpret_cast<const char*>(p_ + 4), n};
  p_ += 4 + n;
  const uint8_t tag = *p_++;
  a.type = ValueType(tag);
  if (tag == uint8_t(ValueType::String)) {
    n = detail::load_u32(p_);
    a.string = StringRef{reinterpret_cast<const char*>(p_ + 4), n};
    p_ += 4 + n;
  } else if (tag == uint8_t(ValueType::Bool)) {
    a.bits = *p_++;
  } else {
    a.bits = detail::load_u64(p_);
    p_ += 8;
  }
  return true;
}

template <typename F>
DecodeError walk_spans_payload(const uint8_t* data, size_t size, F&& on_record, uint32_t* count_out) {
  if (size < 4) return DecodeError::Truncated;
  uint32_t count = detail::load_u32(data);
  if (count_out) *count_out = count;
  if (count > kMaxSpansPerMessage) return DecodeError::TooLarge;
  size_t pos = 4;
  SpanRecord record;
  for (uint32_t i = 0; i < count; ++i) {
    if (size - pos < 4) return DecodeError::Truncated;
    uint32_t len = detail::load_u32(data + pos);
    pos += 4;
    if (len > size - pos) return DecodeError::Truncated;
    DecodeError e = parse_span_record(data + pos, len, record);
    if (e != DecodeError::Ok) return e;
    on_record(static_cast<const uint8_t*>(data + pos), size_t(len), static_cast<const SpanRecord&>(record));
    pos += len;
  }
  if (pos != size) return DecodeError::TrailingBytes;
  return DecodeError::Ok;
}

template <typename F>
DecodeError decode_spans_payload(const uint8_t* data, size_t size, Span& scratch, F&& on_span, uint32_t* count_out) {
  return walk_spans_payload(
      data, size,
      [&](const uint8_t*, size_t, const SpanRecord& record) {
        copy_span(record, scratch);
        on_span(static_cast<const Span&>(scratch));
      },
      count_out);
}

}  // namespace agent_run::wire
