#pragma once
// A batch of decoded spans on its way from the socket server to the exporters,
// with the resource (the sending process) of each span.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "wire/span.hpp"

namespace agent_run::collector {

// One process of the app, as its HELLO described it.
struct ResourceInfo {
  uint32_t pid = 0;
  std::string service_name;
  std::string agent_version;
};

struct SpanBatch {
  std::vector<std::shared_ptr<const ResourceInfo>> resources;
  std::vector<wire::Span> spans;
  std::vector<uint32_t> resource_of;  // per span: index into resources

  size_t size() const { return spans.size(); }
  bool empty() const { return spans.empty(); }
  void clear() {
    resources.clear();
    spans.clear();
    resource_of.clear();
  }
  // Span indexes grouped per resource, in resource order.
  std::vector<std::vector<uint32_t>> by_resource() const {
    std::vector<std::vector<uint32_t>> out(resources.size());
    for (uint32_t i = 0; i < spans.size(); ++i) out[resource_of[i]].push_back(i);
    return out;
  }
};

uint64_t monotonic_ms();

}  // namespace agent_run::collector
