#pragma once
// One thread that glibc does not know of, for the span sink's flusher.
//
// Why not pthread_create: once a process has made a thread that way, glibc
// takes its multi-threaded paths for good (malloc and free lock their arena,
// every cancellable system call checks for cancellation, stdio locks), and a
// gunicorn or uWSGI worker pays that on every request: in a traced Flask
// worker, malloc took its arena lock ~25 times per request (callgrind,
// docs/benchmarks.md). The flusher needs nothing from libc but system
// calls, so it is started with clone() on its own stack and thread pointer
// and uses only raw system calls (common/raw_syscall.hpp), futexes
// (futex.hpp) and memory it is handed.
//
// It has a descriptor table of its own where the kernel allows (see
// start()): descriptors it opens are not the app's, and it sees none of the
// app's.
//
// Rules for the code that runs on it: no malloc or free (glibc's allocator
// believes it is single-threaded), no errno, no pthread or stdio calls, no
// thread_local, no exceptions. memcpy and the like are fine.
#include <atomic>
#include <cstdint>

namespace agent_run::wire {

// On a RawThread: whether its credentials (user and group ids,
// supplementary groups, capabilities) are still those of the process's main
// thread. glibc's setuid(), setgid(), setgroups() and the like change every
// thread glibc knows of, and only those: a RawThread started before the app
// dropped privileges keeps them. Compares the two threads' lines in /proc;
// true when they cannot be read (nothing to act on). Raw system calls only.
bool same_credentials_as_process();

class RawThread {
 public:
  // Runs fn(arg) on the thread, with every signal blocked and the name
  // `name` (at most 15 characters). A previous thread whose function has
  // returned is waited for (at most 100 ms) so that its stack can be reused.
  // false: it could not start (out of memory, clone refused, the previous
  // thread still there).
  bool start(void (*fn)(void*), void* arg, const char* name);
  // Whether a thread started here still exists (the kernel clears the word
  // when it exits, even if it is killed).
  bool alive() const { return tid_.load(std::memory_order_acquire) != 0; }
  // In the child after fork: the parent's thread does not exist here; its
  // stack, copied with the rest of memory, is free for the child's own.
  void forget_after_fork() { tid_.store(0, std::memory_order_relaxed); }

 private:
  static int entry(void* self);
  void (*fn_)(void*) = nullptr;
  void* arg_ = nullptr;
  char name_[16] = {};
  bool own_files_ = false;        // started without CLONE_FILES: empties its copy of the table first
  void* stack_ = nullptr;         // mapped once (with its thread pointer's area), reused by every thread of this process
  std::atomic<int32_t> tid_{0};   // CLONE_PARENT_SETTID / CLONE_CHILD_CLEARTID
};

}  // namespace agent_run::wire
