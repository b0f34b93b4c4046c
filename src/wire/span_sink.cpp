// The app-side sink: a bounded native buffer of encoded spans and a native
// flusher thread that sends them to the collector (see span_sink.hpp).
//
// Linked into a CPython extension: nothing here throws out of an API call,
// prints, or runs code at static-initialization time. The state is created on
// first use and never destroyed (a detached thread may still use it at exit).
//
// submit() encodes the span straight into the front buffer under one mutex:
// no allocation and no syscall once the buffer exists (the first submit in a
// process allocates it and starts the thread). The flusher swaps the front
// and back buffers under the mutex and does all I/O without holding it.
#include "wire/span_sink.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>

#include "agent_run/version.hpp"
#include "wire/protocol.hpp"

namespace agent_run::wire {
namespace {

// The flusher is woken when the front buffer holds this much (or half the
// buffer, if less), not only on its interval: the two buffers are then
// reused within their first 128 KiB, which stay in the CPU's caches, instead
// of streaming megabytes through them between flushes, and a worker touches
// 256 KiB of buffer, not buffer_bytes. The rest of each buffer absorbs
// bursts while a send is in progress.
constexpr size_t kFlushAtBytes = 128 * 1024;

uint64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

struct State {
  std::mutex mu;
  std::condition_variable wake;  // the flusher waits here
  std::condition_variable done;  // flush_and_stop waits here

  // Guarded by mu.
  SinkOptions opts;
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
  std::string pending_health;   // an encoded HEALTH message, sent with the next flush
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
  // The flusher does not exist here: start clean. Its socket (if any) is the
  // parent's connection: the child never writes to it; it was opened with
  // SOCK_CLOEXEC and the child's flusher makes its own.
  new (&s.wake) std::condition_variable();
  new (&s.done) std::condition_variable();
  s.front_used = 0;
  s.front_count = 0;
  s.thread_running = false;
  s.flush_requested = false;
  s.stopping = false;
  s.collector_down = false;
  s.stats = SinkStats();
  s.pending_health.clear();
  s.mu.unlock();
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
    if (fd_ >= 0) ::close(fd_);
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
  std::string scratch_;
};

bool Flusher::ensure_connected(const SinkOptions& o, uint64_t now) {
  if (fd_ >= 0) return true;
  if (o.socket_path.empty() || o.socket_path.size() >= sizeof(sockaddr_un::sun_path)) return false;
  if (now < next_attempt_ms_) return false;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, o.socket_path.data(), o.socket_path.size());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      fd_ = fd;
      backoff_ms_ = 0;
      Hello h;
      h.pid = uint32_t(::getpid());
      h.agent_version = agent_run::kVersion;
      h.service_name = o.service_name;
      scratch_.clear();
      append_hello(h, scratch_);
      iovec iov{&scratch_[0], scratch_.size()};
      if (send_all(&iov, 1, o.send_timeout_ms)) {
        std::lock_guard<std::mutex> lock(s_.mu);
        s_.collector_down = false;
        s_.stats.connects++;
        return true;
      }
      disconnect();
    } else {
      ::close(fd);
    }
  }
  backoff_ms_ = backoff_ms_ == 0 ? o.reconnect_min_ms : backoff_ms_ * 2;
  if (backoff_ms_ > o.reconnect_max_ms) backoff_ms_ = o.reconnect_max_ms;
  next_attempt_ms_ = now + backoff_ms_;
  // The launcher made the socket before the app started, and connections
  // wait in its backlog until the collector accepts: a refused (or missing)
  // socket means the collector is gone, not that it is still starting.
  std::lock_guard<std::mutex> lock(s_.mu);
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
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
      uint64_t now = now_ms();
      if (now >= deadline) return false;
      pollfd p{fd_, POLLOUT, 0};
      int r = ::poll(&p, 1, int(deadline - now));
      if (r < 0 && errno != EINTR) return false;
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
    std::lock_guard<std::mutex> lock(s_.mu);
    now = s_.stats;
  }
  if (fd_ < 0) return;
  if (now.dropped_buffer_full == last_stats_sent_.dropped_buffer_full &&
      now.dropped_no_collector == last_stats_sent_.dropped_no_collector &&
      now.dropped_too_large == last_stats_sent_.dropped_too_large && now.sent == last_stats_sent_.sent)
    return;
  Stats st;
  st.pid = uint32_t(::getpid());
  st.submitted = now.submitted;
  st.sent = now.sent;
  st.dropped_buffer_full = now.dropped_buffer_full;
  st.dropped_no_collector = now.dropped_no_collector;
  st.dropped_too_large = now.dropped_too_large;
  scratch_.clear();
  append_stats(st, scratch_);
  iovec iov{&scratch_[0], scratch_.size()};
  if (send_all(&iov, 1, o.send_timeout_ms))
    last_stats_sent_ = now;
  else
    disconnect();
}

