#pragma once
// A fresh directory under /tmp for one test case (the caller removes it).
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <string>

namespace launcher_test {

inline std::string temp_dir(const char* prefix = "agent-run-test") {
  std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
  REQUIRE(::mkdtemp(&tmpl[0]) != nullptr);
  return tmpl;
}

}  // namespace launcher_test
