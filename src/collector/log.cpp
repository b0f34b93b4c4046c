#include "collector/log.hpp"

#include <fcntl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <mutex>

namespace agent_run::collector {

namespace {
std::mutex g_log_mu;
}

Log& Log::get() {
  static Log log;
  return log;
}

bool Log::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  FILE* f = ::fdopen(fd, "a");
  if (!f) {
    ::close(fd);
    return false;
  }
  setvbuf(f, nullptr, _IOLBF, 0);
  file_ = f;
  return true;
}

void Log::write(const char* level, const std::string& message) {
  if (level[0] == 'w' || level[0] == 'e') ++problems_;
  if (!file_) return;
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  gmtime_r(&tv.tv_sec, &t);
  char ts[40];
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &t);
  std::lock_guard<std::mutex> lock(g_log_mu);
  fprintf(file_, "%s.%03dZ agent-run collector[%d] %s: %s\n", ts, int(tv.tv_usec / 1000), int(getpid()), level,
          message.c_str());
}

}  // namespace agent_run::collector
