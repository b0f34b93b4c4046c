#pragma once
// Batching between the socket server and the exporters: spans are collected
// into a batch that is handed to every exporter when it reaches
// batch_max_spans or is batch_max_delay_ms old (and at drain).
#include <memory>
#include <vector>

#include "collector/exporter.hpp"
#include "collector/span_batch.hpp"

namespace agent_run::collector {

class SpanStore {
 public:
  SpanStore(std::vector<std::unique_ptr<Exporter>>* exporters, uint32_t max_spans, uint32_t max_delay_ms);

  // Adds a span sent by `resource`. `span` is moved into the batch and
  // replaced by a recycled one (whose strings and vectors keep their
  // capacity), so the decoder's next span allocates nothing in the common case.
  void add(const std::shared_ptr<const ResourceInfo>& resource, wire::Span& span);
  // Marks and rolls back a group of adds (a message found malformed midway).
  size_t mark() const { return batch_.spans.size(); }
  // Room for n more spans (a message says how many it brings): one message
  // of a flusher can hold thousands, added before maybe_flush.
  void reserve(size_t n) {
    batch_.spans.reserve(batch_.spans.size() + n);
    batch_.resource_of.reserve(batch_.resource_of.size() + n);
  }
  void rollback(size_t mark);
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
  std::vector<wire::Span> pool_;  // spans an exporter gave back, for reuse
};

}  // namespace agent_run::collector
