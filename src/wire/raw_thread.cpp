// A thread started with clone(), unknown to glibc (see raw_thread.hpp).
#include "wire/raw_thread.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

#include "common/raw_syscall.hpp"

#ifndef SYS_close_range
#define SYS_close_range 436  // the same number on every architecture (Linux 5.9)
#endif

namespace agent_run::wire {
namespace {

// One mapping: a guard page, the stack, and at the top the area the thread
// pointer points into (see start()).
constexpr size_t kMapBytes = 256 * 1024;
constexpr size_t kGuardBytes = 4096;
constexpr size_t kThreadAreaBytes = 16 * 1024;

// The file's first `cap` - 1 bytes, NUL-terminated, read with raw system
// calls; false if it cannot be opened or read.
bool read_small_file(const char* path, char* buf, size_t cap) {
  long fd = raw_syscall(SYS_openat, AT_FDCWD, long(path), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t used = 0;
  while (used + 1 < cap) {
    long n = raw_syscall(SYS_read, fd, long(buf + used), long(cap - 1 - used));
    if (n == -EINTR) continue;
    if (n <= 0) break;
    used += size_t(n);
  }
  raw_syscall(SYS_close, fd);
  buf[used] = '\0';
  return used > 0;
}

// The line of `status` that starts with `key` (without its newline), or an
// empty view.
std::string_view status_line(const char* status, std::string_view key) {
  std::string_view s(status);
  for (size_t at = 0; at < s.size();) {
    size_t end = s.find('\n', at);
    if (end == std::string_view::npos) end = s.size();
    if (s.compare(at, key.size(), key) == 0) return s.substr(at, end - at);
    at = end + 1;
  }
  return {};
}

// Valgrind runs the app with its preload library in LD_PRELOAD (it sets
// the variable for the program it starts).
bool under_valgrind() {
  const char* preload = getenv("LD_PRELOAD");
  return preload != nullptr && strstr(preload, "vgpreload") != nullptr;
}

}  // namespace

bool same_credentials_as_process() {
  // /proc/self is the thread group's leader (the main thread); thread-self is this one.
  char process[4096], thread[4096];
  if (!read_small_file("/proc/self/status", process, sizeof(process)) ||
      !read_small_file("/proc/thread-self/status", thread, sizeof(thread)))
    return true;
  for (std::string_view key : {"Uid:", "Gid:", "Groups:", "CapPrm:", "CapEff:"})
    if (status_line(process, key) != status_line(thread, key)) return false;
  return true;
}

int RawThread::entry(void* self) {
  RawThread* t = static_cast<RawThread*>(self);
  // Started with a copy of the app's descriptor table (see start()): let go
  // of all of it first, so that nothing the app closes stays open here.
  if (t->own_files_) raw_syscall(SYS_close_range, 0, long(~0U), 0);
  raw_syscall(SYS_prctl, PR_SET_NAME, long(t->name_));
  t->fn_(t->arg_);
  return 0;  // glibc's clone() then ends this thread alone (exit, not exit_group)
}

bool RawThread::start(void (*fn)(void*), void* arg, const char* name) {
  // The kernel clears tid_ and wakes its futex (a shared one) when the
  // previous thread is gone: between its function's return and its exit.
  for (int i = 0; i < 100; ++i) {
    int32_t tid = tid_.load(std::memory_order_acquire);
    if (tid == 0) break;
    timespec ts{0, 1000000};  // 1 ms
    raw_syscall(SYS_futex, long(&tid_), FUTEX_WAIT, tid, long(&ts));
  }
  if (alive()) return false;
  if (stack_ == nullptr) {
    void* s = mmap(nullptr, kMapBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (s == MAP_FAILED) return false;
    mprotect(s, kGuardBytes, PROT_NONE);  // an overflow faults instead of writing below the stack
    stack_ = s;
  }
  fn_ = fn;
  arg_ = arg;
  std::strncpy(name_, name, sizeof(name_) - 1);

  // Its own thread pointer: the creating thread may exit (and its thread
  // control block be freed) while this one runs. It points into a zeroed
  // area of this mapping, above the stack, so that even a stray access to
  // thread-local storage (at negative offsets on x86_64, positive ones on
  // aarch64) stays inside memory of this thread's own. Compiled code reads
  // the stack-protector canary through it on x86_64, so the block carries a
  // copy (and its self pointers); on aarch64 the canary is a global.
  char* top = static_cast<char*>(stack_) + kMapBytes;
  char* area = top - kThreadAreaBytes;
  std::memset(area, 0, kThreadAreaBytes);
#if defined(__x86_64__)
  uintptr_t* tcb = reinterpret_cast<uintptr_t*>(top - 4096);  // 12 KiB below it, 4 KiB above
  uintptr_t guard, pointer_guard;
  __asm__("mov %%fs:0x28, %0" : "=r"(guard));
  __asm__("mov %%fs:0x30, %0" : "=r"(pointer_guard));
  tcb[0] = uintptr_t(tcb);  // tcb
  tcb[2] = uintptr_t(tcb);  // self
  tcb[5] = guard;           // 0x28: stack_guard
  tcb[6] = pointer_guard;   // 0x30: pointer_guard
#else
  void* tcb = area;  // 16 KiB above it
#endif

  // Its own descriptor table, where the kernel can empty the copy it starts
  // with (close_range, Linux 5.9; a seccomp filter may refuse it: probed
  // once, on a range past any descriptor, which closes nothing). The
  // thread's socket is then not one of the app's descriptors: an app that
  // closes descriptors it does not know (os.closerange, as daemons do) and
  // opens others cannot make the thread close or write into one of its
  // files. And the app's table is not shared, so the kernel keeps the
  // lock-free descriptor lookups of a one-thread process for every system
  // call of the app. Without close_range the table is shared, as a
  // pthread's is; so it is under valgrind, which ends the whole process on
  // a clone() whose flags are not a pthread's.
  static const bool can_empty_copy =
      !under_valgrind() && raw_syscall(SYS_close_range, long(~0U), long(~0U), 0) == 0;
  own_files_ = can_empty_copy;

  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // inherited: the thread never runs the app's signal handlers
  const int flags = CLONE_VM | CLONE_FS | (own_files_ ? 0 : CLONE_FILES) | CLONE_SIGHAND | CLONE_THREAD |
                    CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
  pid_t* tid = reinterpret_cast<pid_t*>(&tid_);
  int rc = clone(entry, area, flags, this, tid, tcb, tid);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return rc > 0;
}

}  // namespace agent_run::wire
