// The launch plan's pieces that must agree between the full launcher, which
// writes a plan, and the quick launch, which replays it
// (src/launcher/freestanding/launch_plan_format.hpp, plan_match.hpp).
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <dirent.h>

#include "agent_run/version.hpp"
#include "launcher/environment_plan.hpp"
#include "launcher/freestanding/launch_plan_format.hpp"
#include "launcher/freestanding/plan_match.hpp"

namespace fs = agent_run::launcher::freestanding;

namespace {

std::vector<std::string> sources_under(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".cpp") == 0) out.push_back(dir + "/" + name);
    }
    ::closedir(d);
  }
  return out;
}

std::string field(char tag, const std::string& text) { return std::string(1, tag) + text + '\0'; }

struct Inputs {
  std::vector<std::string> argv_text = {"agent-run", "python3", "-c", "pass"};
  std::vector<char*> argv;
  fs::LaunchInputs in;
  explicit Inputs(const char* cwd) {
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    in.argc = int(argv_text.size());
    in.argv = argv.data();
    in.version = agent_run::kVersion;
    in.uid = 1000;
    in.cwd = cwd;
    std::snprintf(in.env_digest, sizeof in.env_digest, "%s", "abc");
  }
};

std::string plan(const std::string& version = agent_run::kVersion, bool end = true) {
  std::string p = field('P', version) + field('u', "1000") + field('a', "python3") + field('a', "-c") +
                  field('w', "/work") + field('h', "abc") + field('k', "1") + field('s', "A=1");
  return end ? p + field('z', "") : p;
}

std::string file_of(const std::vector<std::string>& plans) {
  std::string f = std::string(fs::kMagic) + '\0';
  for (const auto& p : plans) f += p;
  return f;
}

bool fits(const std::string& file, const Inputs& in) {
  fs::PlanRange r;
  return fs::find_plan(file.data(), file.size(), in.in, r);
}

}  // namespace

TEST_CASE("every environment variable the launcher reads is one a plan depends on", "[launch_plan]") {
  // A variable read but not in the digest could change the decision without
  // the quick launch noticing.
  const std::regex literal("\"([A-Z][A-Z0-9_]*)\"");
  const std::regex reads("getenv\\(|non_empty\\(env,|env\\(\"|get\\(\"|otlp_var\\(\"");
  int checked = 0;
  for (const char* dir : {"/src/launcher", "/src/config", "/cmd"}) {
    for (const auto& path : sources_under(std::string(AGENT_RUN_SOURCE_DIR) + dir)) {
      std::ifstream f(path);
      std::string line;
      while (std::getline(f, line)) {
        if (!std::regex_search(line, reads)) continue;
        // otlp_var("X") reads OTEL_EXPORTER_OTLP_TRACES_X and OTEL_EXPORTER_OTLP_X.
        const std::string prefix = line.find("otlp_var(\"") != std::string::npos ? "OTEL_EXPORTER_OTLP_" : "";
        for (std::sregex_iterator m(line.begin(), line.end(), literal), end; m != end; ++m) {
          const std::string entry = prefix + (*m)[1].str() + "=x";
          INFO(path << ": " << line);
          CHECK(fs::is_dependency(entry.c_str()));
          ++checked;
        }
      }
    }
  }
  CHECK(checked >= 8);
}

TEST_CASE("the environment digest ignores order and other variables, and sees every dependency", "[launch_plan]") {
  auto digest = [](std::vector<std::string> env) {
    std::vector<char*> p;
    for (auto& e : env) p.push_back(e.data());
    p.push_back(nullptr);
    char out[fs::kDigestBytes];
    fs::env_digest(p.data(), out);
    return std::string(out);
  };
  const std::string base = digest({"HOME=/h", "OTEL_SERVICE_NAME=a", "TERM=xterm"});
  CHECK(digest({"TERM=xterm", "OTEL_SERVICE_NAME=a", "HOME=/h"}) == base);
  CHECK(digest({"HOME=/h", "OTEL_SERVICE_NAME=a", "TERM=vt100", "LANG=C"}) == base);
  CHECK(digest({"HOME=/h", "OTEL_SERVICE_NAME=b", "TERM=xterm"}) != base);
  CHECK(digest({"HOME=/h", "OTEL_SERVICE_NAME=a", "AGENT_RUN_X=1"}) != base);
  CHECK(digest({"HOME=/h", "OTEL_SERVICE_NAME=a", "PYTHONPATH="}) != base);
  CHECK(digest({"HOME=/h", "OTEL_SERVICE_NAME=a", "XDG_RUNTIME_DIR=/run"}) != base);
  // Not a prefix match on the fixed names.
  CHECK(digest({"HOME=/h", "OTEL_SERVICE_NAME=a", "PATHS=x"}) == base);
}

