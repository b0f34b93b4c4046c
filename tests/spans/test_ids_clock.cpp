#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <set>
#include <string>
#include <thread>

#include "hook/spans/clock.hpp"
#include "hook/spans/ids.hpp"
#include "hook/spans/traceparent.hpp"

using namespace agent_run::spans;

TEST_CASE("ids: non-zero and distinct", "[ids]") {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    uint8_t t[16], s[8];
    new_trace_id(t);
    new_span_id(s);
    CHECK(to_hex(t, 16) != std::string(32, '0'));
    CHECK(to_hex(s, 8) != std::string(16, '0'));
    seen.insert(to_hex(t, 16));
  }
  CHECK(seen.size() == 10000);
}

TEST_CASE("ids: each thread has its own sequence", "[ids]") {
  uint8_t a[8], b[8];
  new_span_id(a);
  std::thread th([&] { new_span_id(b); });
  th.join();
  CHECK(std::memcmp(a, b, 8) != 0);
}

TEST_CASE("ids: a forked child reseeds and does not repeat its parent's sequence", "[ids]") {
  uint8_t warm[8];
  new_span_id(warm);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    uint8_t c[16];
    new_trace_id(c);
    ssize_t w = write(fds[1], c, 16);
    _exit(w == 16 ? 0 : 1);
  }
  uint8_t parent[16], child[16];
  new_trace_id(parent);  // what the child would have drawn without reseeding
  REQUIRE(read(fds[0], child, 16) == 16);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[0]);
  close(fds[1]);
  CHECK(std::memcmp(parent, child, 16) != 0);
}

TEST_CASE("clock: monotonic, anchored to wall time", "[clock]") {
  uint64_t a = monotonic_ns();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  uint64_t b = monotonic_ns();
  CHECK(b - a >= 2000000u);
  uint64_t wall = uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
  uint64_t ours = now_unix_ns();
  uint64_t diff = wall > ours ? wall - ours : ours - wall;
  CHECK(diff < 50000000u);  // within 50 ms of the system clock
  CHECK(to_unix_ns(b) - to_unix_ns(a) == b - a);
}
