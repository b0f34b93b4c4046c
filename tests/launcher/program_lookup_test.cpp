#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "launcher/file_util.hpp"
#include "launcher/program_lookup.hpp"

using namespace agent_run::launcher;

namespace {
std::string temp_dir() {
  char tmpl[] = "/tmp/agent-run-lookup-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  return tmpl;
}
void make_file(const std::string& path, int mode) {
  std::ofstream(path) << "#!/bin/sh\n";
  ::chmod(path.c_str(), mode);
}
}  // namespace

TEST_CASE("find_program searches PATH in order like a shell") {
  const std::string d1 = temp_dir(), d2 = temp_dir();
  make_file(d1 + "/tool", 0644);  // not executable: skipped when an executable one exists
  make_file(d2 + "/tool", 0755);
  auto r = find_program("tool", d1 + ":" + d2);
  CHECK(r.exit_code == 0);
  CHECK(r.path == d2 + "/tool");

  r = find_program("tool", d1);
  CHECK(r.exit_code == 126);
  CHECK(r.error.find("not executable") != std::string::npos);

  r = find_program("no-such-tool", d1 + ":" + d2);
  CHECK(r.exit_code == 127);
  CHECK(r.error.find("not found") != std::string::npos);
  remove_tree(d1);
  remove_tree(d2);
}

TEST_CASE("find_program uses a name with a slash as given") {
  const std::string d = temp_dir();
  make_file(d + "/x", 0755);
  make_file(d + "/y", 0600);
  CHECK(find_program(d + "/x", "").path == d + "/x");
  CHECK(find_program(d + "/y", "").exit_code == 126);
  CHECK(find_program(d + "/z", "").exit_code == 127);
  remove_tree(d);
}
