#pragma once
// The collector's socket server: a UNIX stream socket, an epoll loop, the
// SO_PEERCRED uid check, per-connection framing and validation with counters.
// It also runs the collector's lifetime: the app's exit (AppWatch) or SIGTERM
// starts the drain.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collector/app_watch.hpp"
#include "collector/options.hpp"
#include "collector/span_store.hpp"
#include "wire/protocol.hpp"

namespace agent_run::collector {

struct ServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused_uid = 0;
  uint64_t connections_refused_limit = 0;
  uint64_t messages = 0;
  uint64_t spans_received = 0;
  uint64_t bytes_received = 0;
  uint64_t rejected[8] = {};           // by wire::DecodeError
  uint64_t rejected_protocol = 0;      // SPANS/STATS before HELLO, second HELLO
  uint64_t truncated_at_close = 0;     // a connection closed in the middle of a message
  uint64_t sanitized_strings = 0;      // invalid UTF-8 replaced
  std::map<uint32_t, wire::Stats> app;  // the latest STATS of each process
  std::map<uint32_t, wire::Health> health;  // the latest HEALTH of each process
  uint64_t rejected_total() const {
    uint64_t n = rejected_protocol;
    for (auto r : rejected) n += r;
    return n;
  }
};

class Server {
 public:
  Server(const Options& o, SpanStore* store);
  ~Server();
  // Listens on the launcher's socket (--listen-fd) or binds socket_path.
  bool listen(std::string& error);
  // Runs until the app is gone or a signal arrives, then drains ingestion
  // (until every connection closed, or half the drain time). Returns the
  // reason ("app-exit", "signal", "error") and the drain start.
  std::string run(AppWatch& watch, uint64_t& drain_started_ms);
  const ServerStats& stats() const { return stats_; }
  void unlink_socket();  // only a socket it owns (never another collector's, found at a failed bind)

 private:
  struct Conn;
  bool adopt_listener(std::string& error);
  bool bind_listener(std::string& error);
  void accept_ready();
  void read_ready(Conn* c);
  bool handle_message(Conn* c, wire::MessageType type, const uint8_t* payload, uint32_t len);
  void reject(Conn* c, wire::DecodeError e, const char* what);
  void close_conn(Conn* c);

  const Options& o_;
  SpanStore* store_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  bool socket_unlinked_ = false;
  bool socket_owned_ = false;  // ours to unlink: adopted from the launcher, or bound here
  uid_t uid_;
  std::map<int, std::unique_ptr<Conn>> conns_;
  ServerStats stats_;
  wire::Span scratch_;
  uint64_t rejects_logged_ = 0;
  uint64_t listen_paused_until_ = 0;
  bool fd_limit_logged_ = false;
};

}  // namespace agent_run::collector