void Flusher::run() {
  std::unique_lock<std::mutex> lock(s_.mu);
  uint64_t last_stats_ms = now_ms();
  for (;;) {
    if (!s_.flush_requested && !s_.stopping) {
      s_.wake.wait_for(lock, std::chrono::milliseconds(s_.opts.flush_interval_ms));
    }
    s_.flush_requested = false;
    bool stop = s_.stopping;
    SinkOptions o = s_.opts;
    if (s_.config_generation != generation_) {
      generation_ = s_.config_generation;
      lock.unlock();
      disconnect();
      next_attempt_ms_ = 0;
      backoff_ms_ = 0;
      lock.lock();
    }
    std::swap(s_.front, s_.back);
    size_t used = s_.front_used;
    uint32_t count = s_.front_count;
    s_.front_used = 0;
    s_.front_count = 0;
    std::string health;
    health.swap(s_.pending_health);
    lock.unlock();

    uint64_t now = now_ms();
    uint64_t sent = 0;
    bool connected = ensure_connected(o, now);  // also retries (with backoff) while the collector is down
    if (count > 0 && connected) sent = send_records(s_.back.get(), used, count, o);
    if (!health.empty() && fd_ >= 0) {
      iovec iov{&health[0], health.size()};
      if (!send_all(&iov, 1, o.send_timeout_ms)) disconnect();
    }

    lock.lock();
    s_.stats.sent += sent;
    s_.stats.dropped_no_collector += count - sent;
    bool finished = stop && s_.front_used == 0;
    if (finished || now - last_stats_ms >= 1000) {
      last_stats_ms = now;
      lock.unlock();
      send_stats(o);
      lock.lock();
    }
    if (finished) {
      lock.unlock();
      disconnect();
      lock.lock();
      s_.thread_running = false;
      s_.done.notify_all();
      return;
    }
  }
}

void* flusher_main(void*) {
  State& s = state();
  try {
    Flusher f(s);
    f.run();
  } catch (...) {
    // Only allocation failures can get here: stop this flusher; the next
    // submit starts a new one. Nothing escapes into the app.
    std::lock_guard<std::mutex> lock(s.mu);
    s.thread_running = false;
    s.done.notify_all();
  }
  return nullptr;
}

// Called with mu held.
bool start_thread(State& s) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // the flusher never runs the app's signal handlers
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t t;
  int rc = pthread_create(&t, &attr, flusher_main, nullptr);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) return false;
  pthread_setname_np(t, "agent-run-flush");
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
  std::lock_guard<std::mutex> lock(s.mu);
  s.opts = options;
  if (s.opts.flush_interval_ms == 0) s.opts.flush_interval_ms = 1;
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
  if (!s.configured || s.opts.socket_path.empty() || s.stopping || s.collector_down) {
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
    s.wake.notify_one();
  }
  return p + 4;
}

}  // namespace

bool SpanSink::submit(const Span& span, const EncodedAttributes& first) {
  State& s = state();
  size_t n = 4 + encoded_span_size(span, first);
  std::lock_guard<std::mutex> lock(s.mu);
  uint8_t* p = reserve_record(s, n);
  if (p == nullptr) return false;
  encode_span(span, first, p);
  return true;
}

bool SpanSink::submit_encoded(const uint8_t* record, size_t size) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  uint8_t* p = reserve_record(s, 4 + size);
  if (p == nullptr) return false;
  std::memcpy(p, record, size);
  return true;
}

SinkStats SpanSink::stats() const {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.stats;
}

void SpanSink::submit_health(const Health& health) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.thread_running || s.stopping) return;  // nothing recorded here, or too late
  s.pending_health.clear();
  append_health(health, s.pending_health);
  s.flush_requested = true;
  s.wake.notify_one();
}

void SpanSink::flush_now() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.flush_requested = true;
  s.wake.notify_one();
}

void SpanSink::flush_and_stop(uint32_t timeout_ms) {
  State& s = state();
  std::unique_lock<std::mutex> lock(s.mu);
  s.stopping = true;
  if (!s.thread_running) return;
  s.wake.notify_one();
  s.done.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return !s.thread_running; });
}

}  // namespace agent_run::wire
