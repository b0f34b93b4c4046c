#include <catch2/catch.hpp>

#include "launcher/environment_plan.hpp"

using namespace agent_run::launcher;

TEST_CASE("user_python_path keeps the user's entries in order without agent-run's") {
  CHECK(user_python_path(nullptr, "/boot", nullptr) == "");
  CHECK(user_python_path("", "/boot", nullptr) == "");
  CHECK(user_python_path("/a:/b", "/boot", nullptr) == "/a:/b");
  CHECK(user_python_path("/boot:/a:/b", "/boot", nullptr) == "/a:/b");
  CHECK(user_python_path("/a:/boot/:/b:/boot", "/boot", nullptr) == "/a:/b");
  // A parent launch's bootstrap (another agent version) goes too.
  CHECK(user_python_path("/old-boot:/a", "/boot", "/old-boot") == "/a");
  // Empty entries mean the current directory to Python: kept as they were.
  CHECK(user_python_path("/a::/b", "/boot", nullptr) == "/a::/b");
}

TEST_CASE("default_service_name names what runs") {
  CHECK(default_service_name({"python3", "app.py", "--port", "1"}) == "app");
  CHECK(default_service_name({"/usr/bin/python3.11", "-u", "/srv/jobs/worker.py"}) == "worker");
  CHECK(default_service_name({"python3", "-m", "mypkg.worker"}) == "mypkg.worker");
  CHECK(default_service_name({"python3", "-mhttp.server"}) == "http.server");
  CHECK(default_service_name({"python3", "-W", "ignore", "x.py"}) == "x");
  CHECK(default_service_name({"python3", "-c", "pass"}) == "python3");
  CHECK(default_service_name({"/usr/bin/gunicorn", "-w", "4", "wsgi:app"}) == "gunicorn");
  CHECK(default_service_name({}) == "unknown_service");
}

TEST_CASE("EnvironmentPlan records exactly the changes made") {
  char a[] = "KEEP=1";
  char b[] = "GONE=2";
  char c[] = "EQ=x=y";
  char* env[] = {a, b, c, nullptr};
  EnvironmentPlan plan(env);
  CHECK(std::string(plan.get("EQ")) == "x=y");
  plan.set("NEW", "v");
  plan.unset("GONE");
  plan.unset("NEVER_THERE");
  REQUIRE(plan.changes().size() == 2);
  CHECK(plan.changes()[0].name == "NEW");
  CHECK(plan.changes()[1].unset);
  const auto entries = plan.entries();
  CHECK(std::find(entries.begin(), entries.end(), "KEEP=1") != entries.end());
  CHECK(std::find(entries.begin(), entries.end(), "NEW=v") != entries.end());
  CHECK(std::find(entries.begin(), entries.end(), "GONE=2") == entries.end());
}

TEST_CASE("EnvironmentPlan gives execve the entries sorted by name, the first of a repeated name") {
  char a[] = "B_VAR=b";
  char b[] = "A1=x";
  char c[] = "A=first";
  char d[] = "A=second";  // getenv sees the first; so does the plan
  char e[] = "NO_EQUALS_SIGN";
  char* env[] = {a, b, c, d, e, nullptr};
  EnvironmentPlan plan(env);
  CHECK(std::string(plan.get("A")) == "first");
  CHECK(plan.get("NO_EQUALS_SIGN") == nullptr);
  CHECK(plan.entries() == std::vector<std::string>{"A=first", "A1=x", "B_VAR=b"});
  plan.set("A", "new");
  plan.set("AA", "1");
  plan.set("AA", "2");
  CHECK(std::string(plan.get("A")) == "new");
  CHECK(plan.entries() == std::vector<std::string>{"A=new", "A1=x", "AA=2", "B_VAR=b"});
  CHECK(plan.changes().size() == 3);
  plan.unset("A1");
  CHECK(plan.get("A1") == nullptr);
  CHECK(plan.entries() == std::vector<std::string>{"A=new", "AA=2", "B_VAR=b"});
}
