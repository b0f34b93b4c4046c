// Per-span cost of SpanSink::submit() (encoding included), with a collector
// stand-in that reads and discards, compared with encoding alone.
//   bench_sink_submit [--spans=N]
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_spans.hpp"
#include "wire/protocol.hpp"
#include "wire/span_sink.hpp"

using namespace agent_run::wire;

// Thread CPU time: other work on a shared machine does not inflate it.
static uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

int main(int argc, char** argv) {
  uint32_t n = 2000000;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--spans=", 8) == 0) n = uint32_t(std::strtoul(argv[i] + 8, nullptr, 10));

  char dir[] = "/tmp/agent-run-bench-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  std::string path = std::string(dir) + "/s.sock";
  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strcpy(a.sun_path, path.c_str());
  if (bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(lfd, 8) != 0) return 1;
  std::atomic<uint64_t> bytes{0};
  std::thread reader([&] {
    int c = accept(lfd, nullptr, nullptr);
    std::vector<char> buf(1 << 20);
    ssize_t r;
    while ((r = read(c, buf.data(), buf.size())) > 0) bytes += uint64_t(r);
    close(c);
  });

  Span span = bench_span(1);
  // Encoding alone.
  std::vector<uint8_t> enc(encoded_span_size(span));
  uint64_t t0 = now_ns();
  for (uint32_t i = 0; i < n; ++i) {
    span.span_id[0] = uint8_t(i);
    encode_span(span, enc.data());
    asm volatile("" : : "r"(enc.data()) : "memory");
  }
  double encode_ns = double(now_ns() - t0) / n;

  SpanSink& sink = SpanSink::instance();
  SinkOptions o;
  o.socket_path = path;
  o.service_name = "bench";
  sink.configure(o);
  for (uint32_t i = 0; i < 10000; ++i) sink.submit(span);  // warm-up: allocate, start the flusher, connect
  SinkStats before = sink.stats();
  // Rounds of 8000 spans (about 2 MB, under the 4 MiB half-buffer), each
  // timed alone; between rounds the flusher empties the buffer (untimed), so
  // the timed submits are all accepted and encoded, none is a cheap drop.
  uint64_t timed = 0;
  const uint32_t round = 8000;
  for (uint32_t done = 0; done < n; done += round) {
    uint64_t t0 = now_ns();
    for (uint32_t i = 0; i < round; ++i) {
      span.span_id[0] = uint8_t(i);
      sink.submit(span);
    }
    timed += now_ns() - t0;
    sink.flush_now();
    for (int w = 0; w < 2000; ++w) {
      SinkStats st = sink.stats();
      if (st.sent + st.dropped_buffer_full + st.dropped_no_collector == st.submitted) break;
      usleep(500);
    }
  }
  double submit_ns = double(timed) / n;
  sink.flush_and_stop(10000);
  SinkStats after = sink.stats();
  shutdown(lfd, SHUT_RDWR);
  reader.join();
  close(lfd);
  unlink(path.c_str());
  rmdir(dir);

  // The drop path: no collector.
  o.socket_path = std::string(dir) + "/none.sock";
  sink.configure(o);
  for (uint32_t i = 0; i < 1000; ++i) sink.submit(span);
  usleep(300000);  // the flusher finds no collector
  t0 = now_ns();
  for (uint32_t i = 0; i < n; ++i) sink.submit(span);
  double drop_ns = double(now_ns() - t0) / n;

  std::printf("span encoded size: %zu bytes; times are CPU time of the recording thread\n", enc.size());
  std::printf("encode only:            %7.1f ns/span\n", encode_ns);
  std::printf("submit (lock+encode):   %7.1f ns/span  (%u spans: sent %llu, dropped buffer-full %llu)\n", submit_ns, n,
              (unsigned long long)(after.sent - before.sent),
              (unsigned long long)(after.dropped_buffer_full - before.dropped_buffer_full));
  std::printf("submit, collector gone: %7.1f ns/span (dropped and counted)\n", drop_ns);
  return 0;
}
