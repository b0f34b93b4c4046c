#include "collector/server.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "collector/log.hpp"
#include "collector/handover.hpp"
#include "collector/read_buffer.hpp"
#include "collector/utf8.hpp"

namespace agent_run::collector {

namespace {
constexpr size_t kMaxConnections = 4096;
constexpr uint64_t kTagListen = 1, kTagTimer = 2, kTagSignal = 3, kTagPidfd = 4, kTagConnBase = 16;
constexpr size_t kInitialBuffer = 64 * 1024;
constexpr size_t kKeepBuffer = 1024 * 1024;  // a connection keeps a receive buffer up to this size
constexpr uint64_t kTickMs = 50;

void sanitize_span(wire::Span& s, uint64_t& count) {
  count += sanitize_utf8(s.name);
  count += sanitize_utf8(s.status_message);
  for (auto& a : s.attributes) {
    count += sanitize_utf8(a.key);
    if (auto* v = std::get_if<std::string>(&a.value)) count += sanitize_utf8(*v);
  }
  for (auto& e : s.events) {
    count += sanitize_utf8(e.name);
    for (auto& a : e.attributes) {
      count += sanitize_utf8(a.key);
      if (auto* v = std::get_if<std::string>(&a.value)) count += sanitize_utf8(*v);
    }
  }
}

inline bool valid_utf8(const wire::StringRef& s) {
  return is_ascii(s.data, s.size) || is_valid_utf8(s.data, s.size);
}

bool valid_utf8(wire::AttributeCursor c) {
  wire::AttributeRef a;
  while (c.next(a))
    if (!valid_utf8(a.key) || (a.type == wire::ValueType::String && !valid_utf8(a.string))) return false;
  return true;
}

// Whether every string of a record is valid UTF-8, as the exporters need
// (nearly always: ASCII).
bool valid_utf8(const wire::SpanRecord& r) {
  if (!valid_utf8(r.name) || !valid_utf8(r.status_message) || !valid_utf8(r.attribute_cursor())) return false;
  wire::EventCursor events = r.event_cursor();
  wire::EventRef e;
  while (events.next(e))
    if (!valid_utf8(e.name) || !valid_utf8(e.attributes)) return false;
  return true;
}
}  // namespace

struct Server::Conn {
  int fd = -1;
  pid_t peer_pid = 0;
  ReadBuffer buf;
  size_t start = 0, end = 0;
  std::shared_ptr<const ResourceInfo> resource;  // set by HELLO
};

Server::Server(const Options& o, SpanStore* store) : o_(o), store_(store), uid_(::getuid()) {}

Server::~Server() {
  for (auto& kv : conns_) ::close(kv.first);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

// The launcher's socket (--listen-fd): already bound at socket_path (in its
// 0700 directory, with umask 077) and listening, so the app's processes may
// have connected before we got here; their connections wait in the backlog.
bool Server::adopt_listener(std::string& error) {
  int fd = o_.listen_fd;
  int listening = 0, domain = 0;
  socklen_t len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
    const bool closed = errno == EBADF;
    error = "--listen-fd=" + std::to_string(fd) + (closed ? " is not open" : " is not a listening socket") +
            " (the launcher and the collector do not match: reinstall agent-run)";
    return false;
  }
  len = sizeof domain;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_UNIX) {
    error = "--listen-fd=" + std::to_string(fd) + " is not a UNIX socket";
    return false;
  }
  int fl = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  listen_fd_ = fd;
  socket_owned_ = true;
  return true;
}

bool Server::bind_listener(std::string& error) {
  sockaddr_un addr{};
  if (o_.socket_path.size() >= sizeof(addr.sun_path)) {
    error = "socket path too long: " + o_.socket_path;
    return false;
  }
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, o_.socket_path.data(), o_.socket_path.size());
  mode_t old = ::umask(0077);
  int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (rc != 0) {
    error = "bind " + o_.socket_path + ": " + std::strerror(errno);
    return false;
  }
  socket_owned_ = true;
  ::chmod(o_.socket_path.c_str(), mode_t(o_.socket_mode));
  if (::listen(listen_fd_, 4096) != 0) {
    error = std::string("listen: ") + std::strerror(errno);
    return false;
  }
  return true;
}

