// Plays the launcher's part around start_collector(): starts the collector,
// exports AGENT_RUN_COLLECTOR_SOCKET and execs the program (keeping this PID,
// which the collector watches). On failure the program still runs, with one
// warning line on stderr.
//   collector_start_driver --collector=PATH [--data-dir=D] [--exporter=E] [--drain-ms=N]
//                          [--log=PATH] [--result=FILE] -- PROGRAM ARGS...
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "launcher/collector_start.hpp"

int main(int argc, char** argv) {
  agent_run::launcher::CollectorLaunch p;
  p.service_name = "start-test";
  std::string result_file;
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    auto val = [&](const char* prefix) { return a.substr(std::strlen(prefix)); };
    if (a.rfind("--collector=", 0) == 0) p.collector_path = val("--collector=");
    else if (a.rfind("--data-dir=", 0) == 0) p.store_dir = val("--data-dir=");
    else if (a.rfind("--exporter=", 0) == 0) p.exporters = {val("--exporter=")};
    else if (a.rfind("--drain-ms=", 0) == 0) p.drain_timeout_ms = uint32_t(std::atoi(val("--drain-ms=").c_str()));
    else if (a.rfind("--log=", 0) == 0) p.log_path = val("--log=");
    else if (a.rfind("--result=", 0) == 0) result_file = val("--result=");
  }
  if (i >= argc) return 2;
  std::string error;
  auto socket = agent_run::launcher::start_collector(p, error);
  if (!result_file.empty()) {
    FILE* f = std::fopen(result_file.c_str(), "w");
    if (f) {
      std::fprintf(f, "%s\n%s\n", socket ? socket->c_str() : "", error.c_str());
      std::fclose(f);
    }
  }
  if (socket)
    setenv("AGENT_RUN_COLLECTOR_SOCKET", socket->c_str(), 1);
  else
    std::fprintf(stderr, "agent-run: warning: tracing is off: %s\n", error.c_str());
  execvp(argv[i], argv + i);
  std::perror("exec");
  return 127;
}
