// Built with ASan and UBSan: mutated, truncated and random inputs must give an
// error (or a valid decode), never a read outside the given bytes.
#include <catch2/catch.hpp>

#include <random>

#include "test_helpers.hpp"
#include "wire/protocol.hpp"

using namespace agent_run::wire;

TEST_CASE("mutated SPANS payloads never crash the decoder") {
  std::vector<Span> spans = {wire_test::sample_span(1), wire_test::sample_span(2), wire_test::sample_span(3)};
  std::string msg;
  append_spans_message(spans, msg);
  const std::string payload = msg.substr(kHeaderSize);
  std::mt19937 rng(12345);
  Span scratch;
  size_t ok = 0, rejected = 0;
  for (int round = 0; round < 30000; ++round) {
    std::string m = payload;
    int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = char(rng() & 0xff);
    size_t len = (round % 3 == 0) ? rng() % (m.size() + 1) : m.size();
    // An exactly-sized heap copy, so ASan sees any read past the end.
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len ? len : 1]);
    std::memcpy(buf.get(), m.data(), len);
    auto e = decode_spans_payload(buf.get(), len, scratch, [](const Span&) {});
    (e == DecodeError::Ok ? ok : rejected)++;
  }
  CHECK(rejected > 0);
  CHECK(ok + rejected == 30000);
}

TEST_CASE("random bytes as header, HELLO and STATS never crash the decoder") {
  std::mt19937 rng(777);
  Header h;
  Hello hello;
  Stats st;
  Span scratch;
  size_t header_ok = 0;
  for (int round = 0; round < 30000; ++round) {
    size_t len = rng() % 80;
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len ? len : 1]);
    for (size_t i = 0; i < len; ++i) buf[i] = uint8_t(rng());
    if (len >= 4 && round % 2 == 0) {  // valid magic, so later checks run too
      buf[0] = 'A'; buf[1] = 'R'; buf[2] = 'R'; buf[3] = 'W';
    }
    if (decode_header(buf.get(), len, h) == DecodeError::Ok) ++header_ok;
    decode_hello(buf.get(), len, hello);
    decode_stats(buf.get(), len, st);
    decode_span(buf.get(), len, scratch);
  }
  CHECK(header_ok < 30000);
}