bool Server::listen(std::string& error) {
  if (o_.listen_fd >= 0) {
    if (!adopt_listener(error)) return false;
  } else if (!bind_listener(error)) {
    return false;
  }
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    error = std::string("epoll_create1: ") + std::strerror(errno);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kTagListen;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  return true;
}

void Server::unlink_socket() {
  if (!socket_unlinked_ && socket_owned_) ::unlink(o_.socket_path.c_str());
  socket_unlinked_ = true;
}

void Server::accept_ready() {
  for (int i = 0; i < 64; ++i) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop polling the listener for a moment (it would
        // stay readable and spin); the senders retry with backoff.
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        listen_paused_until_ = monotonic_ms() + 200;
        if (!fd_limit_logged_) {
          fd_limit_logged_ = true;
          Log::get().warn(std::string("accept: ") + std::strerror(errno) + "; new connections wait");
        }
      }
      return;
    }
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != uid_) {
      stats_.connections_refused_uid++;
      if (stats_.connections_refused_uid <= 10)
        Log::get().warn("refused a connection from uid " + std::to_string(cred.uid) + " pid " +
                        std::to_string(cred.pid) + " (collector runs as uid " + std::to_string(uid_) + ")");
      ::close(fd);
      continue;
    }
    if (conns_.size() >= kMaxConnections) {
      stats_.connections_refused_limit++;
      ::close(fd);
      continue;
    }
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->peer_pid = cred.pid;
    c->buf.resize(kInitialBuffer, 0);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = kTagConnBase + uint64_t(fd);
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    stats_.connections_accepted++;
    conns_[fd] = std::move(c);
  }
}

void Server::close_conn(Conn* c) {
  if (c->end > c->start) stats_.truncated_at_close++;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
  ::close(c->fd);
  conns_.erase(c->fd);  // destroys c
}

void Server::reject(Conn* c, wire::DecodeError e, const char* what) {
  if (e != wire::DecodeError::Ok)
    stats_.rejected[size_t(e) & 7]++;
  else
    stats_.rejected_protocol++;
  if (++rejects_logged_ <= 20)
    Log::get().warn(std::string("rejected a message from pid ") + std::to_string(c->peer_pid) + ": " + what +
                    (e != wire::DecodeError::Ok ? std::string(" (") + wire::to_string(e) + ")" : std::string()) +
                    "; connection closed");
  c->start = c->end = 0;  // not a truncation at close: already counted
  close_conn(c);
}

