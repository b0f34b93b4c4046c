// The app-side sink: a bounded native buffer of encoded spans and a native
// flusher thread that sends them to the collector (see span_sink.hpp).
//
// Linked into a CPython extension: nothing here throws out of an API call,
// prints, or runs code at static-initialization time. The state is created on
// first use and never destroyed (a detached thread may still use it at exit).
//
// submit() encodes the span straight into the front buffer under one lock:
// no allocation and no syscall once the buffer exists (the first submit in a
// process allocates it and starts the thread). The flusher swaps the front
// and back buffers under the lock and does all I/O without holding it.
//
// The flusher is a RawThread (raw_thread.hpp): glibc does not know of it, so
// the app's process keeps glibc's single-threaded fast paths. Its code (the
// Flusher class and flusher_main) may therefore use only raw system calls,
// futexes and memory the recording threads allocated for it: everything it
// needs that allocates (the options' strings, the HELLO and HEALTH
// messages) is prepared by them, under the lock, and handed over by swap.
#include "wire/span_sink.hpp"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>

#include "agent_run/version.hpp"
#include "common/raw_syscall.hpp"
#include "wire/futex.hpp"
#include "wire/protocol.hpp"
#include "wire/raw_thread.hpp"

namespace agent_run::wire {
namespace {

// The flusher is woken when the front buffer holds this much (or half the
// buffer, if less), not only on its interval: the two buffers are then
// reused within their first 128 KiB, which stay in the CPU's caches, instead
// of streaming megabytes through them between flushes, and a worker touches
// 256 KiB of buffer, not buffer_bytes. The rest of each buffer absorbs
// bursts while a send is in progress.
constexpr size_t kFlushAtBytes = 128 * 1024;

// A raw system call: clock_gettime's vDSO path needs no errno either, but
// its fallback does.
uint64_t now_ms() {
  timespec ts{};
  raw_syscall(SYS_clock_gettime, CLOCK_MONOTONIC, long(&ts));
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

// What the flusher reads without the lock: its options and its HELLO
// message (encoded with pid 0; the flusher writes its process's pid in).
struct FlusherConfig {
  SinkOptions opts;
  std::string hello;
};

struct State {
  FutexLock mu;
  std::atomic<uint32_t> wake_seq{0};  // the flusher sleeps on it; bumped to wake it
  std::atomic<uint32_t> done_seq{0};  // flush_and_stop sleeps on it; bumped when the flusher ends
  RawThread thread;

  // Guarded by mu.
  FlusherConfig latest;         // the last configure()'s; a new flusher starts with a copy
  FlusherConfig handover;       // the same, for a running flusher to swap in (then the one it had)
  bool configured = false;
  uint64_t config_generation = 0;
  std::unique_ptr<uint8_t[]> front, back;
  size_t capacity = 0;  // of each buffer
  size_t front_used = 0;
  uint32_t front_count = 0;
  bool thread_running = false;
  bool flush_requested = false;
  bool stopping = false;
  bool collector_down = false;  // the last connection attempt failed: drop at submit
  SinkStats stats;
  // Encoded HEALTH messages: `health_ready` is the slot to send next (-1:
  // none), `health_sending` the one the flusher is sending (written only by
  // submit_health, in the other slot).
  std::string health[2];
  int health_ready = -1;
  int health_sending = -1;

  // The flusher's own, read by it without the lock. Written under the lock
  // by a recording thread only while no flusher runs, else by the flusher.
  FlusherConfig flusher_config;
};

State& state() {
  static State* s = new (std::nothrow) State;  // never destroyed, see above
  return *s;
}

std::once_flag g_atfork_once;

void atfork_prepare() { state().mu.lock(); }
void atfork_parent() { state().mu.unlock(); }
void atfork_child() {
  State& s = state();
  // The flusher does not exist here: start clean. Its socket is in its own
  // descriptor table (raw_thread.hpp), so the child has no copy of it; where
  // the table is shared, the child's copy is the parent's connection: never
  // written to, closed at exec (SOCK_CLOEXEC). The child's flusher makes its own.
  s.thread.forget_after_fork();
  s.front_used = 0;
  s.front_count = 0;
  s.thread_running = false;
  s.flush_requested = false;
  s.stopping = false;
  s.collector_down = false;
  s.stats = SinkStats();
  s.health_ready = -1;
  s.health_sending = -1;
  s.mu.reset_after_fork();
}

// Wakes the flusher (called with mu held).
void wake_flusher(State& s) {
  s.wake_seq.fetch_add(1, std::memory_order_release);
  futex_wake(s.wake_seq, 1);
}

// ---- the flusher ------------------------------------------------------------

class Flusher {
 public:
  explicit Flusher(State& s) : s_(s) {}
  ~Flusher() { disconnect(); }
  void run();

 private:
  bool ensure_connected(const SinkOptions& o, uint64_t now);
  void disconnect() {
    if (fd_ >= 0) raw_syscall(SYS_close, fd_);
    fd_ = -1;
  }
  bool send_all(const iovec* iov, int iovcnt, uint32_t timeout_ms);
  // Sends `count` records in `buf` as SPANS messages; returns spans sent.
  uint64_t send_records(const uint8_t* buf, size_t used, uint32_t count, const SinkOptions& o);
  void send_stats(const SinkOptions& o);

  State& s_;
  int fd_ = -1;
  uint64_t next_attempt_ms_ = 0;
  uint32_t backoff_ms_ = 0;
  uint64_t generation_ = 0;
  SinkStats last_stats_sent_;
};

bool Flusher::ensure_connected(const SinkOptions& o, uint64_t now) {
  if (fd_ >= 0) return true;
  std::string& hello = s_.flusher_config.hello;
  if (o.socket_path.empty() || o.socket_path.size() >= sizeof(sockaddr_un::sun_path) ||
      hello.size() < kHeaderSize + 4)
    return false;
  if (now < next_attempt_ms_) return false;
  int fd = int(raw_syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd >= 0) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, o.socket_path.data(), o.socket_path.size());
    if (raw_syscall(SYS_connect, fd, long(&addr), sizeof(addr)) == 0) {
      fd_ = fd;
      backoff_ms_ = 0;
      // This process's pid, also after fork.
      write_hello_pid(reinterpret_cast<uint8_t*>(&hello[0]), uint32_t(raw_syscall(SYS_getpid)));
      iovec iov{&hello[0], hello.size()};
      if (send_all(&iov, 1, o.send_timeout_ms)) {
        std::lock_guard<FutexLock> lock(s_.mu);
        s_.collector_down = false;
        s_.stats.connects++;
        return true;
      }
      disconnect();
    } else {
      raw_syscall(SYS_close, fd);
    }
  }
  backoff_ms_ = backoff_ms_ == 0 ? o.reconnect_min_ms : backoff_ms_ * 2;
  if (backoff_ms_ > o.reconnect_max_ms) backoff_ms_ = o.reconnect_max_ms;
  next_attempt_ms_ = now + backoff_ms_;
  // The launcher made the socket before the app started, and connections
  // wait in its backlog until the collector accepts: a refused (or missing)
  // socket means the collector is gone, not that it is still starting.
  std::lock_guard<FutexLock> lock(s_.mu);
  s_.collector_down = true;
  return false;
}

// Writes everything or fails (and then the connection is unusable: a partial
// message was sent). Never raises SIGPIPE.
bool Flusher::send_all(const iovec* iov_in, int iovcnt, uint32_t timeout_ms) {
  iovec iov[4];
  if (iovcnt > 4) return false;
  for (int i = 0; i < iovcnt; ++i) iov[i] = iov_in[i];
  int first = 0;
  uint64_t deadline = now_ms() + timeout_ms;
  while (first < iovcnt) {
    msghdr msg{};
    msg.msg_iov = iov + first;
    msg.msg_iovlen = size_t(iovcnt - first);
    long n = raw_syscall(SYS_sendmsg, fd_, long(&msg), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (n == -EINTR) continue;
      if (n != -EAGAIN && n != -EWOULDBLOCK) return false;
      uint64_t now = now_ms();
      if (now >= deadline) return false;
      pollfd p{fd_, POLLOUT, 0};
      uint64_t wait = deadline - now;
      timespec ts{time_t(wait / 1000), long(wait % 1000) * 1000000L};
      long r = raw_syscall(SYS_ppoll, long(&p), 1, long(&ts), 0, 0);
      if (r < 0 && r != -EINTR) return false;
      if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return false;
      continue;
    }
    size_t left = size_t(n);
    while (first < iovcnt && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (first < iovcnt) {
      iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return true;
}

uint64_t Flusher::send_records(const uint8_t* buf, size_t used, uint32_t count, const SinkOptions& o) {
  uint64_t sent = 0;
  size_t pos = 0;
  uint32_t done = 0;
  while (done < count && fd_ >= 0) {
    // Take as many whole records as fit one message: all that are left when
    // they fit (the usual case, read by nobody here), else walked one by one.
    size_t start = pos;
    uint32_t n = 0;
    if (4 + (used - pos) <= kMaxPayload && count - done <= kMaxSpansPerMessage) {
      n = count - done;
      pos = used;
    }
    while (done + n < count && pos < used) {
      uint32_t len = detail::load_u32(buf + pos);
      size_t rec = 4 + size_t(len);
      if (n > 0 && (pos + rec - start) + 4 > kMaxPayload) break;
      if (n >= kMaxSpansPerMessage) break;
      pos += rec;
      ++n;
    }
    uint8_t head[kHeaderSize + 4];
    write_header(head, MessageType::Spans, uint32_t(4 + (pos - start)));
    head[kHeaderSize + 0] = uint8_t(n);
    head[kHeaderSize + 1] = uint8_t(n >> 8);
    head[kHeaderSize + 2] = uint8_t(n >> 16);
    head[kHeaderSize + 3] = uint8_t(n >> 24);
    iovec iov[2] = {{head, sizeof(head)}, {const_cast<uint8_t*>(buf + start), pos - start}};
    if (!send_all(iov, 2, o.send_timeout_ms)) {
      disconnect();
      break;
    }
    sent += n;
    done += n;
  }
  return sent;
}

void Flusher::send_stats(const SinkOptions& o) {
  SinkStats now;
  {
    std::lock_guard<FutexLock> lock(s_.mu);
    now = s_.stats;
  }
  if (fd_ < 0) return;
  if (now.dropped_buffer_full == last_stats_sent_.dropped_buffer_full &&
      now.dropped_no_collector == last_stats_sent_.dropped_no_collector &&
      now.dropped_too_large == last_stats_sent_.dropped_too_large && now.sent == last_stats_sent_.sent)
    return;
  Stats st;
  st.pid = uint32_t(raw_syscall(SYS_getpid));
  st.submitted = now.submitted;
  st.sent = now.sent;
  st.dropped_buffer_full = now.dropped_buffer_full;
  st.dropped_no_collector = now.dropped_no_collector;
  st.dropped_too_large = now.dropped_too_large;
  uint8_t msg[kStatsMessageSize];
  write_stats(st, msg);
  iovec iov{msg, sizeof(msg)};
  if (send_all(&iov, 1, o.send_timeout_ms))
    last_stats_sent_ = now;
  else
    disconnect();
}

void Flusher::run() {
  std::unique_lock<FutexLock> lock(s_.mu);
  generation_ = s_.config_generation;  // start_thread() handed over that generation's config
  uint64_t last_stats_ms = now_ms();
  for (;;) {
    if (!s_.flush_requested && !s_.stopping) {
      uint32_t seq = s_.wake_seq.load(std::memory_order_acquire);
      uint32_t interval = s_.flusher_config.opts.flush_interval_ms;
      lock.unlock();
      futex_wait(s_.wake_seq, seq, interval);
      lock.lock();
    }
    s_.flush_requested = false;
    bool stop = s_.stopping;
    if (s_.config_generation != generation_) {
      // configure() ran: take its options and HELLO (a swap: no allocation
      // here), and connect anew with them.
      generation_ = s_.config_generation;
      // std::string's moves neither allocate nor free; the old config is
      // freed by the next configure().
      std::swap(s_.flusher_config, s_.handover);
      lock.unlock();
      disconnect();
      next_attempt_ms_ = 0;
      backoff_ms_ = 0;
      lock.lock();
    }
    const SinkOptions& o = s_.flusher_config.opts;
    std::swap(s_.front, s_.back);
    size_t used = s_.front_used;
    uint32_t count = s_.front_count;
    s_.front_used = 0;
    s_.front_count = 0;
    s_.health_sending = s_.health_ready;
    s_.health_ready = -1;
    const std::string* health = s_.health_sending >= 0 ? &s_.health[s_.health_sending] : nullptr;
    lock.unlock();

    uint64_t now = now_ms();
    uint64_t sent = 0;
    bool connected = ensure_connected(o, now);  // also retries (with backoff) while the collector is down
    if (count > 0 && connected) sent = send_records(s_.back.get(), used, count, o);
    if (health != nullptr && !health->empty() && fd_ >= 0) {
      iovec iov{const_cast<char*>(health->data()), health->size()};
      if (!send_all(&iov, 1, o.send_timeout_ms)) disconnect();
    }

    lock.lock();
    s_.health_sending = -1;
    s_.stats.sent += sent;
    s_.stats.dropped_no_collector += count - sent;
    bool finished = stop && s_.front_used == 0 && s_.health_ready < 0;
    bool retire = false;
    if (finished || now - last_stats_ms >= 1000) {
      last_stats_ms = now;
      lock.unlock();
      send_stats(o);
      // The app changed its credentials (dropped root, say), which glibc
      // does not do for this thread: it must not stay behind with the old
      // ones. It retires; the next span, or flush_and_stop(), starts a
      // flusher with the app's credentials.
      retire = !finished && !same_credentials_as_process();
      lock.lock();
    }
    if (finished || retire) {
      lock.unlock();
      disconnect();
      lock.lock();
      s_.thread_running = false;
      s_.done_seq.fetch_add(1, std::memory_order_release);
      futex_wake(s_.done_seq, INT_MAX);
      return;
    }
  }
}

// The flusher's whole life; nothing in it allocates or throws.
void flusher_main(void*) {
  Flusher f(state());
  f.run();
}

// Called with mu held, by a recording thread.
bool start_thread(State& s) {
  s.flusher_config = s.latest;  // copies: allocation is fine on this side; no flusher reads it now
  if (!s.thread.start(flusher_main, nullptr, "agent-run-flush")) return false;
  s.thread_running = true;
  return true;
}

}  // namespace

SpanSink& SpanSink::instance() {
  static SpanSink sink;  // no members: nothing to construct or destroy
  return sink;
}

void SpanSink::configure(const SinkOptions& options) try {
  State& s = state();
  std::call_once(g_atfork_once, [] { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); });
  // Built before taking the lock: the flusher swaps it in as it is.
  FlusherConfig next;
  next.opts = options;
  if (next.opts.flush_interval_ms == 0) next.opts.flush_interval_ms = 1;
  Hello h;
  h.pid = 0;  // the flusher writes its process's pid in
  h.agent_version = agent_run::kVersion;
  h.service_name = options.service_name;
  append_hello(h, next.hello);
  FlusherConfig latest = next;
  std::lock_guard<FutexLock> lock(s.mu);
  std::swap(s.latest, latest);
  std::swap(s.handover, next);  // the configs swapped out are freed here, on this side
  size_t cap = options.buffer_bytes / 2;
  if (cap < 64 * 1024) cap = 64 * 1024;
  if (!s.thread_running && s.front_used == 0) {
    // No flusher holds the buffers: they take the new size on the next submit.
    s.front.reset();
    s.back.reset();
    s.capacity = cap;
  }
  s.configured = true;
  s.stopping = false;
  s.collector_down = false;
  s.config_generation++;
} catch (...) {
  // Out of memory copying the options: the sink stays as it was.
}

namespace {

// Room for one record of `n` bytes (its length prefix included) at the end
// of the front buffer, or null with the drop counted. Called with mu held.
uint8_t* reserve_record(State& s, size_t n) {
  s.stats.submitted++;
  if (!s.configured || s.latest.opts.socket_path.empty() || s.stopping || s.collector_down) {
    s.stats.dropped_no_collector++;
    return nullptr;
  }
  if (n + 4 > kMaxPayload || n > s.capacity) {
    s.stats.dropped_too_large++;
    return nullptr;
  }
  if (!s.front) {
    s.front.reset(new (std::nothrow) uint8_t[s.capacity]);
    s.back.reset(new (std::nothrow) uint8_t[s.capacity]);
    if (!s.front || !s.back) {
      s.front.reset();
      s.back.reset();
      s.stats.dropped_buffer_full++;
      return nullptr;
    }
  }
  if (!s.thread_running && !start_thread(s)) {
    s.stats.dropped_no_collector++;
    return nullptr;
  }
  if (s.front_used + n > s.capacity) {
    s.stats.dropped_buffer_full++;
    return nullptr;
  }
  uint8_t* p = s.front.get() + s.front_used;
  uint32_t len = uint32_t(n - 4);
  p[0] = uint8_t(len); p[1] = uint8_t(len >> 8); p[2] = uint8_t(len >> 16); p[3] = uint8_t(len >> 24);
  s.front_used += n;
  s.front_count++;
  if (!s.flush_requested && s.front_used > std::min(s.capacity / 2, kFlushAtBytes)) {
    s.flush_requested = true;
    wake_flusher(s);
  }
  return p + 4;
}

}  // namespace

bool SpanSink::submit(const Span& span, const EncodedAttributes& first) {
  State& s = state();
  size_t n = 4 + encoded_span_size(span, first);
  std::lock_guard<FutexLock> lock(s.mu);
  uint8_t* p = reserve_record(s, n);
  if (p == nullptr) return false;
  encode_span(span, first, p);
  return true;
}

bool SpanSink::submit_encoded(const uint8_t* head, size_t head_size, const uint8_t* body, size_t body_size) {
  State& s = state();
  std::lock_guard<FutexLock> lock(s.mu);
  uint8_t* p = reserve_record(s, 4 + head_size + body_size);
  if (p == nullptr) return false;
  std::memcpy(p, head, head_size);
  if (body_size != 0) std::memcpy(p + head_size, body, body_size);
  return true;
}

SinkStats SpanSink::stats() const {
  State& s = state();
  std::lock_guard<FutexLock> lock(s.mu);
  return s.stats;
}

void SpanSink::submit_health(const Health& health) {
  State& s = state();
  std::lock_guard<FutexLock> lock(s.mu);
  if (!s.thread_running || s.stopping) return;  // nothing recorded here, or too late
  int slot = s.health_sending == 0 ? 1 : 0;  // never the one being sent
  s.health[slot].clear();
  append_health(health, s.health[slot]);
  s.health_ready = slot;
  s.flush_requested = true;
  wake_flusher(s);
}

void SpanSink::flush_now() {
  State& s = state();
  std::lock_guard<FutexLock> lock(s.mu);
  s.flush_requested = true;
  wake_flusher(s);
}

void SpanSink::flush_and_stop(uint32_t timeout_ms) {
  State& s = state();
  std::unique_lock<FutexLock> lock(s.mu);
  s.stopping = true;
  if (!s.thread_running) {
    // Spans are buffered and no flusher runs (one retired when the app's
    // credentials changed): one more sends them, with the app's credentials.
    if (s.front_used == 0 || s.collector_down || !s.configured || !start_thread(s)) return;
  }
  wake_flusher(s);
  uint64_t deadline = now_ms() + timeout_ms;
  while (s.thread_running) {
    uint32_t seq = s.done_seq.load(std::memory_order_acquire);
    uint64_t now = now_ms();
    if (now >= deadline) return;
    lock.unlock();
    futex_wait(s.done_seq, seq, uint32_t(deadline - now));
    lock.lock();
  }
}

}  // namespace agent_run::wire
