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
  batch_.spans.reserve(max_spans_);
}

void SpanStore::add(const std::shared_ptr<const ResourceInfo>& resource, wire::Span& span) {
  if (batch_.spans.empty()) batch_started_ms_ = monotonic_ms();
  if (resource.get() != last_resource_) {
    uint32_t idx = uint32_t(batch_.resources.size());
    for (uint32_t i = 0; i < batch_.resources.size(); ++i)
      if (batch_.resources[i] == resource) idx = i;
    if (idx == batch_.resources.size()) batch_.resources.push_back(resource);
    last_resource_ = resource.get();
    last_index_ = idx;
  }
  batch_.spans.push_back(std::move(span));
  batch_.resource_of.push_back(last_index_);
  ++spans_added_;
  if (!pool_.empty()) {
    span = std::move(pool_.back());
    pool_.pop_back();
  }
}

void SpanStore::rollback(size_t mark) {
  if (mark >= batch_.spans.size()) return;
  spans_added_ -= batch_.spans.size() - mark;
  batch_.spans.resize(mark);
  batch_.resource_of.resize(mark);
}

void SpanStore::maybe_flush() {
  if (batch_.spans.size() >= max_spans_) flush();
}

void SpanStore::tick(uint64_t now_ms) {
  if (!batch_.spans.empty() && now_ms - batch_started_ms_ >= max_delay_ms_) flush();
}

void SpanStore::flush() {
  if (batch_.spans.empty()) return;
  SpanBatch all;
  all.spans.reserve(max_spans_);
  std::swap(all, batch_);
  last_resource_ = nullptr;
  if (exporters_->empty()) return;
  // One message may have brought more than a batch: hand over batches of at
  // most max_spans_.
  for (size_t first = 0; first < all.spans.size(); first += max_spans_) {
    size_t last = std::min(all.spans.size(), first + size_t(max_spans_));
    SpanBatch out;
    if (first == 0 && last == all.spans.size()) {
      out = std::move(all);
    } else {
      std::vector<int64_t> remap(all.resources.size(), -1);
      out.spans.reserve(last - first);
      for (size_t i = first; i < last; ++i) {
        uint32_t r = all.resource_of[i];
        if (remap[r] < 0) {
          remap[r] = int64_t(out.resources.size());
          out.resources.push_back(all.resources[r]);
        }
        out.spans.push_back(std::move(all.spans[i]));
        out.resource_of.push_back(uint32_t(remap[r]));
      }
    }
    for (size_t e = 0; e + 1 < exporters_->size(); ++e) {
      SpanBatch copy = out;
      (*exporters_)[e]->export_batch(std::move(copy));
    }
    exporters_->back()->export_batch(std::move(out));
    // An exporter that only read the batch (store, console) leaves the spans
    // here: keep them for the decoder to reuse.
    for (auto& sp : out.spans) {
      if (pool_.size() >= 2 * size_t(max_spans_)) break;
      pool_.push_back(std::move(sp));
    }
  }
}

}  // namespace agent_run::collector