bool Server::handle_message(Conn* c, wire::MessageType type, const uint8_t* p, uint32_t len) {
  switch (type) {
    case wire::MessageType::Hello: {
      if (c->resource) {
        reject(c, wire::DecodeError::Ok, "second HELLO");
        return false;
      }
      wire::Hello h;
      wire::DecodeError e = wire::decode_hello(p, len, h);
      if (e != wire::DecodeError::Ok) {
        reject(c, e, "HELLO");
        return false;
      }
      auto r = std::make_shared<ResourceInfo>();
      r->pid = h.pid;
      r->service_name = h.service_name.empty() ? o_.service_name : h.service_name;
      r->agent_version = h.agent_version;
      stats_.sanitized_strings += sanitize_utf8(r->service_name) + sanitize_utf8(r->agent_version);
      c->resource = std::move(r);
      return true;
    }
    case wire::MessageType::Spans: {
      if (!c->resource) {
        reject(c, wire::DecodeError::Ok, "SPANS before HELLO");
        return false;
      }
      const SpanStore::Mark mark = store_->mark();
      // The payload starts with its span count; no more than the payload
      // can hold is reserved whatever it says (the walk checks it).
      if (len >= 4) store_->reserve(std::min<size_t>(wire::detail::load_u32(p), len / 64), len);
      uint64_t n = 0;
      wire::DecodeError e = wire::walk_spans_payload(
          p, len, [&](const uint8_t* record, size_t size, const wire::SpanRecord& r) {
            if (__builtin_expect(valid_utf8(r), 1)) {
              store_->add(c->resource, record, r, size);
            } else {  // rare: decoded, invalid sequences replaced, encoded again
              wire::copy_span(r, scratch_);
              sanitize_span(scratch_, stats_.sanitized_strings);
              store_->add(c->resource, scratch_);
            }
            ++n;
          });
      if (e != wire::DecodeError::Ok) {
        store_->rollback(mark);
        reject(c, e, "SPANS");
        return false;
      }
      stats_.spans_received += n;
      store_->maybe_flush();
      return true;
    }
    case wire::MessageType::Stats: {
      if (!c->resource) {
        reject(c, wire::DecodeError::Ok, "STATS before HELLO");
        return false;
      }
      wire::Stats s;
      wire::DecodeError e = wire::decode_stats(p, len, s);
      if (e != wire::DecodeError::Ok) {
        reject(c, e, "STATS");
        return false;
      }
      stats_.app[c->resource->pid] = s;
      return true;
    }
    case wire::MessageType::Health: {
      if (!c->resource) {
        reject(c, wire::DecodeError::Ok, "HEALTH before HELLO");
        return false;
      }
      wire::Health h;
      wire::DecodeError e = wire::decode_health(p, len, h);
      if (e != wire::DecodeError::Ok) {
        reject(c, e, "HEALTH");
        return false;
      }
      h.pid = c->resource->pid;  // the connection's own process, whatever the message says
      for (auto& ph : h.plugins) {
        sanitize_utf8(ph.name);
        sanitize_utf8(ph.state);
        sanitize_utf8(ph.last_error);
      }
      stats_.health[h.pid] = std::move(h);
      return true;
    }
  }
  reject(c, wire::DecodeError::BadType, "message");
  return false;
}

void Server::read_ready(Conn* c) {
  for (int round = 0; round < 8; ++round) {
    if (c->end == c->buf.size()) {
      // Full: compact, or grow up to the largest message.
      if (c->start > 0) {
        std::memmove(c->buf.data(), c->buf.data() + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
      } else if (c->buf.size() < wire::kHeaderSize + wire::kMaxPayload) {
        c->buf.resize(std::min(c->buf.size() * 2, wire::kHeaderSize + size_t(wire::kMaxPayload)), c->end);
      }
    }
    ssize_t n = ::read(c->fd, c->buf.data() + c->end, c->buf.size() - c->end);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      close_conn(c);
      return;
    }
    if (n == 0) {
      close_conn(c);
      return;
    }
    stats_.bytes_received += uint64_t(n);
    c->end += size_t(n);
    while (c->end - c->start >= wire::kHeaderSize) {
      wire::Header h;
      wire::DecodeError e = wire::decode_header(c->buf.data() + c->start, wire::kHeaderSize, h);
      if (e != wire::DecodeError::Ok) {
        reject(c, e, "header");
        return;
      }
      size_t need = wire::kHeaderSize + h.payload_length;
      if (c->end - c->start < need) {
        if (c->buf.size() < need) {
          std::memmove(c->buf.data(), c->buf.data() + c->start, c->end - c->start);
          c->end -= c->start;
          c->start = 0;
          // At least doubled: a flusher's messages vary in size around its
          // flush threshold, and a buffer grown to each one's exact size
          // was a fresh allocation (page faults, zeroed pages) per message.
          c->buf.resize(std::max(need, std::min(2 * c->buf.size(), wire::kHeaderSize + size_t(wire::kMaxPayload))),
                        c->end);
        }
        break;
      }
      stats_.messages++;
      if (!handle_message(c, h.type, c->buf.data() + c->start + wire::kHeaderSize, h.payload_length)) return;
      c->start += need;
    }
    if (c->start == c->end) {
      c->start = c->end = 0;
      // A message larger than a flusher's usual grew the buffer: give the
      // memory back (the usual ones, up to a few hundred KiB, keep theirs).
      if (c->buf.size() > kKeepBuffer) {
        c->buf.resize(kInitialBuffer, 0);
      }
    }
    if (size_t(n) < 4096) return;  // drained for now; level-triggered epoll calls again
  }
}

