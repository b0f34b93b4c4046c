#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "test_helpers.hpp"
#include "wire/protocol.hpp"

using namespace agent_run::wire;

namespace {

bool same(const Span& a, const Span& b) {
  if (std::memcmp(a.trace_id, b.trace_id, 16) || std::memcmp(a.span_id, b.span_id, 8) ||
      std::memcmp(a.parent_span_id, b.parent_span_id, 8))
    return false;
  if (a.trace_flags != b.trace_flags || a.name != b.name || a.kind != b.kind || a.start_unix_nano != b.start_unix_nano ||
      a.end_unix_nano != b.end_unix_nano || a.status_code != b.status_code || a.status_message != b.status_message ||
      a.dropped_attributes_count != b.dropped_attributes_count)
    return false;
  if (a.attributes.size() != b.attributes.size() || a.events.size() != b.events.size()) return false;
  for (size_t i = 0; i < a.attributes.size(); ++i)
    if (a.attributes[i].key != b.attributes[i].key || a.attributes[i].value != b.attributes[i].value) return false;
  for (size_t i = 0; i < a.events.size(); ++i) {
    if (a.events[i].name != b.events[i].name || a.events[i].time_unix_nano != b.events[i].time_unix_nano) return false;
    if (a.events[i].attributes.size() != b.events[i].attributes.size()) return false;
  }
  return true;
}

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace

TEST_CASE("a span survives encode and decode unchanged") {
  Span in = wire_test::sample_span(7);
  std::string buf;
  append_span(in, buf);
  REQUIRE(buf.size() == encoded_span_size(in));
  Span out;
  REQUIRE(decode_span(bytes(buf), buf.size(), out) == DecodeError::Ok);
  CHECK(same(in, out));
  CHECK(std::get<int64_t>(out.attributes[1].value) == -500);
  CHECK(std::get<double>(out.attributes[2].value) == 0.25);
  CHECK(std::get<bool>(out.attributes[3].value) == true);
}

TEST_CASE("a record checked in place reads back as the span, also without a second check") {
  Span in = wire_test::sample_span(7);
  in.events.push_back({99, "second", {{"k", std::string("v")}, {"n", int64_t(3)}}});
  std::string buf;
  append_span(in, buf);
  SpanRecord rec;
  REQUIRE(parse_span_record(bytes(buf), buf.size(), rec) == DecodeError::Ok);
  CHECK(std::string(rec.name.data, rec.name.size) == in.name);
  CHECK(rec.attribute_count == in.attributes.size());
  CHECK(rec.event_count == in.events.size());
  Span out;
  copy_span(rec, out);
  CHECK(same(in, out));
  // What the collector keeps: the bytes and where the events start.
  Span again;
  copy_span(checked_span_record(bytes(buf), events_offset(bytes(buf), rec)), again);
  CHECK(same(in, again));
  CHECK(std::get<std::string>(again.events[1].attributes[0].value) == "v");
  CHECK(std::get<int64_t>(again.events[1].attributes[1].value) == 3);
  // Every truncation is refused by the check.
  for (size_t n = 0; n < buf.size(); ++n) CHECK(parse_span_record(bytes(buf), n, rec) != DecodeError::Ok);
}

TEST_CASE("a span written field by field is the bytes encode_span writes for it") {
  Span in;
  for (int i = 0; i < 16; ++i) in.trace_id[i] = uint8_t(i + 1);
  for (int i = 0; i < 8; ++i) in.span_id[i] = uint8_t(0x40 + i);
  for (int i = 0; i < 8; ++i) in.parent_span_id[i] = uint8_t(0x80 + i);
  in.trace_flags = 1;
  in.kind = SpanKind::Client;
  in.name = "SELECT";
  in.start_unix_nano = 1700000000123456789ull;
  in.end_unix_nano = in.start_unix_nano + 2500;
  in.attributes = {{"db.system", std::string("sqlite")}, {"db.statement", std::string(70000, 'x')}};
  std::string expected;
  append_span(in, expected);

  std::string out(expected.size() + 64, '\0');
  const std::string& statement = std::get<std::string>(in.attributes[1].value);
  size_t size = kSpanHeadBytes + encoded_string_size(in.name.size()) + encoded_string_size(0) + 4 +
                encoded_string_attribute_size(9, 6) + encoded_string_attribute_size(12, statement.size()) + 4;
  auto* p = reinterpret_cast<uint8_t*>(&out[0]);
  uint8_t* end = put_span_head(p, SpanHead{in.trace_id, in.span_id, in.parent_span_id, in.trace_flags, in.kind,
                                           in.status_code, in.start_unix_nano, in.end_unix_nano});
  end = put_string(end, in.name.data(), in.name.size());
  end = put_string(end, "", 0);
  end = put_count(end, 2);
  end = put_string_attribute(end, "db.system", 9, "sqlite", 6);
  end = put_string_attribute(end, "db.statement", 12, statement.data(), statement.size());  // cut at 64 KiB, as encode_span
  end = put_count(end, 0);
  REQUIRE(size_t(end - p) == size);
  REQUIRE(size == expected.size());
  CHECK(out.compare(0, size, expected) == 0);
}

TEST_CASE("attributes already encoded go first and decode like the others") {
  Span in = wire_test::sample_span(7);
  in.attributes = {{"http.route", std::string("/items/<id>")}, {"ok", true}};
  // What a recorder writes at the start: one string, one int.
  std::string pre(encoded_string_attribute_size(8, 6) + encoded_int_attribute_size(11), '\0');
  auto* q = reinterpret_cast<uint8_t*>(&pre[0]);
  q = put_string_attribute(q, "url.path", 8, "/items", 6);
  q = put_int_attribute(q, "server.port", 11, -8080);
  REQUIRE(q == reinterpret_cast<uint8_t*>(&pre[0]) + pre.size());
  EncodedAttributes first{reinterpret_cast<const uint8_t*>(pre.data()), pre.size(), 2};

  CHECK(has_key(first, "url.path", 8));
  CHECK(has_key(first, "server.port", 11));
  CHECK_FALSE(has_key(first, "url.pat", 7));
  CHECK_FALSE(has_key(first, "http.route", 10));

  std::vector<uint8_t> record(encoded_span_size(in, first));
  REQUIRE(encode_span(in, first, record.data()) == record.data() + record.size());
  Span out;
  REQUIRE(decode_span(record.data(), record.size(), out) == DecodeError::Ok);
  Span expected = in;
  expected.attributes.insert(expected.attributes.begin(),
                             {{"url.path", std::string("/items")}, {"server.port", int64_t(-8080)}});
  CHECK(same(out, expected));

  std::vector<Attribute> decoded = {{"kept", int64_t(1)}};
  REQUIRE(decode_attributes(first.data, first.size, 2, decoded) == DecodeError::Ok);
  REQUIRE(decoded.size() == 3);
  CHECK(decoded[1].key == "url.path");
  CHECK(std::get<int64_t>(decoded[2].value) == -8080);
  std::vector<Attribute> more;
  CHECK(decode_attributes(first.data, first.size, 1, more) != DecodeError::Ok);  // bytes left over
  CHECK(decode_attributes(first.data, first.size - 1, 2, more) != DecodeError::Ok);  // truncated
}

TEST_CASE("attributes already encoded count against the wire's attribute limit") {
  Span in = wire_test::sample_span(1);
  in.attributes.clear();
  for (uint32_t i = 0; i < kMaxAttributes; ++i) in.attributes.push_back({"k" + std::to_string(i), int64_t(i)});
  std::string pre(encoded_int_attribute_size(1) * 3, '\0');
  auto* q = reinterpret_cast<uint8_t*>(&pre[0]);
  for (const char* k : {"a", "b", "c"}) q = put_int_attribute(q, k, 1, 5);
  EncodedAttributes first{reinterpret_cast<const uint8_t*>(pre.data()), pre.size(), 3};
  std::vector<uint8_t> record(encoded_span_size(in, first));
  REQUIRE(encode_span(in, first, record.data()) == record.data() + record.size());
  Span out;
  REQUIRE(decode_span(record.data(), record.size(), out) == DecodeError::Ok);
  REQUIRE(out.attributes.size() == kMaxAttributes);
  CHECK(out.attributes[0].key == "a");
  CHECK(out.attributes[3].key == "k0");
  CHECK(out.dropped_attributes_count == in.dropped_attributes_count + 3);
}

TEST_CASE("a SPANS message decodes to its spans, in order") {
  std::vector<Span> spans = {wire_test::sample_span(1), wire_test::sample_span(2), wire_test::sample_span(3)};
  std::string msg;
  append_spans_message(spans, msg);
  Header h;
  REQUIRE(decode_header(bytes(msg), msg.size(), h) == DecodeError::Ok);
  CHECK(h.type == MessageType::Spans);
  REQUIRE(h.payload_length == msg.size() - kHeaderSize);
  std::vector<Span> got;
  Span scratch;
  uint32_t count = 0;
  auto e = decode_spans_payload(bytes(msg) + kHeaderSize, h.payload_length, scratch,
                                [&](const Span& s) { got.push_back(s); }, &count);
  REQUIRE(e == DecodeError::Ok);
  REQUIRE(count == 3);
  REQUIRE(got.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(same(spans[i], got[i]));
}

TEST_CASE("HELLO and STATS round-trip") {
  std::string msg;
  append_hello({4242, "0.1.0", "svc"}, msg);
  Header h;
  REQUIRE(decode_header(bytes(msg), msg.size(), h) == DecodeError::Ok);
  CHECK(h.type == MessageType::Hello);
  Hello hello;
  REQUIRE(decode_hello(bytes(msg) + kHeaderSize, h.payload_length, hello) == DecodeError::Ok);
  CHECK(hello.pid == 4242);
  CHECK(hello.agent_version == "0.1.0");
  CHECK(hello.service_name == "svc");

  msg.clear();
  Stats st;
  st.pid = 9;
  st.submitted = 10;
  st.sent = 5;
  st.dropped_buffer_full = 2;
  st.dropped_no_collector = 3;
  st.dropped_too_large = 1;
  append_stats(st, msg);
  REQUIRE(decode_header(bytes(msg), msg.size(), h) == DecodeError::Ok);
  Stats back;
  REQUIRE(decode_stats(bytes(msg) + kHeaderSize, h.payload_length, back) == DecodeError::Ok);
  CHECK(back.pid == 9);
  CHECK(back.dropped_no_collector == 3);
  CHECK(back.dropped_too_large == 1);
}

TEST_CASE("HEALTH round-trips and every truncation of it is rejected") {
  Health hl;
  hl.pid = 42;
  hl.plugins.push_back({"sqlite3", "active", 147, 0, ""});
  hl.plugins.push_back({"wsgi", "unplugged", 9, 3, "after: KeyError: 'x'"});
  std::string msg;
  append_health(hl, msg);
  Header h;
  REQUIRE(decode_header(bytes(msg), msg.size(), h) == DecodeError::Ok);
  CHECK(h.type == MessageType::Health);
  Health back;
  REQUIRE(decode_health(bytes(msg) + kHeaderSize, h.payload_length, back) == DecodeError::Ok);
  CHECK(back.pid == 42);
  REQUIRE(back.plugins.size() == 2);
  CHECK(back.plugins[1].name == "wsgi");
  CHECK(back.plugins[1].state == "unplugged");
  CHECK(back.plugins[1].calls == 9);
  CHECK(back.plugins[1].errors == 3);
  CHECK(back.plugins[1].last_error == "after: KeyError: 'x'");
  for (size_t cut = 0; cut < h.payload_length; ++cut)
    CHECK(decode_health(bytes(msg) + kHeaderSize, cut, back) != DecodeError::Ok);
  // A count far above what the bytes can hold is refused before allocating.
  std::string bad = msg.substr(kHeaderSize, 8);
  bad[4] = bad[5] = bad[6] = '\xff';
  bad[7] = 0;
  CHECK(decode_health(reinterpret_cast<const uint8_t*>(bad.data()), bad.size(), back) != DecodeError::Ok);
}

TEST_CASE("the header is checked: magic, version, type, reserved, payload limit") {
  std::string msg;
  append_hello({1, "v", "s"}, msg);
  Header h;
  auto with = [&](size_t off, uint8_t v) {
    std::string m = msg;
    m[off] = char(v);
    return decode_header(bytes(m), m.size(), h);
  };
  CHECK(with(0, 'X') == DecodeError::BadMagic);
  CHECK(with(4, 2) == DecodeError::BadVersion);
  CHECK(with(6, 0) == DecodeError::BadType);
  CHECK(with(6, 9) == DecodeError::BadType);
  CHECK(with(12, 1) == DecodeError::BadValue);
  CHECK(with(11, 0x01) == DecodeError::TooLarge);  // 16 MiB + ...
  CHECK(decode_header(bytes(msg), 15, h) == DecodeError::Truncated);
  CHECK(decode_header(bytes(msg), 0, h) == DecodeError::Truncated);
}

TEST_CASE("every truncation of a valid payload is rejected, never read past") {
  std::vector<Span> spans = {wire_test::sample_span(1), wire_test::sample_span(2)};
  std::string msg;
  append_spans_message(spans, msg);
  std::string payload = msg.substr(kHeaderSize);
  Span scratch;
  for (size_t n = 0; n < payload.size(); ++n) {
    std::vector<uint8_t> cut(payload.begin(), payload.begin() + long(n));  // exactly n bytes
    auto e = decode_spans_payload(cut.data(), cut.size(), scratch, [](const Span&) {});
    INFO("prefix length " << n);
    REQUIRE(e != DecodeError::Ok);
  }
  // One byte too many is rejected too.
  payload.push_back('\0');
  CHECK(decode_spans_payload(bytes(payload), payload.size(), scratch, [](const Span&) {}) == DecodeError::TrailingBytes);
}

TEST_CASE("counts and lengths above the limits are rejected before allocating") {
  Span scratch;
  // count of spans above the per-message limit
  uint8_t big_count[4] = {0xff, 0xff, 0xff, 0xff};
  CHECK(decode_spans_payload(big_count, 4, scratch, [](const Span&) {}) == DecodeError::TooLarge);
  // a span whose name claims 1 GiB
  std::string rec;
  append_span(wire_test::sample_span(1), rec);
  size_t name_len_at = 56;
  rec[name_len_at + 3] = 0x40;
  CHECK(decode_span(bytes(rec), rec.size(), scratch) == DecodeError::TooLarge);
  // an attribute count claiming more attributes than bytes remain
  Span s = wire_test::sample_span(1);
  s.name.clear();
  s.status_message.clear();
  std::string r2;
  append_span(s, r2);
  size_t attrs_at = 56 + 4 + 4;
  r2[attrs_at] = char(0xff);
  r2[attrs_at + 1] = 0x03;  // 1023 attributes
  CHECK(decode_span(bytes(r2), r2.size(), scratch) == DecodeError::Truncated);
  // an unknown attribute type tag
  std::string r3;
  Span t = wire_test::sample_span(1);
  t.attributes = {{"k", true}};
  append_span(t, r3);
  size_t tag_at = 56 + 4 + t.name.size() + 4 + t.status_message.size() + 4 + 4 + 1;
  REQUIRE(uint8_t(r3[tag_at]) == 4);
  r3[tag_at] = 9;
  CHECK(decode_span(bytes(r3), r3.size(), scratch) == DecodeError::BadValue);
  // a bool that is neither 0 nor 1, a span kind out of range
  r3[tag_at] = 4;
  r3[tag_at + 1] = 7;
  CHECK(decode_span(bytes(r3), r3.size(), scratch) == DecodeError::BadValue);
  std::string r4;
  append_span(wire_test::sample_span(1), r4);
  r4[33] = 6;  // kind
  CHECK(decode_span(bytes(r4), r4.size(), scratch) == DecodeError::BadValue);
  r4[33] = 2;
  r4[34] = 3;  // status
  CHECK(decode_span(bytes(r4), r4.size(), scratch) == DecodeError::BadValue);
  r4[34] = 2;
  r4[35] = 1;  // reserved
  CHECK(decode_span(bytes(r4), r4.size(), scratch) == DecodeError::BadValue);
  r4[35] = 0;
  CHECK(decode_span(bytes(r4), r4.size(), scratch) == DecodeError::Ok);
}

TEST_CASE("the encoder keeps spans within the protocol's limits") {
  Span s = wire_test::sample_span(1);
  s.name = std::string(kMaxString + 100, 'x');
  s.attributes.clear();
  for (uint32_t i = 0; i < kMaxAttributes + 10; ++i) s.attributes.push_back({"k" + std::to_string(i), int64_t(i)});
  std::string buf;
  append_span(s, buf);
  Span out;
  REQUIRE(decode_span(bytes(buf), buf.size(), out) == DecodeError::Ok);
  CHECK(out.name.size() == kMaxString);
  CHECK(out.attributes.size() == kMaxAttributes);
  CHECK(out.dropped_attributes_count == s.dropped_attributes_count + 10);
}
