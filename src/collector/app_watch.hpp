#pragma once
// Watches the app's PID (the launcher's PID, which the program keeps after
// exec): a pidfd (pidfd_open, Linux 5.3+) that becomes readable when the
// process exits, or, where that is unavailable, a poll of kill(pid, 0) and
// /proc/<pid>/stat (a zombie counts as gone).
namespace agent_run::collector {

class AppWatch {
 public:
  ~AppWatch();
  // pid 0: nothing to watch. Returns false if the process is already gone.
  bool open(int pid);
  int pidfd() const { return pidfd_; }  // -1: use gone() on a timer
  bool gone() const;
  int pid() const { return pid_; }

 private:
  int pid_ = 0;
  int pidfd_ = -1;
};

}  // namespace agent_run::collector
