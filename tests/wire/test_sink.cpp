// The span sink against a real UNIX socket server run by the test.
#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "test_helpers.hpp"
#include "wire/protocol.hpp"
#include "wire/span_sink.hpp"

using namespace agent_run::wire;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/agent-run-wire-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}

// A minimal collector: accepts connections, decodes messages, records what
// came from which connection. `read` false: accepts and never reads.
class TestServer {
 public:
  explicit TestServer(bool read = true) : read_(read) {
    dir_ = temp_dir();
    path_ = dir_ + "/s.sock";
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, path_.c_str());
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(fd_, 64) == 0);
    thread_ = std::thread([this] { loop(); });
  }
  ~TestServer() {
    stop_ = true;
    thread_.join();
    for (int c : held_) close(c);
    close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

  struct Conn {
    Hello hello;
    bool hello_first = false;
    std::vector<uint32_t> span_keys;  // first 4 bytes of each trace id
    Stats last_stats;
    bool got_stats = false;
    DecodeError error = DecodeError::Ok;
  };
  std::vector<Conn> conns() {
    std::lock_guard<std::mutex> l(mu_);
    return done_;
  }

 private:
  void loop() {
    std::vector<std::pair<int, std::string>> open;
    std::vector<Conn> state;
    while (!stop_ || !open.empty()) {
      std::vector<pollfd> fds{{fd_, POLLIN, 0}};
      for (auto& o : open) fds.push_back({o.first, POLLIN, 0});
      poll(fds.data(), fds.size(), 20);
      if (fds[0].revents & POLLIN) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          if (read_) {
            open.push_back({c, {}});
            state.emplace_back();
          } else {
            held_.push_back(c);
          }
        }
      }
      for (size_t i = open.size(); i-- > 0;) {
        if (!(fds[i + 1].revents & (POLLIN | POLLHUP))) {
          if (stop_) {  // the test is over; the peer stopped
            finish(open, state, i);
          }
          continue;
        }
        char buf[65536];
        ssize_t n = ::read(open[i].first, buf, sizeof buf);
        if (n <= 0) {
          finish(open, state, i);
          continue;
        }
        open[i].second.append(buf, size_t(n));
        parse(open[i].second, state[i]);
      }
    }
  }
  void finish(std::vector<std::pair<int, std::string>>& open, std::vector<Conn>& state, size_t i) {
    close(open[i].first);
    {
      std::lock_guard<std::mutex> l(mu_);
      done_.push_back(state[i]);
    }
    open.erase(open.begin() + long(i));
    state.erase(state.begin() + long(i));
  }
  void parse(std::string& b, Conn& c) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(b.data());
    size_t pos = 0;
    while (b.size() - pos >= kHeaderSize) {
      Header h;
      DecodeError e = decode_header(p + pos, kHeaderSize, h);
      if (e != DecodeError::Ok) {
        c.error = e;
        pos = b.size();
        break;
      }
      if (b.size() - pos < kHeaderSize + h.payload_length) break;
      const uint8_t* pl = p + pos + kHeaderSize;
      if (h.type == MessageType::Hello) {
        if (c.span_keys.empty() && !c.got_stats) c.hello_first = true;
        e = decode_hello(pl, h.payload_length, c.hello);
      } else if (h.type == MessageType::Spans) {
        Span scratch;
        e = decode_spans_payload(pl, h.payload_length, scratch, [&](const Span& s) {
          uint32_t k;
          std::memcpy(&k, s.trace_id, 4);
          c.span_keys.push_back(k);
        });
      } else {
        e = decode_stats(pl, h.payload_length, c.last_stats);
        c.got_stats = true;
      }
      if (e != DecodeError::Ok) c.error = e;
      pos += kHeaderSize + h.payload_length;
    }
    b.erase(0, pos);
  }

  bool read_;
  std::string dir_, path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<Conn> done_;
  std::vector<int> held_;
};

SinkOptions options(const std::string& path, uint32_t flush_ms = 20) {
  SinkOptions o;
  o.socket_path = path;
  o.service_name = "wire-test";
  o.flush_interval_ms = flush_ms;
  o.send_timeout_ms = 200;
  o.reconnect_min_ms = 10;
  o.reconnect_max_ms = 50;
  return o;
}

SinkStats delta(const SinkStats& a, const SinkStats& b) {
  SinkStats d;
  d.submitted = b.submitted - a.submitted;
  d.sent = b.sent - a.sent;
  d.dropped_buffer_full = b.dropped_buffer_full - a.dropped_buffer_full;
  d.dropped_no_collector = b.dropped_no_collector - a.dropped_no_collector;
  d.dropped_too_large = b.dropped_too_large - a.dropped_too_large;
  return d;
}

