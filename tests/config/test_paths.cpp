// Which config file is used, and the directories left to defaults.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <climits>

#include "config/config.hpp"
#include "helpers.hpp"

using namespace agent_run::config;

namespace {
// Runs `f` with the working directory set to `dir`, then goes back.
template <typename F>
void in_directory(const std::string& dir, F f) {
  char old[PATH_MAX];
  REQUIRE(::getcwd(old, sizeof old));
  REQUIRE(::chdir(dir.c_str()) == 0);
  f();
  REQUIRE(::chdir(old) == 0);
}
}  // namespace

TEST_CASE("find_config_file: AGENT_RUN_CONFIG, ./agent-run.toml, XDG, none", "[paths]") {
  test::TempDir dir;
  const std::string home = dir.file("home");
  const std::string work = dir.file("work");
  REQUIRE(::mkdir(home.c_str(), 0755) == 0);
  REQUIRE(::mkdir(work.c_str(), 0755) == 0);
  in_directory(work, [&] {
    CHECK(find_config_file(map_environment({{"HOME", home}})).empty());
    // Named explicitly: returned even if missing, so the launch reports it.
    CHECK(find_config_file(map_environment({{"AGENT_RUN_CONFIG", "/nope.toml"}, {"HOME", home}})) == "/nope.toml");

    REQUIRE(::mkdir((home + "/.config").c_str(), 0755) == 0);
    REQUIRE(::mkdir((home + "/.config/agent-run").c_str(), 0755) == 0);
    test::write_file(home + "/.config/agent-run/agent-run.toml", "");
    CHECK(find_config_file(map_environment({{"HOME", home}})) == home + "/.config/agent-run/agent-run.toml");
    // A relative XDG_CONFIG_HOME is invalid (XDG spec) and ignored.
    CHECK(find_config_file(map_environment({{"HOME", home}, {"XDG_CONFIG_HOME", "rel"}})) ==
          home + "/.config/agent-run/agent-run.toml");
    CHECK(find_config_file(map_environment({{"HOME", home}, {"XDG_CONFIG_HOME", dir.path}})).empty());

    test::write_file(work + "/agent-run.toml", "");
    char cwd[PATH_MAX];
    REQUIRE(::getcwd(cwd, sizeof cwd));
    // Absolute, so that a child process that changed directory reads the same file.
    CHECK(find_config_file(map_environment({{"HOME", home}})) == std::string(cwd) + "/agent-run.toml");
    CHECK(find_config_file(map_environment({{"AGENT_RUN_CONFIG", "/x.toml"}})) == "/x.toml");
  });
}

TEST_CASE("effective data_dir and local trace directory", "[paths]") {
  Config c;
  CHECK(effective_data_dir(c, map_environment({{"HOME", "/home/u"}})) == "/home/u/.local/share/agent-run");
  CHECK(effective_data_dir(c, map_environment({{"HOME", "/home/u"}, {"XDG_DATA_HOME", "/data"}})) ==
        "/data/agent-run");
  CHECK(effective_local_path(c, map_environment({{"XDG_DATA_HOME", "/data"}})) == "/data/agent-run/traces");
  CHECK(effective_data_dir(c, map_environment({})).rfind("/tmp/agent-run-", 0) == 0);
  c.set("data_dir", std::string("/srv/ar"), "test");
  CHECK(effective_local_path(c, map_environment({})) == "/srv/ar/traces");
  c.set("exporter.local.path", std::string("/var/traces"), "test");
  CHECK(effective_local_path(c, map_environment({})) == "/var/traces");
}
