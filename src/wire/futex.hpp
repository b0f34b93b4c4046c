#pragma once
// A lock and a wake-up word on Linux futexes, through raw system calls: the
// span sink's flusher (raw_thread.hpp) runs outside glibc's knowledge and so
// may not call pthread functions or write errno; the recording threads use
// the same lock, which costs what a pthread mutex costs when uncontended (one
// atomic exchange each way, no system call).
#include <linux/futex.h>
#include <time.h>

#include <atomic>
#include <cstdint>

#include "common/raw_syscall.hpp"

namespace agent_run::wire {

// Sleeps while *word == expected, at most `timeout_ms` (0: no limit); returns
// on a wake, a timeout, a signal, or at once when *word already differs.
inline void futex_wait(std::atomic<uint32_t>& word, uint32_t expected, uint32_t timeout_ms = 0) {
  timespec ts{time_t(timeout_ms / 1000), long(timeout_ms % 1000) * 1000000L};
  raw_syscall(SYS_futex, long(&word), FUTEX_WAIT_PRIVATE, long(expected), timeout_ms ? long(&ts) : 0);
}

inline void futex_wake(std::atomic<uint32_t>& word, int waiters) {
  raw_syscall(SYS_futex, long(&word), FUTEX_WAKE_PRIVATE, waiters);
}

// A mutex (Drepper's three-state futex lock: 0 free, 1 held, 2 held with
// waiters); usable with std::lock_guard and std::unique_lock.
class FutexLock {
 public:
  void lock() {
    uint32_t c = 0;
    if (v_.compare_exchange_strong(c, 1, std::memory_order_acquire)) return;
    if (c != 2) c = v_.exchange(2, std::memory_order_acquire);
    while (c != 0) {
      futex_wait(v_, 2);
      c = v_.exchange(2, std::memory_order_acquire);
    }
  }
  void unlock() {
    if (v_.fetch_sub(1, std::memory_order_release) != 1) {
      v_.store(0, std::memory_order_release);
      futex_wake(v_, 1);
    }
  }
  // After fork, in the child: the one thread there holds it (taken before
  // fork), or nobody does; either way it starts free.
  void reset_after_fork() { v_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<uint32_t> v_{0};
};

}  // namespace agent_run::wire
