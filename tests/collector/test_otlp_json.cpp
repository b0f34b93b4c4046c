// The OTLP JSON writer against nlohmann::json (an implementation we did not
// write): the line must parse, and equal the document built with nlohmann
// from the same spans by the OTLP/JSON rules.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "agent_run/version.hpp"
#include "collector/otlp_json.hpp"
#include "collector/otlp_proto.hpp"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

using namespace agent_run;
using nlohmann::json;

namespace {

std::string hex(const uint8_t* b, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += d[b[i] >> 4];
    s += d[b[i] & 15];
  }
  return s;
}

json value_of(const wire::AttributeValue& v) {
  switch (v.index()) {
    case 0: return {{"stringValue", std::get<std::string>(v)}};
    case 1: return {{"intValue", std::to_string(std::get<int64_t>(v))}};
    case 2: return {{"doubleValue", std::get<double>(v)}};
    default: return {{"boolValue", std::get<bool>(v)}};
  }
}

json attrs_of(const std::vector<wire::Attribute>& attrs) {
  json a = json::array();
  for (const auto& x : attrs) a.push_back({{"key", x.key}, {"value", value_of(x.value)}});
  return a;
}

json expected_span(const wire::Span& s) {
  json j = {{"traceId", hex(s.trace_id, 16)},
            {"spanId", hex(s.span_id, 8)},
            {"flags", s.trace_flags},
            {"name", s.name},
            {"kind", int(s.kind)},
            {"startTimeUnixNano", std::to_string(s.start_unix_nano)},
            {"endTimeUnixNano", std::to_string(s.end_unix_nano)},
            {"attributes", attrs_of(s.attributes)},
            {"status", {{"code", int(s.status_code)}}}};
  static const uint8_t zero[8] = {};
  if (std::memcmp(s.parent_span_id, zero, 8)) j["parentSpanId"] = hex(s.parent_span_id, 8);
  if (!s.status_message.empty()) j["status"]["message"] = s.status_message;
  if (s.dropped_attributes_count) j["droppedAttributesCount"] = s.dropped_attributes_count;
  if (!s.events.empty()) {
    j["events"] = json::array();
    for (const auto& e : s.events)
      j["events"].push_back(
          {{"timeUnixNano", std::to_string(e.time_unix_nano)}, {"name", e.name}, {"attributes", attrs_of(e.attributes)}});
  }
  return j;
}

wire::Span make_span(uint8_t n, bool root) {
  wire::Span s;
  for (int i = 0; i < 16; ++i) s.trace_id[i] = uint8_t(0xF0 + i + n);
  for (int i = 0; i < 8; ++i) s.span_id[i] = uint8_t(n * 16 + i);
  if (!root)
    for (int i = 0; i < 8; ++i) s.parent_span_id[i] = uint8_t(0xAB);
  s.name = std::string("q\"uo\\te \x01 tab\t nl\n \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80 ") + char('0' + n);
  s.kind = root ? wire::SpanKind::Server : wire::SpanKind::Client;
  s.start_unix_nano = 18446744073709551615ull - n;  // the largest u64: must survive as a string
  s.end_unix_nano = 1;
  s.status_code = root ? wire::StatusCode::Error : wire::StatusCode::Unset;
  s.status_message = root ? "bad \"thing\"" : "";
  s.attributes = {{"s", std::string("v\x7f")}, {"i", int64_t(-9223372036854775807ll - 1)},
                  {"d", 0.1}, {"big", 1e300}, {"b", false}, {"", std::string()}};
  if (root) s.events = {{42, "ev", {{"k", int64_t(1)}}}};
  s.dropped_attributes_count = root ? 2 : 0;
  return s;
}

std::vector<wire::Span> make_spans() {
  std::vector<wire::Span> spans;
  for (uint8_t i = 0; i < 6; ++i) spans.push_back(make_span(i, i % 3 == 0));
  return spans;
}

