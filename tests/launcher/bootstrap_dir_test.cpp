#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>
#include <vector>

#include "launcher/bootstrap_dir.hpp"
#include "launcher/file_util.hpp"
#include "temp_dir.hpp"

using namespace agent_run::launcher;

namespace {
std::string temp_dir() { return launcher_test::temp_dir("agent-run-boot"); }

// A fake installation: share/agent-run/bootstrap/{sitecustomize.py, _agent_run/*}.
InstallLayout fake_install(const std::string& root) {
  std::string err;
  REQUIRE(make_dirs(root + "/share/agent-run/bootstrap/_agent_run", 0755, err));
  std::ofstream(root + "/share/agent-run/bootstrap/_agent_run/__init__.py") << "# pkg\n";
  std::ofstream(root + "/share/agent-run/bootstrap/sitecustomize.py") << "VERSION = '0.1.0'\n";
  InstallLayout l;
  l.share_dir = root + "/share/agent-run";
  return l;
}
}  // namespace

TEST_CASE("the bootstrap dir is generated once and reused") {
  const std::string root = temp_dir();
  const auto layout = fake_install(root);
  BootstrapDir a, b;
  std::string err;
  REQUIRE(ensure_bootstrap_dir(layout, root + "/cache", a, err));
  CHECK(a.created);
  REQUIRE(ensure_bootstrap_dir(layout, root + "/cache", b, err));
  CHECK_FALSE(b.created);
  CHECK(a.path == b.path);
  std::string text;
  REQUIRE(read_file(a.path + "/sitecustomize.py", text, err));
  CHECK(text == "VERSION = '0.1.0'\n");
  CHECK(path_exists(a.path + "/_agent_run/__init__.py"));
  struct stat st;
  REQUIRE(::stat((root + "/cache").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  remove_tree(root);
}

TEST_CASE("a changed installation gets a new bootstrap dir") {
  const std::string root = temp_dir();
  const auto layout = fake_install(root);
  BootstrapDir a, b;
  std::string err;
  REQUIRE(ensure_bootstrap_dir(layout, root + "/cache", a, err));
  std::ofstream(root + "/share/agent-run/bootstrap/_agent_run/__init__.py") << "# pkg, a longer version\n";
  REQUIRE(ensure_bootstrap_dir(layout, root + "/cache", b, err));
  CHECK(a.path != b.path);
  remove_tree(root);
}

TEST_CASE("concurrent generation yields one complete dir and no leftovers") {
  const std::string root = temp_dir();
  const auto layout = fake_install(root);
  std::vector<BootstrapDir> results(8);
  std::vector<int> ok(8, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      std::string err;
      ok[i] = ensure_bootstrap_dir(layout, root + "/cache", results[i], err);
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    CHECK(ok[i]);
    CHECK(results[i].path == results[0].path);
  }
  CHECK(path_exists(results[0].path + "/.complete"));
  // Only the final directory remains in the cache root.
  int entries = 0;
  FILE* ls = ::popen(("ls -A " + root + "/cache | wc -l").c_str(), "r");
  REQUIRE(ls != nullptr);
  REQUIRE(fscanf(ls, "%d", &entries) == 1);
  ::pclose(ls);
  CHECK(entries == 1);
  remove_tree(root);
}

TEST_CASE("an unsafe cache root is not used") {
  const std::string root = temp_dir();
  const auto layout = fake_install(root);
  std::string err;
  REQUIRE(make_dirs(root + "/cache", 0700, err));
  ::chmod((root + "/cache").c_str(), 0777);
  BootstrapDir b;
  REQUIRE(ensure_bootstrap_dir(layout, root + "/cache", b, err));
  CHECK(b.private_temp);
  CHECK(b.path.rfind(root + "/cache", 0) != 0);
  CHECK(err.find("writable by group or others") != std::string::npos);
  remove_tree(b.path);

  // A symlinked bootstrap dir (someone else's content) is refused.
  std::string why;
  ::symlink("/etc", (root + "/link").c_str());
  CHECK_FALSE(is_safe_dir(root + "/link", why));
  CHECK(why.find("symlink") != std::string::npos);
  remove_tree(root);
}

TEST_CASE("the build's fingerprint names the bootstrap dir; a malformed one is ignored") {
  const std::string root = temp_dir();
  const auto layout = fake_install(root);
  std::string err;
  REQUIRE(write_file(root + "/share/agent-run/bootstrap.id", "0123abcd\n", 0644, err));
  BootstrapDir a;
  REQUIRE(ensure_bootstrap_dir(layout, root + "/cache", a, err));
  CHECK(a.path.size() > 9);
  CHECK(a.path.compare(a.path.size() - 9, 9, "-0123abcd") == 0);
  CHECK(path_exists(a.path + "/_agent_run/__init__.py"));

  REQUIRE(write_file(root + "/share/agent-run/bootstrap.id", "../../evil\n", 0644, err));
  BootstrapDir b;
  REQUIRE(ensure_bootstrap_dir(layout, root + "/cache", b, err));
  CHECK(b.path.find("evil") == std::string::npos);
  CHECK(b.path != a.path);
  remove_tree(root);
}
