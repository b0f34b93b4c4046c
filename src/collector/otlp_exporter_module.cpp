// otlp_exporter.so: the OTLP/HTTP exporter as a module the collector loads
// only when it is configured (see load_otlp_exporter in main.cpp), so that
// the default collector never loads libcurl and libprotobuf.
#include <curl/curl.h>

#include "collector/exporter.hpp"

extern "C" __attribute__((visibility("default"))) agent_run::collector::Exporter*
agent_run_collector_make_otlp_exporter(const agent_run::collector::Options& o, std::string& error) {
  // Once, before the exporter's thread starts: curl's global state is not thread-safe to set up.
  static const bool curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!curl_ready) {
    error = "libcurl failed to initialize";
    return nullptr;
  }
  return agent_run::collector::make_otlp_http_exporter(o, error).release();
}
