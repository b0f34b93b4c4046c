// generate-config and check-config.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <sys/stat.h>

#include <sstream>

#include "config/commands.hpp"
#include "helpers.hpp"

using namespace agent_run::config;

namespace {
std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(path.c_str())) {
    while (auto* e = ::readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
    ::closedir(d);
  }
  return out;
}
}  // namespace

TEST_CASE("generate-config writes the template, mode 0644, leaving no temporary file", "[commands]") {
  test::TempDir dir;
  std::ostringstream out, err;
  const std::string path = dir.file("agent-run.toml");
  REQUIRE(generate_config(path, false, out, err) == 0);
  CHECK(err.str().empty());
  CHECK(out.str().find(path) != std::string::npos);
  CHECK(test::read_file(path) == render_template());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);
  CHECK(list_dir(dir.path) == std::vector<std::string>{"agent-run.toml"});
}

TEST_CASE("generate-config never overwrites without --force", "[commands]") {
  test::TempDir dir;
  const std::string path = dir.file("agent-run.toml");
  const std::string mine = "# mine\nservice_name = \"precious\"\n";
  test::write_file(path, mine);
  std::ostringstream out, err;
  CHECK(generate_config(path, false, out, err) == 1);
  CHECK(test::read_file(path) == mine);
  CHECK(err.str().find(path) != std::string::npos);
  CHECK(err.str().find("--force") != std::string::npos);
  CHECK(out.str().empty());
  CHECK(list_dir(dir.path) == std::vector<std::string>{"agent-run.toml"});

  SECTION("not even through a symlink, dangling or not") {
    const std::string link = dir.file("link.toml");
    REQUIRE(::symlink(dir.file("nowhere.toml").c_str(), link.c_str()) == 0);
    std::ostringstream o2, e2;
    CHECK(generate_config(link, false, o2, e2) == 1);
    CHECK(::access(dir.file("nowhere.toml").c_str(), F_OK) != 0);
  }
  SECTION("with --force it is replaced") {
    std::ostringstream o2, e2;
    CHECK(generate_config(path, true, o2, e2) == 0);
    CHECK(test::read_file(path) == render_template());
    CHECK(list_dir(dir.path) == std::vector<std::string>{"agent-run.toml"});
  }
}

TEST_CASE("generate-config to stdout, and into a directory that is not there", "[commands]") {
  std::ostringstream out, err;
  CHECK(generate_config("-", false, out, err) == 0);
  CHECK(out.str() == render_template());

  test::TempDir dir;
  std::ostringstream o2, e2;
  CHECK(generate_config(dir.file("no/such/dir/a.toml"), false, o2, e2) == 1);
  CHECK(e2.str().find("No such file or directory") != std::string::npos);
  std::ostringstream o3, e3;
  CHECK(generate_config(dir.path, true, o3, e3) == 1);
  CHECK(e3.str().find("is a directory") != std::string::npos);
}

TEST_CASE("generate-config then check-config passes", "[commands]") {
  test::TempDir dir;
  const std::string path = dir.file("agent-run.toml");
  std::ostringstream out, err;
  REQUIRE(generate_config(path, false, out, err) == 0);
  std::ostringstream cout_, cerr_;
  CHECK(check_config(test::sources(path), cout_, cerr_) == 0);
  CHECK(cout_.str() == path + ": OK\n");  // every key at its default: nothing more to say
  CHECK(cerr_.str().empty());
  // The process-environment variant too (it must at least not find errors in the file).
  std::ostringstream o3, e3;
  check_config(path, o3, e3);
  CHECK(e3.str().find(path + ":") == std::string::npos);
}

TEST_CASE("check-config prints changed keys with their origin", "[commands]") {
  test::TempDir dir;
  const std::string path = dir.file("prod.toml");
  test::write_file(path, "log_level = \"debug\"\n[exporter.otlp]\nheaders = [\"api-key=s3cret\"]\n");
  std::ostringstream out, err;
  CHECK(check_config(test::sources(path, {{"OTEL_SERVICE_NAME", "shop"}}), out, err) == 0);
  CHECK(out.str() == path + ": OK\n"
                     "service_name = \"shop\" (from environment OTEL_SERVICE_NAME)\n"
                     "log_level = \"debug\" (from file " + path + ":1:1)\n"
                     "exporter.otlp.headers = [\"api-key=<hidden>\"] (from file " + path + ":3:1)\n");
}

TEST_CASE("check-config prints every error as where: message and returns 1", "[commands]") {
  test::TempDir dir;
  const std::string path = dir.file("prod.toml");
  test::write_file(path, "log_levl = \"info\"\nenabled = \"yes\"\n");
  std::ostringstream out, err;
  CHECK(check_config(test::sources(path, {{"OTEL_SDK_DISABLED", "perhaps"}}), out, err) == 1);
  CHECK(out.str().empty());
  const std::string e = err.str();
  CHECK(e.find(path + ":1:1: unknown key 'log_levl' (did you mean 'log_level'?)\n") != std::string::npos);
  CHECK(e.find(path + ":2:11: enabled = \"yes\" is not allowed; use true or false\n") != std::string::npos);
  CHECK(e.find("environment OTEL_SDK_DISABLED: warning: ") != std::string::npos);
  CHECK(e.find(path + ": 2 errors;") != std::string::npos);
}

TEST_CASE("check-config on a missing file names the path and the reason", "[commands]") {
  test::TempDir dir;
  const std::string path = dir.file("nope.toml");
  std::ostringstream out, err;
  CHECK(check_config(path, out, err) == 1);
  CHECK(err.str().find(path + ": cannot read the configuration file: No such file or directory") != std::string::npos);
}
