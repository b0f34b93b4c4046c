#pragma once
// Batching between the socket server and the exporters: spans are collected
// into a batch that is handed to every exporter when it reaches
// batch_max_spans or is batch_max_delay_ms old (and at drain).
#include <algorithm>
#include <memory>
#include <vector>

#include "collector/exporter.hpp"
#include "collector/span_batch.hpp"

namespace agent_run::collector {

class SpanStore {
 public:
  SpanStore(std::vector<std::unique_ptr<Exporter>>* exporters, uint32_t max_spans, uint32_t max_delay_ms);

  // Adds a span sent by `resource`: its wire record (`size` bytes at
  // `data`), as wire::parse_span_record accepted it, copied into the batch.
  void add(const std::shared_ptr<const ResourceInfo>& resource, const uint8_t* data, const wire::SpanRecord& record,
           size_t size);
  // Adds a span the collector decoded and changed (encoded again).
  void add(const std::shared_ptr<const ResourceInfo>& resource, const wire::Span& span);
  // Marks and rolls back a group of adds (a message found malformed midway).
  struct Mark {
    size_t spans;
    size_t bytes;
  };
  Mark mark() const { return Mark{batch_.refs.size(), batch_.records.size()}; }
  // Room for a message's records: `spans` of `bytes` in all (one message of
  // a flusher can hold thousands, added before maybe_flush).
  void reserve(size_t spans, size_t bytes) {
    // Doubling: many small messages may make one batch (vector::reserve
    // gives exactly what it is asked; std::string's doubles by itself).
    const size_t need = batch_.refs.size() + spans;
    if (need > batch_.refs.capacity()) batch_.refs.reserve(std::max(need, 2 * batch_.refs.capacity()));
    batch_.records.reserve(batch_.records.size() + bytes);
  }
  void rollback(Mark mark);
  // Hands the batch over when it is full (call between messages).
  void maybe_flush();
  // Hands the batch over when it is old enough.
  void tick(uint64_t now_ms);
  void flush();

  uint64_t spans_added() const { return spans_added_; }

 private:
  std::vector<std::unique_ptr<Exporter>>* exporters_;
  uint32_t max_spans_;
  uint32_t max_delay_ms_;
  SpanBatch batch_;
  uint64_t batch_started_ms_ = 0;
  const ResourceInfo* last_resource_ = nullptr;
  uint32_t last_index_ = 0;
  uint64_t spans_added_ = 0;

  // A span from `resource` is being added: counts it, starts the batch's
  // clock on its first span, and returns the resource's index in the batch.
  uint32_t count_span_from(const std::shared_ptr<const ResourceInfo>& resource);
};

}  // namespace agent_run::collector
