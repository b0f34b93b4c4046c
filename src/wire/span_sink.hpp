#pragma once
// The app-side end of the transport: a bounded native buffer of encoded spans
// and a native flusher thread (never takes the GIL; not a pthread, see
// raw_thread.hpp) that sends batches to the collector's UNIX socket. submit() never blocks and never waits on the
// collector: when the buffer is full or the collector is gone, the span is
// dropped and counted. After fork (pthread_atfork, so also under uWSGI) the
// child starts with an empty buffer and no thread; the thread starts lazily
// on the first submit in the process that records.

#include <cstdint>
#include <string>

#include "wire/protocol.hpp"
#include "wire/span.hpp"

namespace agent_run::wire {

struct SinkOptions {
  std::string socket_path;           // the collector's socket; empty: drop everything
  std::string service_name;
  size_t buffer_bytes = 8u << 20;    // encoded spans held at most
  uint32_t flush_interval_ms = 200;
  // Extensions (defaults suit the app; tests and benchmarks tune them).
  uint32_t send_timeout_ms = 1000;      // a batch stuck longer than this: connection dropped, spans counted
  uint32_t reconnect_min_ms = 100;      // backoff between connection attempts, doubling
  uint32_t reconnect_max_ms = 5000;
};

struct SinkStats {
  uint64_t submitted = 0;
  uint64_t sent = 0;
  uint64_t dropped_buffer_full = 0;
  uint64_t dropped_no_collector = 0;
  uint64_t dropped_too_large = 0;    // one span above the protocol's payload limit
  uint64_t connects = 0;             // successful connections to the collector
};

class SpanSink {
 public:
  static SpanSink& instance();
  void configure(const SinkOptions& options);
  // false: dropped (and counted). first: attributes already encoded, before span.attributes.
  bool submit(const Span& span, const EncodedAttributes& first = EncodedAttributes{});
  // The same for a span already encoded (encode_span's bytes, see SpanHead),
  // given in two parts: the record is `head` then `body` (a span's head made
  // per span, and a tail its recorder keeps: sqlite3 statements).
  bool submit_encoded(const uint8_t* head, size_t head_size, const uint8_t* body = nullptr, size_t body_size = 0);
  SinkStats stats() const;
  void flush_and_stop(uint32_t timeout_ms);  // at interpreter exit
  // Asks the flusher to send what is buffered now (does not wait).
  void flush_now();
  // The plugins' health, sent with the next flush (at exit, before
  // flush_and_stop). Only where the flusher runs: a process that recorded
  // nothing has nothing to report.
  void submit_health(const Health& health);
};

}  // namespace agent_run::wire
