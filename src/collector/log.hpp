#pragma once
// The collector's log: one file (the agent log file, or collector.log in the
// socket directory). Never the app's stdout or stderr.
#include <cstdint>
#include <cstdio>
#include <string>

namespace agent_run::collector {

class Log {
 public:
  static Log& get();
  bool open(const std::string& path);  // false: logging goes nowhere
  void write(const char* level, const std::string& message);
  void info(const std::string& m) { write("info", m); }
  void warn(const std::string& m) { write("warning", m); }
  void error(const std::string& m) { write("error", m); }
  FILE* file() const { return file_; }
  uint64_t problems() const { return problems_; }  // warnings and errors logged

 private:
  FILE* file_ = nullptr;
  uint64_t problems_ = 0;
};

}  // namespace agent_run::collector