TEST_CASE("a plan fits only with every input the same", "[launch_plan]") {
  Inputs in("/work");
  CHECK(fits(file_of({plan()}), in));
  CHECK_FALSE(fits(file_of({plan("0.0.0-other")}), in));
  Inputs other_cwd("/elsewhere");
  CHECK_FALSE(fits(file_of({plan()}), other_cwd));
  Inputs other_uid("/work");
  other_uid.in.uid = 0;
  CHECK_FALSE(fits(file_of({plan()}), other_uid));
  Inputs other_env("/work");
  std::snprintf(other_env.in.env_digest, sizeof other_env.in.env_digest, "%s", "abd");
  CHECK_FALSE(fits(file_of({plan()}), other_env));
  // Fewer arguments than the plan compares, or others.
  Inputs short_argv("/work");
  short_argv.in.argc = 2;
  CHECK_FALSE(fits(file_of({plan()}), short_argv));
  Inputs other_arg("/work");
  other_arg.argv_text[2] = "-m";
  other_arg.argv[2] = other_arg.argv_text[2].data();
  CHECK_FALSE(fits(file_of({plan()}), other_arg));
  // The first that fits wins; one that does not is skipped.
  fs::PlanRange r;
  const std::string two = file_of({plan("0.0.0-other"), plan()});
  REQUIRE(fs::find_plan(two.data(), two.size(), in.in, r));
  CHECK(r.program_index == 1);
  CHECK(std::string(r.begin + 1) == agent_run::kVersion);
}

TEST_CASE("a torn or foreign plans file fits nothing and is never read past its end", "[launch_plan]") {
  Inputs in("/work");
  // Without its end field (a writer stopped half-way): never used.
  CHECK_FALSE(fits(file_of({plan(agent_run::kVersion, false)}), in));
  const std::string good = file_of({plan()});
  for (size_t cut = 0; cut < good.size(); ++cut) {
    // The bytes up to the cut, in a buffer of exactly that size.
    const std::vector<char> bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
    fs::PlanRange r;
    INFO("cut at " << cut);
    CHECK_FALSE(fs::find_plan(bytes.data(), bytes.size(), in.in, r));
  }
  CHECK_FALSE(fits(std::string("not a plans file") + '\0' + plan(), in));
  // The program must be among the compared arguments.
  std::string p = plan();
  p.replace(p.find(field('k', "1")), field('k', "1").size(), field('k', "3"));
  CHECK_FALSE(fits(file_of({p}), in));
  // A file identity that differs: the plan does not fit.
  std::string with_file = plan();
  with_file.insert(with_file.find(field('k', "1")), field('f', "/nonexistent/agent-run-test") + field('i', "1:2:3"));
  CHECK_FALSE(fits(file_of({with_file}), in));
  std::string absent = plan();
  absent.insert(absent.find(field('k', "1")), field('f', "/nonexistent/agent-run-test") + field('i', "-"));
  CHECK(fits(file_of({absent}), in));
}

TEST_CASE("the default service name says how many arguments it read", "[launch_plan]") {
  using agent_run::launcher::default_service_name;
  size_t read = 0;
  CHECK(default_service_name({"python3", "app.py", "--port", "1"}, &read) == "app");
  CHECK(read == 2);
  CHECK(default_service_name({"python3", "-u", "-m", "pkg.mod", "x"}, &read) == "pkg.mod");
  CHECK(read == 4);
  CHECK(default_service_name({"python3", "-c", "code", "x"}, &read) == "python3");
  CHECK(read == 2);
  CHECK(default_service_name({"gunicorn", "-w", "4", "app:app"}, &read) == "gunicorn");
  CHECK(read == 1);
  // No script: the name depended on there being no more arguments.
  CHECK(default_service_name({"python3", "-W", "x"}, &read) == "python3");
  CHECK(read == 3);
}