std::string Server::run(AppWatch& watch, uint64_t& drain_started_ms) {
  const sigset_t mask = stop_signals();
  int sfd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);  // signals blocked by main
  int tfd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  itimerspec its{};
  its.it_interval.tv_nsec = long(kTickMs) * 1000000;
  its.it_value.tv_nsec = long(kTickMs) * 1000000;
  ::timerfd_settime(tfd, 0, &its, nullptr);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kTagSignal;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, sfd, &ev);
  ev.data.u64 = kTagTimer;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, tfd, &ev);
  if (watch.pidfd() >= 0) {
    ev.data.u64 = kTagPidfd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, watch.pidfd(), &ev);
  }

  std::string reason;
  uint64_t ingest_deadline = 0;
  auto start_drain = [&](const std::string& why) {
    if (!reason.empty()) return;
    reason = why;
    drain_started_ms = monotonic_ms();
    ingest_deadline = drain_started_ms + o_.drain_timeout_ms / 2;
    unlink_socket();  // new connections fail at once: the senders count their spans as dropped
    // Those already in the backlog (an app that flushed at exit, before this
    // collector or its standby's exec of it was up) are drained like the others.
    if (listen_paused_until_ == 0) accept_ready();
    if (watch.pidfd() >= 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, watch.pidfd(), nullptr);
    Log::get().info("draining (" + why + "): " + std::to_string(conns_.size()) + " connections open");
  };

  epoll_event events[64];
  for (;;) {
    if (!reason.empty() && (conns_.empty() || monotonic_ms() >= ingest_deadline)) break;
    int n = ::epoll_wait(epoll_fd_, events, 64, int(kTickMs * 2));
    if (n < 0) {
      if (errno == EINTR) continue;
      Log::get().error(std::string("epoll_wait: ") + std::strerror(errno));
      start_drain("error");
      break;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kTagListen) {
        accept_ready();
      } else if (tag == kTagTimer) {
        uint64_t expirations;
        while (::read(tfd, &expirations, sizeof expirations) > 0) {
        }
      } else if (tag == kTagSignal) {
        signalfd_siginfo si;
        while (::read(sfd, &si, sizeof si) == ssize_t(sizeof si)) {
          if (si.ssi_signo == SIGHUP) continue;
          start_drain(std::string("signal ") + strsignal(int(si.ssi_signo)));
        }
      } else if (tag == kTagPidfd) {
        start_drain("app exited");
      } else {
        int fd = int(tag - kTagConnBase);
        auto it = conns_.find(fd);
        if (it != conns_.end()) read_ready(it->second.get());
      }
    }
    uint64_t now = monotonic_ms();
    store_->tick(now);
    if (listen_paused_until_ && now >= listen_paused_until_ && !socket_unlinked_) {
      listen_paused_until_ = 0;
      epoll_event lev{};
      lev.events = EPOLLIN;
      lev.data.u64 = kTagListen;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &lev);
    }
    if (reason.empty() && watch.pidfd() < 0 && watch.pid() > 0 && watch.gone()) start_drain("app exited");
  }
  if (!conns_.empty())
    Log::get().warn(std::to_string(conns_.size()) + " connections still open at the end of the drain");
  for (auto it = conns_.begin(); it != conns_.end();) {
    Conn* c = (it++)->second.get();
    close_conn(c);
  }
  store_->flush();
  ::close(sfd);
  ::close(tfd);
  return reason;
}

}  // namespace agent_run::collector
