#include "collector/otlp_proto.hpp"

#include <google/protobuf/arena.h>

#include <cstring>

#include "agent_run/version.hpp"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace agent_run::collector {

namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace = opentelemetry::proto::trace::v1;

void set_value(common::AnyValue* out, const wire::AttributeValue& v) {
  switch (v.index()) {
    case 0: out->set_string_value(std::get<std::string>(v)); break;
    case 1: out->set_int_value(std::get<int64_t>(v)); break;
    case 2: out->set_double_value(std::get<double>(v)); break;
    default: out->set_bool_value(std::get<bool>(v)); break;
  }
}

void add_attributes(google::protobuf::RepeatedPtrField<common::KeyValue>* out,
                    const std::vector<wire::Attribute>& attrs) {
  out->Reserve(int(attrs.size()));
  for (const auto& a : attrs) {
    common::KeyValue* kv = out->Add();
    kv->set_key(a.key);
    set_value(kv->mutable_value(), a.value);
  }
}

void add_string_attr(google::protobuf::RepeatedPtrField<common::KeyValue>* out, const char* key,
                     const std::string& value) {
  common::KeyValue* kv = out->Add();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

}  // namespace

std::string encode_otlp_request(const SpanBatch& batch) {
  google::protobuf::Arena arena;
  auto* req = google::protobuf::Arena::CreateMessage<
      opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest>(&arena);
  static const uint8_t zero[8] = {};
  auto groups = batch.by_resource();
  wire::Span s;  // each span decoded in turn, its buffers reused
  for (size_t r = 0; r < groups.size(); ++r) {
    if (groups[r].empty()) continue;
    const ResourceInfo& info = *batch.resources[r];
    trace::ResourceSpans* rs = req->add_resource_spans();
    auto* rattrs = rs->mutable_resource()->mutable_attributes();
    add_string_attr(rattrs, "service.name", info.service_name);
    common::KeyValue* pid = rattrs->Add();
    pid->set_key("process.pid");
    pid->mutable_value()->set_int_value(info.pid);
    add_string_attr(rattrs, "telemetry.sdk.name", "agent-run");
    add_string_attr(rattrs, "telemetry.sdk.language", "python");
    add_string_attr(rattrs, "telemetry.sdk.version", info.agent_version);
    trace::ScopeSpans* ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name("agent-run");
    ss->mutable_scope()->set_version(agent_run::kVersion);
    ss->mutable_spans()->Reserve(int(groups[r].size()));
    for (uint32_t i : groups[r]) {
      batch.decode(i, s);
      trace::Span* p = ss->add_spans();
      p->set_trace_id(s.trace_id, 16);
      p->set_span_id(s.span_id, 8);
      if (std::memcmp(s.parent_span_id, zero, 8) != 0) p->set_parent_span_id(s.parent_span_id, 8);
      p->set_flags(s.trace_flags);
      p->set_name(s.name);
      p->set_kind(trace::Span::SpanKind(int(s.kind)));
      p->set_start_time_unix_nano(s.start_unix_nano);
      p->set_end_time_unix_nano(s.end_unix_nano);
      add_attributes(p->mutable_attributes(), s.attributes);
      p->set_dropped_attributes_count(s.dropped_attributes_count);
      for (const auto& e : s.events) {
        trace::Span::Event* pe = p->add_events();
        pe->set_time_unix_nano(e.time_unix_nano);
        pe->set_name(e.name);
        add_attributes(pe->mutable_attributes(), e.attributes);
      }
      if (s.status_code != wire::StatusCode::Unset || !s.status_message.empty()) {
        p->mutable_status()->set_code(trace::Status::StatusCode(int(s.status_code)));
        p->mutable_status()->set_message(s.status_message);
      }
    }
  }
  std::string out;
  req->SerializeToString(&out);
  return out;
}

}  // namespace agent_run::collector
