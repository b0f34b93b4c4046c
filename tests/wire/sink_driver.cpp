// A stand-in for the app's processes in end-to-end tests and benchmarks:
// records spans through the real SpanSink (the hook module's path), from a
// master and forked workers, and prints what it did as JSON lines on stdout.
//
//   sink_driver --socket=PATH [--service=S] [--workers=N] [--requests=N]
//               [--pre-fork=N] [--mode=count|load] [--phase-seconds=S]
//               [--buffer-bytes=N] [--flush-ms=N]
//
// Each request records a SERVER root span and a CLIENT child span. Ids are
// deterministic so tests can check them: trace id = "ar" + process index (u16)
// + request index (u32) + zeros; root span id = 01 + index bytes, child = 02 + ...
// mode=count: every process records --requests requests, flushes, exits.
// mode=load: the master alone loops "requests" (20 us of work + 2 spans) for
// --phase-seconds, prints {"phase":1,...}, waits for a line on stdin, runs
// phase 2 the same way, prints {"phase":2,...}. Latencies are per request.
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "wire/span_sink.hpp"

using namespace agent_run::wire;

namespace {

std::string opt(int argc, char** argv, const char* name, const char* def) {
  std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) return argv[i] + prefix.size();
  return def;
}

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

uint64_t wall_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

void make_ids(uint16_t proc, uint32_t req, Span& root, Span& child) {
  std::memset(root.trace_id, 0, 16);
  root.trace_id[0] = 'a';
  root.trace_id[1] = 'r';
  std::memcpy(root.trace_id + 2, &proc, 2);
  std::memcpy(root.trace_id + 4, &req, 4);
  std::memcpy(child.trace_id, root.trace_id, 16);
  std::memset(root.span_id, 0, 8);
  root.span_id[0] = 1;
  std::memcpy(root.span_id + 1, &proc, 2);
  std::memcpy(root.span_id + 3, &req, 4);
  std::memcpy(child.span_id, root.span_id, 8);
  child.span_id[0] = 2;
  std::memset(root.parent_span_id, 0, 8);
  std::memcpy(child.parent_span_id, root.span_id, 8);
}

void record_request(uint16_t proc, uint32_t req, Span& root, Span& child, SpanSink& sink) {
  make_ids(proc, req, root, child);
  uint64_t t = wall_ns();
  root.name = "GET /items/{id}";
  root.kind = SpanKind::Server;
  root.start_unix_nano = t;
  root.end_unix_nano = t + 1500000;
  root.attributes.clear();
  root.attributes.push_back({"http.request.method", std::string("GET")});
  root.attributes.push_back({"http.response.status_code", int64_t(req % 10 == 0 ? 500 : 200)});
  root.attributes.push_back({"url.path", std::string("/items/") + std::to_string(req)});
  root.attributes.push_back({"agent_run.proc", int64_t(proc)});
  root.attributes.push_back({"agent_run.req", int64_t(req)});
  root.events.clear();
  if (req % 10 == 0) {
    root.status_code = StatusCode::Error;
    root.status_message = "boom \"quoted\" \xC3\xA9\n";
    root.events.push_back({t + 1000, "exception", {{"exception.type", std::string("ValueError")}}});
  } else {
    root.status_code = StatusCode::Unset;
    root.status_message.clear();
  }
  child.name = "SELECT items";
  child.kind = SpanKind::Client;
  child.start_unix_nano = t + 100000;
  child.end_unix_nano = t + 900000;
  child.attributes.clear();
  child.attributes.push_back({"db.system", std::string("sqlite")});
  child.attributes.push_back({"db.statement", std::string("SELECT * FROM items WHERE id = ?")});
  child.attributes.push_back({"db.rows", 1.5});
  child.attributes.push_back({"db.cached", req % 2 == 0});
  sink.submit(child);
  sink.submit(root);
}

void print_stats(const char* what, int proc, const SinkStats& s) {
  std::printf(
      "{\"event\":\"%s\",\"proc\":%d,\"pid\":%d,\"submitted\":%llu,\"sent\":%llu,\"dropped_buffer_full\":%llu,"
      "\"dropped_no_collector\":%llu,\"dropped_too_large\":%llu,\"connects\":%llu}\n",
      what, proc, int(getpid()), (unsigned long long)s.submitted, (unsigned long long)s.sent,
      (unsigned long long)s.dropped_buffer_full, (unsigned long long)s.dropped_no_collector,
      (unsigned long long)s.dropped_too_large, (unsigned long long)s.connects);
  std::fflush(stdout);
}

