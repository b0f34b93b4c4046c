#pragma once
// System calls that touch no memory but the caller's stack: no errno, no
// thread-local state, no libc. For code that runs before libc is set up
// (the launcher's quick launch, src/launcher/freestanding/quick_launch.cpp)
// or in a process that shares the launcher's address space and thread
// pointer while the launcher still runs (the collector's standby): glibc's
// wrappers write errno, which is the launcher's errno there; and for the
// small helpers those share with the rest (write_all.hpp, the collector's
// handover.hpp). Returns the kernel's result: >= 0, or -errno.
#include <sys/syscall.h>

namespace agent_run {

#if defined(__x86_64__)
inline long raw_syscall(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
inline long raw_syscall(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  return x0;
}
#else
#error "raw_syscall: add this architecture's system call sequence (see the x86_64 and aarch64 ones)"
#endif

}  // namespace agent_run
