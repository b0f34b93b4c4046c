#pragma once
// OTLP protobuf encoding of a batch with libprotobuf (messages generated from
// src/collector/proto, official OTLP field numbers).
#include <string>

#include "collector/span_batch.hpp"

namespace agent_run::collector {

// Serialized opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest.
std::string encode_otlp_request(const SpanBatch& batch);

}  // namespace agent_run::collector
