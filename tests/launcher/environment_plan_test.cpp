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
