// Collector throughput: spans per second one collector process ingests from
// its socket and writes with the local store exporter (OTLP JSON lines).
//
//   bench_collector_throughput [--collector=PATH] [--spans=N] [--senders=K] [--batch=B] [--exporter=store]
//
// K sender processes push pre-encoded SPANS messages (B spans each) as fast
// as the collector takes them; then the watched "app" exits and the collector
// drains and exits. Throughput = spans written / (first send .. collector
// exit). Also reports the collector's per-span stages measured in process.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_spans.hpp"
#include "collector/otlp_json.hpp"
#include "collector/otlp_proto.hpp"
#include "wire/protocol.hpp"

using namespace agent_run;

static double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

// CPU time of this thread: the stages below are measured in CPU time, so
// other work on a shared machine does not inflate them.
static double cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

static std::string opt(int argc, char** argv, const char* name, const std::string& def) {
  std::string p = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], p.c_str(), p.size()) == 0) return argv[i] + p.size();
  return def;
}

static bool send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return false;
    off += size_t(n);
  }
  return true;
}

static void in_process_stages(uint32_t batch) {
  std::vector<wire::Span> spans;
  for (uint32_t i = 0; i < batch; ++i) spans.push_back(bench_span(i));
  std::string msg;
  wire::append_spans_message(spans, msg);
  const uint8_t* payload = reinterpret_cast<const uint8_t*>(msg.data()) + wire::kHeaderSize;
  size_t len = msg.size() - wire::kHeaderSize;
  const int rounds = 200;
  // What the collector's server does with a SPANS message: every record
  // checked and copied into the batch.
  collector::SpanBatch b;
  b.resources.push_back(std::make_shared<collector::ResourceInfo>(collector::ResourceInfo{1, "bench", "0.1.0"}));
  double t0 = cpu_s();
  uint64_t n = 0;
  for (int r = 0; r < rounds; ++r) {
    b.records.clear();
    b.refs.clear();
    wire::walk_spans_payload(payload, len, [&](const uint8_t* record, size_t size, const wire::SpanRecord& r) {
      b.add_record(0, record, r, size);
      ++n;
    });
  }
  double check = (cpu_s() - t0) / double(n);
  // What an exporter that needs wire::Span (OTLP protobuf, console) adds.
  wire::Span scratch;
  t0 = cpu_s();
  for (int r = 0; r < rounds; ++r)
    for (size_t i = 0; i < b.size(); ++i) b.decode(i, scratch);
  double decode = (cpu_s() - t0) / double(n);

  std::string out;
  t0 = cpu_s();
  for (int r = 0; r < rounds; ++r) {
    out.clear();
    collector::append_otlp_json_line(b, out);
  }
  double json = (cpu_s() - t0) / double(rounds * batch);

  // The same document built with nlohmann::json, for comparison.
  t0 = cpu_s();
  for (int r = 0; r < rounds / 10; ++r) {
    nlohmann::json doc = nlohmann::json::parse(out);
    std::string s = doc.dump();
    (void)s;
  }
  double nl = (cpu_s() - t0) / double(rounds / 10 * batch);

  t0 = cpu_s();
  size_t bytes = 0;
  for (int r = 0; r < rounds / 4; ++r) bytes += collector::encode_otlp_request(b).size();
  double proto = (cpu_s() - t0) / double(rounds / 4 * batch);
  std::printf("in-process stages per span: check and copy the record %.0f ns, OTLP JSON from it %.0f ns "
              "(%zu bytes), nlohmann parse+dump of the same %.0f ns; decode into a wire::Span %.0f ns, "
              "OTLP protobuf (with the decode) %.0f ns (%zu bytes)\n",
              check * 1e9, json * 1e9, out.size() / batch, nl * 1e9, decode * 1e9, proto * 1e9,
              bytes / (rounds / 4) / batch);
}

