#include <catch2/catch.hpp>

#include "collector/utf8.hpp"

using agent_run::collector::is_valid_utf8;
using agent_run::collector::sanitize_utf8;

TEST_CASE("valid UTF-8 is left alone") {
  std::string s = "plain \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";
  CHECK(is_valid_utf8(s.data(), s.size()));
  CHECK_FALSE(sanitize_utf8(s));
  CHECK(s == "plain \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST_CASE("a non-ASCII byte at every position of every short length is seen") {
  // The ASCII check reads overlapping words: every length and position.
  for (size_t n = 1; n <= 20; ++n) {
    for (size_t pos = 0; pos < n; ++pos) {
      std::string s(n, 'a');
      s[pos] = '\xFF';
      INFO(pos << " of " << n);
      CHECK_FALSE(is_valid_utf8(s.data(), s.size()));
      CHECK(sanitize_utf8(s));
      CHECK(s.find("\xEF\xBF\xBD") == pos);
    }
    std::string ascii(n, 'a');
    CHECK(is_valid_utf8(ascii.data(), ascii.size()));
    CHECK_FALSE(sanitize_utf8(ascii));
  }
}

TEST_CASE("invalid sequences become U+FFFD") {
  const std::string bad[] = {
      "\xFF",              // never valid
      "\xC3",              // truncated
      "\xC0\xAF",          // overlong
      "\xED\xA0\x80",      // surrogate
      "\xF4\x90\x80\x80",  // above U+10FFFF
      "\x80",              // lone continuation
  };
  for (const auto& b : bad) {
    std::string s = "a" + b + "z";
    INFO("case " << b.size());
    CHECK_FALSE(is_valid_utf8(s.data(), s.size()));
    CHECK(sanitize_utf8(s));
    CHECK(is_valid_utf8(s.data(), s.size()));
    CHECK(s.front() == 'a');
    CHECK(s.back() == 'z');
    CHECK(s.find("\xEF\xBF\xBD") != std::string::npos);
  }
}
