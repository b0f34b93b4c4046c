// report_cli PATH [--json] [--top N]: runs the report the way the launcher
// will, for manual checks and for timing on large generated stores.
#include <chrono>
#include <cstring>
#include <iostream>
#include <string>

#include "report/report.hpp"

int main(int argc, char** argv) {
  agent_run::report::ReportOptions opts;
  bool timing = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json")) opts.json = true;
    else if (!std::strcmp(argv[i], "--timing")) timing = true;
    else if (!std::strcmp(argv[i], "--top") && i + 1 < argc) opts.top = std::stoul(argv[++i]);
    else opts.path = argv[i];
  }
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = agent_run::report::run_report(opts, std::cout, std::cerr);
  if (timing)
    std::cerr << "elapsed: "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
  return rc;
}