int main(int argc, char** argv) {
  std::string self_dir;
  {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    self_dir = buf;
    self_dir = self_dir.substr(0, self_dir.rfind('/'));
  }
  std::string collector = opt(argc, argv, "collector", self_dir + "/../../stage/libexec/agent-run/collector");
  uint64_t total = std::strtoull(opt(argc, argv, "spans", "2000000").c_str(), nullptr, 10);
  int senders = std::atoi(opt(argc, argv, "senders", "2").c_str());
  uint32_t batch = uint32_t(std::atoi(opt(argc, argv, "batch", "1000").c_str()));
  std::string exporter = opt(argc, argv, "exporter", "store");

  in_process_stages(batch);

  char dir[] = "/tmp/agent-run-bench-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  std::string sock = std::string(dir) + "/collector.sock";
  std::string data = std::string(dir) + "/traces";
  std::string log = std::string(dir) + "/collector.log";

  pid_t app = fork();
  if (app == 0) {
    pause();
    _exit(0);
  }
  int ready[2];
  if (pipe(ready) != 0) return 1;
  pid_t col = fork();
  if (col == 0) {
    close(ready[0]);
    std::string rfd = "--ready-fd=" + std::to_string(ready[1]);
    std::vector<std::string> a = {collector, "--socket=" + sock, "--app-pid=" + std::to_string(app), rfd,
                                  "--log=" + log, "--exporter=" + exporter, "--data-dir=" + data,
                                  "--store-max-file-bytes=1073741824", "--drain-timeout-ms=60000"};
    std::vector<char*> av;
    for (auto& s : a) av.push_back(&s[0]);
    av.push_back(nullptr);
    execv(av[0], av.data());
    _exit(127);
  }
  close(ready[1]);
  char c = 0;
  if (read(ready[0], &c, 1) != 1) {
    std::fprintf(stderr, "collector did not start (%s)\n", collector.c_str());
    return 1;
  }
  close(ready[0]);

  std::vector<wire::Span> spans;
  for (uint32_t i = 0; i < batch; ++i) spans.push_back(bench_span(i));
  std::string msg;
  wire::append_spans_message(spans, msg);
  uint64_t messages_each = total / batch / uint64_t(senders);

  double t0 = now_s();
  std::vector<pid_t> kids;
  for (int s = 0; s < senders; ++s) {
    pid_t k = fork();
    if (k == 0) {
      int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::strcpy(a.sun_path, sock.c_str());
      if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) _exit(1);
      std::string hello;
      wire::append_hello({uint32_t(getpid()), "0.1.0", "bench"}, hello);
      if (!send_all(fd, hello)) _exit(1);
      for (uint64_t m = 0; m < messages_each; ++m)
        if (!send_all(fd, msg)) _exit(1);
      _exit(0);
    }
    kids.push_back(k);
  }
  for (pid_t k : kids) waitpid(k, nullptr, 0);
  double t_sent = now_s();
  kill(app, SIGKILL);
  waitpid(app, nullptr, 0);
  int st = 0;
  rusage ru{};
  wait4(col, &st, 0, &ru);
  double t1 = now_s();
  double col_cpu = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;

  nlohmann::json stats;
  std::ifstream lf(log);
  std::string line;
  while (std::getline(lf, line)) {
    auto p = line.find(" info: stats ");
    if (p != std::string::npos) stats = nlohmann::json::parse(line.substr(p + 13));
  }
  uint64_t written_bytes = 0;
  std::string cmd = "du -sb " + data + " > " + std::string(dir) + "/du";
  if (std::system(cmd.c_str()) == 0) {
    std::ifstream du(std::string(dir) + "/du");
    du >> written_bytes;
  }
  if (!stats.is_object()) {
    std::fprintf(stderr, "no stats line in %s\n", log.c_str());
    return 1;
  }
  uint64_t received = stats.value("spans_received", 0ull);
  uint64_t exported = stats["exporters"].contains(exporter == "local" ? "store" : exporter)
                          ? stats["exporters"][exporter == "local" ? "store" : exporter].value("exported", 0ull)
                          : 0;
  double secs = t1 - t0;
  std::printf("senders %d, batch %u spans/message, %llu spans sent in %.3f s\n", senders, batch,
              (unsigned long long)(messages_each * batch * uint64_t(senders)), t_sent - t0);
  std::printf("collector: %llu spans received, %llu written (%s), %.1f MB in %.3f s (to collector exit)\n",
              (unsigned long long)received, (unsigned long long)exported, exporter.c_str(), written_bytes / 1e6, secs);
  std::printf("THROUGHPUT: %.0f spans/s ingested and written by one collector (%.1f MB/s of OTLP JSON), wall clock\n",
              double(exported) / secs, written_bytes / 1e6 / secs);
  std::printf("collector CPU: %.3f s (user+system) = %.0f spans per CPU-second (the rate on one free core)\n", col_cpu,
              double(exported) / col_cpu);
  std::printf("machine load average during the run: see /proc/loadavg; %ld online CPUs\n", sysconf(_SC_NPROCESSORS_ONLN));
  std::string rm = std::string("rm -rf ") + dir;
  if (std::system(rm.c_str()) != 0) return 1;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 && exported == received ? 0 : 1;
}
