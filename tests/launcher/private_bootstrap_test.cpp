// remove_private_bootstrap: what the collector's standby and the collector
// remove once the app is gone. It must remove a private bootstrap whole and
// nothing else: not a directory of another name, not through a symlink.
#include <catch2/catch.hpp>

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "launcher/file_util.hpp"
#include "launcher/freestanding/private_bootstrap.hpp"
#include "temp_dir.hpp"

using agent_run::launcher::freestanding::remove_private_bootstrap;

namespace {

std::string temp_dir() { return launcher_test::temp_dir("agent-run-rm-test"); }

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

// A bootstrap's shape: files, a package, Python's __pycache__ below it.
void fill(const std::string& dir) {
  REQUIRE(::mkdir((dir + "/_agent_run").c_str(), 0755) == 0);
  REQUIRE(::mkdir((dir + "/_agent_run/plugins").c_str(), 0755) == 0);
  REQUIRE(::mkdir((dir + "/_agent_run/plugins/__pycache__").c_str(), 0755) == 0);
  std::ofstream(dir + "/sitecustomize.py") << "# boot\n";
  std::ofstream(dir + "/_agent_run/__init__.py") << "\n";
  std::ofstream(dir + "/_agent_run/plugins/__pycache__/x.cpython-311.pyc") << "pyc";
}

}  // namespace

TEST_CASE("a private bootstrap is removed whole", "[private_bootstrap]") {
  const std::string root = temp_dir();
  const std::string boot = root + "/agent-run-bootstrap-abc123";
  REQUIRE(::mkdir(boot.c_str(), 0755) == 0);
  fill(boot);
  // Many entries: more than one getdents64 buffer.
  for (int i = 0; i < 200; ++i) std::ofstream(boot + "/_agent_run/file-with-a-long-name-" + std::to_string(i) + ".py");
  CHECK(remove_private_bootstrap(boot.c_str()) == 0);
  CHECK_FALSE(exists(boot));
  CHECK(remove_private_bootstrap(boot.c_str()) == -ENOENT);
  agent_run::launcher::remove_tree(root);
}

TEST_CASE("a symlink inside is removed, never followed", "[private_bootstrap]") {
  const std::string root = temp_dir();
  const std::string outside = root + "/precious";
  REQUIRE(::mkdir(outside.c_str(), 0755) == 0);
  std::ofstream(outside + "/data.txt") << "keep me\n";
  const std::string boot = root + "/agent-run-bootstrap-xyz";
  REQUIRE(::mkdir(boot.c_str(), 0755) == 0);
  fill(boot);
  REQUIRE(::symlink(outside.c_str(), (boot + "/_agent_run/link").c_str()) == 0);
  CHECK(remove_private_bootstrap(boot.c_str()) == 0);
  CHECK_FALSE(exists(boot));
  CHECK(exists(outside + "/data.txt"));
  agent_run::launcher::remove_tree(root);
}

TEST_CASE("anything but a private bootstrap is refused", "[private_bootstrap]") {
  const std::string root = temp_dir();
  const std::string other = root + "/my-project";
  REQUIRE(::mkdir(other.c_str(), 0755) == 0);
  fill(other);
  CHECK(remove_private_bootstrap(other.c_str()) == -EPERM);
  CHECK(exists(other + "/sitecustomize.py"));
  // A symlink named like one, to a directory of the user's: not followed.
  const std::string link = root + "/agent-run-bootstrap-link";
  REQUIRE(::symlink(other.c_str(), link.c_str()) == 0);
  CHECK(remove_private_bootstrap(link.c_str()) < 0);
  CHECK(exists(link));
  CHECK(exists(other + "/sitecustomize.py"));
  // Relative paths and null.
  CHECK(remove_private_bootstrap("agent-run-bootstrap-x") == -EPERM);
  CHECK(remove_private_bootstrap(nullptr) == -EPERM);
  agent_run::launcher::remove_tree(root);
}

TEST_CASE("a bootstrap owned by another user is refused", "[private_bootstrap]") {
  if (::geteuid() != 0) {
    WARN("skipped: needs root to give a directory to another user");
    return;
  }
  const std::string root = temp_dir();
  const std::string boot = root + "/agent-run-bootstrap-theirs";
  REQUIRE(::mkdir(boot.c_str(), 0755) == 0);
  fill(boot);
  REQUIRE(::chown(boot.c_str(), 65534, 65534) == 0);
  CHECK(remove_private_bootstrap(boot.c_str()) == -EPERM);
  CHECK(exists(boot + "/sitecustomize.py"));
  agent_run::launcher::remove_tree(root);
}
