#pragma once
// A batch of spans on its way from the socket server to the exporters: the
// spans' wire records as the server checked them (parse_span_record), kept
// one after another, with the resource (the sending process) of each span.
// The local store writes its JSON straight from the records; exporters that
// need a wire::Span decode one (decode(), which cannot fail on a checked
// record).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "wire/protocol.hpp"
#include "wire/span.hpp"

namespace agent_run::collector {

// One process of the app, as its HELLO described it.
struct ResourceInfo {
  uint32_t pid = 0;
  std::string service_name;
  std::string agent_version;
};

struct SpanBatch {
  // Where a span's record is in `records`, where its events start
  // (wire::events_offset), and its index into `resources`.
  struct Ref {
    size_t offset;
    uint32_t size;
    uint32_t events_offset;
    uint32_t resource;
  };
  std::vector<std::shared_ptr<const ResourceInfo>> resources;
  std::string records;
  std::vector<Ref> refs;

  size_t size() const { return refs.size(); }
  bool empty() const { return refs.empty(); }
  void clear() {
    resources.clear();
    records.clear();
    refs.clear();
  }
  uint32_t resource_of(size_t i) const { return refs[i].resource; }
  const uint8_t* record_bytes(size_t i) const {
    return reinterpret_cast<const uint8_t*>(records.data()) + refs[i].offset;
  }
  // The i-th span's record, in place (valid until the batch changes).
  wire::SpanRecord record(size_t i) const { return wire::checked_span_record(record_bytes(i), refs[i].events_offset); }
  void decode(size_t i, wire::Span& out) const { wire::copy_span(record(i), out); }
  // A record parse_span_record accepted, copied in.
  void add_record(uint32_t resource, const uint8_t* data, size_t size, uint32_t events_offset) {
    refs.push_back(Ref{records.size(), uint32_t(size), events_offset, resource});
    records.append(reinterpret_cast<const char*>(data), size);
  }
  void add_record(uint32_t resource, const uint8_t* data, const wire::SpanRecord& record, size_t size) {
    add_record(resource, data, size, wire::events_offset(data, record));
  }
  // The i-th span of another batch.
  void add_from(uint32_t resource, const SpanBatch& other, size_t i) {
    add_record(resource, other.record_bytes(i), other.refs[i].size, other.refs[i].events_offset);
  }
  // A span, encoded (spans the collector rewrote, tests).
  void add(uint32_t resource, const wire::Span& span) {
    std::string record;
    wire::append_span(span, record);
    const auto* data = reinterpret_cast<const uint8_t*>(record.data());
    wire::SpanRecord checked;
    wire::parse_span_record(data, record.size(), checked);  // our own encoding: accepted
    add_record(resource, data, checked, record.size());
  }
  // Span indexes grouped per resource, in resource order.
  std::vector<std::vector<uint32_t>> by_resource() const {
    std::vector<std::vector<uint32_t>> out(resources.size());
    for (uint32_t i = 0; i < refs.size(); ++i) out[refs[i].resource].push_back(i);
    return out;
  }
};

uint64_t monotonic_ms();

}  // namespace agent_run::collector