// The spans' records as the collector keeps them, from two processes (even
// indexes from the first).
collector::SpanBatch make_batch(const std::vector<wire::Span>& spans = make_spans()) {
  collector::SpanBatch b;
  auto r1 = std::make_shared<collector::ResourceInfo>(collector::ResourceInfo{11, "svc-a", "0.1.0"});
  auto r2 = std::make_shared<collector::ResourceInfo>(collector::ResourceInfo{22, "svc \"b\"", "0.1.0"});
  b.resources = {r1, r2};
  for (size_t i = 0; i < spans.size(); ++i) b.add(uint32_t(i % 2), spans[i]);
  return b;
}

}  // namespace

TEST_CASE("OTLP JSON line equals the document nlohmann builds by the OTLP/JSON rules") {
  const std::vector<wire::Span> spans_in = make_spans();
  collector::SpanBatch b = make_batch(spans_in);
  std::string line;
  collector::append_otlp_json_line(b, line);
  REQUIRE(!line.empty());
  REQUIRE(line.back() == '\n');
  REQUIRE(line.find('\n') == line.size() - 1);  // exactly one line
  json got = json::parse(line);

  json expected = {{"resourceSpans", json::array()}};
  for (uint32_t r = 0; r < 2; ++r) {
    const auto& info = *b.resources[r];
    json spans = json::array();
    for (size_t i = 0; i < spans_in.size(); ++i)
      if (i % 2 == r) spans.push_back(expected_span(spans_in[i]));
    expected["resourceSpans"].push_back(
        {{"resource",
          {{"attributes",
            {{{"key", "service.name"}, {"value", {{"stringValue", info.service_name}}}},
             {{"key", "process.pid"}, {"value", {{"intValue", std::to_string(info.pid)}}}},
             {{"key", "telemetry.sdk.name"}, {"value", {{"stringValue", "agent-run"}}}},
             {{"key", "telemetry.sdk.language"}, {"value", {{"stringValue", "python"}}}},
             {{"key", "telemetry.sdk.version"}, {"value", {{"stringValue", info.agent_version}}}}}}}},
         {"scopeSpans", {{{"scope", {{"name", "agent-run"}, {"version", agent_run::kVersion}}}, {"spans", spans}}}}});
  }
  CHECK(got == expected);
}

TEST_CASE("non-finite doubles use the proto3 JSON strings") {
  std::vector<wire::Span> spans = make_spans();
  spans[0].attributes = {{"nan", std::nan("")}, {"inf", HUGE_VAL}, {"ninf", -HUGE_VAL}};
  collector::SpanBatch b = make_batch(spans);
  std::string line;
  collector::append_otlp_json_line(b, line);
  json got = json::parse(line);
  const json& attrs = got["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"];
  CHECK(attrs[0]["value"]["doubleValue"] == "NaN");
  CHECK(attrs[1]["value"]["doubleValue"] == "Infinity");
  CHECK(attrs[2]["value"]["doubleValue"] == "-Infinity");
}