// Configures the sink for a fresh TestServer, runs `body`, stops the sink;
// returns what the server received, and the sink's counts in `d`.
template <typename F>
std::vector<TestServer::Conn> run_with_server(SinkStats& d, F&& body) {
  SpanSink& sink = SpanSink::instance();
  TestServer server;
  sink.configure(options(server.path()));
  SinkStats before = sink.stats();
  body(sink);
  sink.flush_and_stop(5000);
  d = delta(before, sink.stats());
  for (int i = 0; i < 200 && server.conns().empty(); ++i) usleep(10000);
  return server.conns();
}

}  // namespace

TEST_CASE("sink: spans reach the collector after a HELLO with the pid and service") {
  SinkStats d;
  std::vector<TestServer::Conn> conns = run_with_server(d, [](SpanSink& sink) {
    for (uint32_t i = 0; i < 5000; ++i) REQUIRE(sink.submit(wire_test::sample_span(i)));
  });
  CHECK(d.submitted == 5000);
  CHECK(d.sent == 5000);
  CHECK(d.dropped_no_collector + d.dropped_buffer_full == 0);
  REQUIRE(conns.size() == 1);
  CHECK(conns[0].hello_first);
  CHECK(conns[0].hello.pid == uint32_t(getpid()));
  CHECK(conns[0].hello.service_name == "wire-test");
  CHECK(conns[0].error == DecodeError::Ok);
  REQUIRE(conns[0].span_keys.size() == 5000);
  for (uint32_t i = 0; i < 5000; ++i) CHECK(conns[0].span_keys[i] == i);
  CHECK(conns[0].got_stats);
  CHECK(conns[0].last_stats.sent == SpanSink::instance().stats().sent);
}

TEST_CASE("sink: a burst of more than one message's limit (4 MiB) arrives whole and in order") {
  SpanSink& sink = SpanSink::instance();
  std::vector<TestServer::Conn> conns;
  SinkStats d;
  const uint32_t n = 60000;  // about 16 MiB encoded: flushes of more than 4 MiB are split
  {
    TestServer server;
    SinkOptions o = options(server.path(), 1000);
    o.buffer_bytes = 64u << 20;
    sink.configure(o);
    SinkStats before = sink.stats();
    for (uint32_t i = 0; i < n; ++i) REQUIRE(sink.submit(wire_test::sample_span(i)));
    sink.flush_and_stop(10000);
    d = delta(before, sink.stats());
    for (int i = 0; i < 500 && server.conns().empty(); ++i) usleep(10000);
    conns = server.conns();
  }
  CHECK(d.sent == n);
  REQUIRE(conns.size() == 1);
  CHECK(conns[0].error == DecodeError::Ok);
  REQUIRE(conns[0].span_keys.size() == n);
  uint32_t out_of_order = 0;
  for (uint32_t i = 0; i < n; ++i) out_of_order += conns[0].span_keys[i] != i;
  CHECK(out_of_order == 0);
}

TEST_CASE("sink: without a collector every span is dropped and counted, submit never fails hard") {
  SpanSink& sink = SpanSink::instance();
  std::string dir = temp_dir();
  sink.configure(options(dir + "/nobody.sock"));
  SinkStats before = sink.stats();
  for (uint32_t i = 0; i < 1000; ++i) sink.submit(wire_test::sample_span(i));
  sink.flush_and_stop(2000);
  SinkStats d = delta(before, sink.stats());
  rmdir(dir.c_str());
  CHECK(d.submitted == 1000);
  CHECK(d.sent == 0);
  CHECK(d.dropped_no_collector == 1000);

  // Empty socket path: the agent records nothing.
  sink.configure(options(""));
  before = sink.stats();
  CHECK_FALSE(sink.submit(wire_test::sample_span(1)));
  CHECK(delta(before, sink.stats()).dropped_no_collector == 1);
}

TEST_CASE("sink: a collector that does not read makes the buffer fill: spans dropped, counted, never blocking") {
  SpanSink& sink = SpanSink::instance();
  TestServer server(/*read=*/false);
  SinkOptions o = options(server.path(), 1000);
  o.buffer_bytes = 128 * 1024;  // two 64 KiB halves
  sink.configure(o);
  SinkStats before = sink.stats();
  const uint32_t n = 200000;  // far more than the socket and the buffer hold
  for (uint32_t i = 0; i < n; ++i) sink.submit(wire_test::sample_span(i));
  SinkStats mid = delta(before, sink.stats());
  sink.flush_and_stop(5000);
  SinkStats d = delta(before, sink.stats());
  CHECK(mid.dropped_buffer_full > 0);
  CHECK(d.submitted == n);
  CHECK(d.sent < n);
  // Every span is accounted for: sent, or dropped for a reason.
  CHECK(d.sent + d.dropped_buffer_full + d.dropped_no_collector + d.dropped_too_large == n);
}

