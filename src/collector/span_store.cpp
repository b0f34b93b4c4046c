#include "collector/span_store.hpp"

#include <time.h>

#include <algorithm>

namespace agent_run::collector {

uint64_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

SpanStore::SpanStore(std::vector<std::unique_ptr<Exporter>>* exporters, uint32_t max_spans, uint32_t max_delay_ms)
    : exporters_(exporters), max_spans_(max_spans), max_delay_ms_(max_delay_ms) {
  batch_.refs.reserve(max_spans_);
}

uint32_t SpanStore::count_span_from(const std::shared_ptr<const ResourceInfo>& resource) {
  if (batch_.empty()) batch_started_ms_ = monotonic_ms();
  if (resource.get() != last_resource_) {
    uint32_t idx = uint32_t(batch_.resources.size());
    for (uint32_t i = 0; i < batch_.resources.size(); ++i)
      if (batch_.resources[i] == resource) idx = i;
    if (idx == batch_.resources.size()) batch_.resources.push_back(resource);
    last_resource_ = resource.get();
    last_index_ = idx;
  }
  ++spans_added_;
  return last_index_;
}

void SpanStore::add(const std::shared_ptr<const ResourceInfo>& resource, const uint8_t* data,
                    const wire::SpanRecord& record, size_t size) {
  batch_.add_record(count_span_from(resource), data, record, size);
}

void SpanStore::add(const std::shared_ptr<const ResourceInfo>& resource, const wire::Span& span) {
  batch_.add(count_span_from(resource), span);
}

void SpanStore::rollback(Mark mark) {
  if (mark.spans >= batch_.refs.size()) return;
  spans_added_ -= batch_.refs.size() - mark.spans;
  batch_.refs.resize(mark.spans);
  batch_.records.resize(mark.bytes);
}

void SpanStore::maybe_flush() {
  if (batch_.size() >= max_spans_) flush();
}

void SpanStore::tick(uint64_t now_ms) {
  if (!batch_.empty() && now_ms - batch_started_ms_ >= max_delay_ms_) flush();
}

void SpanStore::flush() {
  if (batch_.empty()) return;
  SpanBatch all;
  std::swap(all, batch_);
  last_resource_ = nullptr;
  if (exporters_->empty()) return;
  // One message may have brought more than a batch: hand over batches of at
  // most max_spans_.
  for (size_t first = 0; first < all.size(); first += max_spans_) {
    size_t last = std::min(all.size(), first + size_t(max_spans_));
    SpanBatch out;
    if (first == 0 && last == all.size()) {
      out = std::move(all);
    } else {
      std::vector<int64_t> remap(all.resources.size(), -1);
      out.refs.reserve(last - first);
      for (size_t i = first; i < last; ++i) {
        uint32_t r = all.resource_of(i);
        if (remap[r] < 0) {
          remap[r] = int64_t(out.resources.size());
          out.resources.push_back(all.resources[r]);
        }
        out.add_from(uint32_t(remap[r]), all, i);
      }
    }
    for (size_t e = 0; e + 1 < exporters_->size(); ++e) {
      SpanBatch copy = out;
      (*exporters_)[e]->export_batch(std::move(copy));
    }
    exporters_->back()->export_batch(std::move(out));
    // An exporter that only read the batch (store, console) leaves its
    // buffers here: the next batch reuses them.
    if (batch_.records.capacity() == 0 && out.records.capacity() != 0) {
      out.clear();
      std::swap(batch_, out);
    }
  }
}

}  // namespace agent_run::collector