void busy_work(uint64_t ns) {
  uint64_t end = now_ns() + ns;
  volatile uint64_t x = 0;
  while (now_ns() < end) x = x + 1;
}

struct Phase {
  std::vector<uint64_t> lat;
  SinkStats before, after;
};

void run_phase(Phase& ph, double seconds, uint32_t& req, SpanSink& sink) {
  Span root, child;
  ph.before = sink.stats();
  uint64_t end = now_ns() + uint64_t(seconds * 1e9);
  while (now_ns() < end) {
    uint64_t t0 = now_ns();
    busy_work(20000);
    record_request(0, req++, root, child, sink);
    ph.lat.push_back(now_ns() - t0);
  }
  ph.after = sink.stats();
}

void print_phase(int n, Phase& ph) {
  std::sort(ph.lat.begin(), ph.lat.end());
  auto pct = [&](double p) { return ph.lat.empty() ? 0 : ph.lat[size_t(p * double(ph.lat.size() - 1))]; };
  std::printf(
      "{\"phase\":%d,\"requests\":%zu,\"p50_ns\":%llu,\"p90_ns\":%llu,\"p99_ns\":%llu,\"max_ns\":%llu,\"sent\":%llu,"
      "\"dropped_no_collector\":%llu,\"dropped_buffer_full\":%llu}\n",
      n, ph.lat.size(), (unsigned long long)pct(0.5), (unsigned long long)pct(0.9), (unsigned long long)pct(0.99),
      (unsigned long long)(ph.lat.empty() ? 0 : ph.lat.back()),
      (unsigned long long)(ph.after.sent - ph.before.sent),
      (unsigned long long)(ph.after.dropped_no_collector - ph.before.dropped_no_collector),
      (unsigned long long)(ph.after.dropped_buffer_full - ph.before.dropped_buffer_full));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  SinkOptions o;
  o.socket_path = opt(argc, argv, "socket", "");
  o.service_name = opt(argc, argv, "service", "sink-driver");
  o.buffer_bytes = std::strtoull(opt(argc, argv, "buffer-bytes", "8388608").c_str(), nullptr, 10);
  o.flush_interval_ms = uint32_t(std::strtoul(opt(argc, argv, "flush-ms", "100").c_str(), nullptr, 10));
  int workers = std::atoi(opt(argc, argv, "workers", "0").c_str());
  uint32_t requests = uint32_t(std::strtoul(opt(argc, argv, "requests", "100").c_str(), nullptr, 10));
  uint32_t pre_fork = uint32_t(std::strtoul(opt(argc, argv, "pre-fork", "0").c_str(), nullptr, 10));
  std::string mode = opt(argc, argv, "mode", "count");
  double phase_seconds = std::atof(opt(argc, argv, "phase-seconds", "1").c_str());

  SpanSink& sink = SpanSink::instance();
  sink.configure(o);
  Span root, child;

  if (mode == "load") {
    uint32_t req = 0;
    Phase p1, p2;
    run_phase(p1, phase_seconds, req, sink);
    print_phase(1, p1);
    char line[64];
    if (!std::fgets(line, sizeof line, stdin)) return 3;
    run_phase(p2, phase_seconds, req, sink);
    print_phase(2, p2);
    sink.flush_and_stop(1000);
    print_stats("exit", 0, sink.stats());
    return 0;
  }

  // Recorded in the master before forking and still buffered at fork time:
  // must be sent once, by the master only.
  for (uint32_t i = 0; i < pre_fork; ++i) record_request(0, 1000000 + i, root, child, sink);

  std::vector<pid_t> kids;
  for (int w = 1; w <= workers; ++w) {
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      for (uint32_t i = 0; i < requests; ++i) record_request(uint16_t(w), i, root, child, sink);
      sink.flush_and_stop(5000);
      print_stats("exit", w, sink.stats());
      std::fflush(stdout);
      _exit(0);
    }
    kids.push_back(pid);
  }
  for (uint32_t i = 0; i < requests; ++i) record_request(0, i, root, child, sink);
  int failures = 0;
  for (pid_t k : kids) {
    int st = 0;
    waitpid(k, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++failures;
  }
  sink.flush_and_stop(5000);
  print_stats("exit", 0, sink.stats());
  return failures ? 1 : 0;
}