TEST_CASE("sink: after fork the child starts clean and sends only its own spans") {
  SpanSink& sink = SpanSink::instance();
  std::vector<TestServer::Conn> conns;
  pid_t child = 0;
  {
    TestServer server;
    sink.configure(options(server.path(), 60000));  // nothing leaves on its own before fork
    for (uint32_t i = 0; i < 100; ++i) REQUIRE(sink.submit(wire_test::sample_span(i)));
    child = fork();
    if (child == 0) {
      SinkStats s0 = sink.stats();
      bool ok = s0.submitted == 0;  // counters start clean too
      for (uint32_t i = 0; i < 50; ++i) ok = sink.submit(wire_test::sample_span(1000 + i)) && ok;
      sink.flush_and_stop(5000);
      SinkStats s = sink.stats();
      _exit(ok && s.sent == 50 ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    sink.flush_and_stop(5000);
    for (int i = 0; i < 200 && server.conns().size() < 2; ++i) usleep(10000);
    conns = server.conns();
  }
  REQUIRE(conns.size() == 2);
  std::map<uint32_t, std::multiset<uint32_t>> by_pid;
  for (auto& c : conns) {
    CHECK(c.hello_first);
    by_pid[c.hello.pid].insert(c.span_keys.begin(), c.span_keys.end());
  }
  REQUIRE(by_pid.count(uint32_t(getpid())) == 1);
  REQUIRE(by_pid.count(uint32_t(child)) == 1);
  const auto& parent_keys = by_pid[uint32_t(getpid())];
  const auto& child_keys = by_pid[uint32_t(child)];
  CHECK(parent_keys.size() == 100);
  CHECK(child_keys.size() == 50);
  for (uint32_t i = 0; i < 100; ++i) CHECK(parent_keys.count(i) == 1);
  for (uint32_t i = 0; i < 50; ++i) CHECK(child_keys.count(1000 + i) == 1);
  for (uint32_t i = 0; i < 100; ++i) CHECK(child_keys.count(i) == 0);  // the parent's buffered spans stay the parent's
}

TEST_CASE("sink: the flusher outlives the thread that started it") {
  // The flusher is not a pthread and has its own thread pointer: the thread
  // whose first submit started it may exit (its stack and thread control
  // block freed or reused by the threads after it).
  SinkStats d;
  std::vector<TestServer::Conn> conns = run_with_server(d, [](SpanSink& sink) {
    std::thread([&] {
      for (uint32_t i = 0; i < 100; ++i) sink.submit(wire_test::sample_span(i));
    }).join();
    for (int k = 0; k < 64; ++k) std::thread([] {}).join();
    usleep(100000);  // a few intervals: the flusher sends on its own meanwhile
    for (uint32_t i = 100; i < 200; ++i) REQUIRE(sink.submit(wire_test::sample_span(i)));
  });
  CHECK(d.sent == 200);
  REQUIRE(conns.size() == 1);
  REQUIRE(conns[0].span_keys.size() == 200);
  for (uint32_t i = 0; i < 200; ++i) CHECK(conns[0].span_keys[i] == i);
}

TEST_CASE("sink: configure() while the flusher runs moves it to the new collector and service") {
  SpanSink& sink = SpanSink::instance();
  std::vector<TestServer::Conn> first, second;
  {
    TestServer a, b;
    sink.configure(options(a.path()));
    SinkStats before = sink.stats();
    for (uint32_t i = 0; i < 100; ++i) REQUIRE(sink.submit(wire_test::sample_span(i)));
    for (int i = 0; i < 300 && delta(before, sink.stats()).sent < 100; ++i) usleep(10000);
    REQUIRE(delta(before, sink.stats()).sent == 100);  // the flusher runs, connected to a
    SinkOptions o = options(b.path());
    o.service_name = "wire-test-b";
    sink.configure(o);
    for (uint32_t i = 0; i < 100; ++i) REQUIRE(sink.submit(wire_test::sample_span(1000 + i)));
    sink.flush_and_stop(5000);
    CHECK(delta(before, sink.stats()).sent == 200);
    for (int i = 0; i < 200 && (a.conns().empty() || b.conns().empty()); ++i) usleep(10000);
    first = a.conns();
    second = b.conns();
  }
  REQUIRE(first.size() == 1);
  REQUIRE(second.size() == 1);
  CHECK(first[0].hello.service_name == "wire-test");
  CHECK(second[0].hello.service_name == "wire-test-b");
  CHECK(second[0].hello.pid == uint32_t(getpid()));
  REQUIRE(first[0].span_keys.size() == 100);
  REQUIRE(second[0].span_keys.size() == 100);
  for (uint32_t i = 0; i < 100; ++i) {
    CHECK(first[0].span_keys[i] == i);
    CHECK(second[0].span_keys[i] == 1000 + i);
  }
}
