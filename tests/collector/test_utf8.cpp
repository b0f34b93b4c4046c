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
