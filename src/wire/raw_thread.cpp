// A thread started with clone(), unknown to glibc (see raw_thread.hpp).
#include "wire/raw_thread.hpp"

#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>

#include <cstring>

#include "common/raw_syscall.hpp"

namespace agent_run::wire {
namespace {

constexpr size_t kStackBytes = 256 * 1024;
constexpr size_t kGuardBytes = 4096;

}  // namespace

int RawThread::entry(void* self) {
  RawThread* t = static_cast<RawThread*>(self);
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
    void* s = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (s == MAP_FAILED) return false;
    mprotect(s, kGuardBytes, PROT_NONE);  // an overflow faults instead of writing below the stack
    stack_ = s;
  }
  fn_ = fn;
  arg_ = arg;
  std::strncpy(name_, name, sizeof(name_) - 1);

  // Its own thread pointer: the creating thread may exit (and its thread
  // control block be freed) while this one runs. Compiled code reads the
  // stack-protector canary through it on x86_64, so the block carries a
  // copy (and its self pointers); on aarch64 the canary is a global and the
  // thread pointer serves only thread_local, which this thread does not use.
  std::memset(tls_, 0, sizeof(tls_));
#if defined(__x86_64__)
  uintptr_t guard, pointer_guard;
  __asm__("mov %%fs:0x28, %0" : "=r"(guard));
  __asm__("mov %%fs:0x30, %0" : "=r"(pointer_guard));
  tls_[0] = uintptr_t(tls_);  // tcb
  tls_[2] = uintptr_t(tls_);  // self
  tls_[5] = guard;            // 0x28: stack_guard
  tls_[6] = pointer_guard;    // 0x30: pointer_guard
#endif

  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // inherited: the thread never runs the app's signal handlers
  const int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                    CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
  pid_t* tid = reinterpret_cast<pid_t*>(&tid_);
  int rc = clone(entry, static_cast<char*>(stack_) + kStackBytes, flags, this, tid, tls_, tid);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return rc > 0;
}

}  // namespace agent_run::wire