TEST_CASE("the protobuf request carries the batch (parsed back with libprotobuf)") {
  const std::vector<wire::Span> spans = make_spans();
  collector::SpanBatch b = make_batch(spans);
  std::string bytes = collector::encode_otlp_request(b);
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest req;
  REQUIRE(req.ParseFromString(bytes));
  REQUIRE(req.resource_spans_size() == 2);
  const auto& rs = req.resource_spans(1);
  CHECK(rs.resource().attributes(0).value().string_value() == "svc \"b\"");
  CHECK(rs.resource().attributes(1).value().int_value() == 22);
  const auto& span = rs.scope_spans(0).spans(0);  // batch index 1: a child span
  CHECK(span.trace_id() == std::string(reinterpret_cast<const char*>(spans[1].trace_id), 16));
  CHECK(span.parent_span_id() == std::string(8, '\xAB'));
  CHECK(span.start_time_unix_nano() == spans[1].start_unix_nano);
  CHECK(span.kind() == opentelemetry::proto::trace::v1::Span::SPAN_KIND_CLIENT);
  CHECK(span.attributes(1).value().int_value() == INT64_MIN);
  CHECK(span.flags() == 1u);
  const auto& root = req.resource_spans(0).scope_spans(0).spans(0);
  CHECK(root.parent_span_id().empty());
  CHECK(root.status().code() == opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  CHECK(root.events(0).name() == "ev");
}

TEST_CASE("JSON strings: every special byte at every position round-trips through nlohmann") {
  std::vector<std::string> specials = {"\"", "\\", "\n", "\x01", "\x1f", "\t", "\x7f", "\xC3\xA9", " "};
  for (const auto& sp : specials) {
    for (size_t pos = 0; pos < 24; ++pos) {
      std::string s = std::string(pos, 'a') + sp + std::string(24 - pos, 'b');
      std::string out;
      collector::append_json_string(out, s);
      INFO("special " << int((unsigned char)sp[0]) << " at " << pos);
      CHECK(json::parse(out).get<std::string>() == s);
    }
  }
  std::string empty;
  collector::append_json_string(empty, "");
  CHECK(empty == "\"\"");
}

TEST_CASE("JSON strings: a special byte at every position of every short length is escaped") {
  // Short strings are checked in overlapping words (1-3 bytes, 4-7, 8 and up):
  // every length and position, so that no byte escapes the check.
  for (const char* sp : {"\"", "\\", "\x01", "\x1f"}) {
    for (size_t n = 1; n <= 20; ++n) {
      for (size_t pos = 0; pos < n; ++pos) {
        std::string s(n, 'a');
        s[pos] = sp[0];
        std::string out;
        collector::append_json_string(out, s);
        INFO("byte " << int((unsigned char)sp[0]) << " at " << pos << " of " << n);
        CHECK(out.size() > n + 2);  // escaped
        CHECK(json::parse(out).get<std::string>() == s);
      }
      std::string clean(n, 'a');
      std::string out;
      collector::append_json_string(out, clean);
      CHECK(out == "\"" + clean + "\"");
    }
  }
}

#include <google/protobuf/util/json_util.h>

namespace {

std::string b64(const std::string& raw) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < raw.size(); i += 3) {
    uint32_t v = (uint8_t(raw[i]) << 16) | (uint8_t(raw[i + 1]) << 8) | uint8_t(raw[i + 2]);
    for (int k = 3; k >= 0; --k) out += t[(v >> (6 * k)) & 63];
  }
  if (raw.size() - i == 1) {
    uint32_t v = uint8_t(raw[i]) << 16;
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
    out += "==";
  } else if (raw.size() - i == 2) {
    uint32_t v = (uint8_t(raw[i]) << 16) | (uint8_t(raw[i + 1]) << 8);
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out += char(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

}  // namespace

TEST_CASE("every OTLP JSON field name and type is one of the OTLP messages' (protobuf's JSON parser, strict)") {
  const std::vector<wire::Span> spans = make_spans();
  collector::SpanBatch b = make_batch(spans);
  std::string line;
  collector::append_otlp_json_line(b, line);
  json doc = json::parse(line);
  // OTLP/JSON differs from proto3 JSON only in the ids (hex, not base64): convert them back.
  for (auto& rs : doc["resourceSpans"])
    for (auto& ss : rs["scopeSpans"])
      for (auto& sp : ss["spans"])
        for (const char* k : {"traceId", "spanId", "parentSpanId"})
          if (sp.contains(k)) sp[k] = b64(unhex(sp[k].get<std::string>()));
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest req;
  google::protobuf::util::JsonParseOptions strict;
  strict.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(doc.dump(), &req, strict);
  INFO(status.ToString());
  REQUIRE(status.ok());
  REQUIRE(req.resource_spans_size() == 2);
  const auto& sp = req.resource_spans(0).scope_spans(0).spans(0);
  CHECK(sp.trace_id() == std::string(reinterpret_cast<const char*>(spans[0].trace_id), 16));
  CHECK(sp.start_time_unix_nano() == spans[0].start_unix_nano);
  CHECK(sp.status().code() == opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  CHECK(sp.events(0).time_unix_nano() == 42u);
  CHECK(sp.dropped_attributes_count() == 2u);
  CHECK(sp.attributes(1).value().int_value() == INT64_MIN);
  CHECK(req.resource_spans(1).resource().attributes(1).value().int_value() == 22);
}
