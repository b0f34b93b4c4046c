#include "launcher/freestanding/child_setup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>

#include "common/raw_syscall.hpp"

#ifndef SYS_close_range
#define SYS_close_range 436  // the same on every architecture
#endif

namespace agent_run::launcher::freestanding {

namespace {
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};
}  // namespace

long place_fds(const int* fds, int n) {
  // Each is first copied above the range, so that placing one never
  // overwrites the source of another (dup3 clears close-on-exec on the
  // copies); then everything from n up is closed.
  int high[kMaxPlacedFds];
  for (int i = 0; i < n; ++i) {
    const long fd = raw_syscall(SYS_fcntl, fds[i], F_DUPFD_CLOEXEC, n);
    if (fd < 0) return fd;
    high[i] = int(fd);
  }
  for (int i = 0; i < n; ++i) {
    const long rc = raw_syscall(SYS_dup3, high[i], i, 0);
    if (rc < 0) return rc;
  }
  if (raw_syscall(SYS_close_range, n, long(~0U), 0) == 0) return 0;
  rlimit lim{};
  long max = raw_syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, long(&lim)) == 0 ? long(lim.rlim_cur) : 1024;
  if (max > 65536) max = 65536;
  for (long fd = n; fd < max; ++fd) raw_syscall(SYS_close, fd);
  return 0;
}

void default_dispositions() {
  KernelSigaction dfl{};
  // Reserved signals (glibc's 32 and 33) fail: fine.
  for (long sig = 1; sig <= 64; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) raw_syscall(SYS_rt_sigaction, sig, long(&dfl), 0, kKernelSigsetBytes);
}

void set_signal_mask(uint64_t mask, uint64_t* old) {
  raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, long(&mask), long(old), kKernelSigsetBytes);
}

void copy_cpus(const CpuSet& from, CpuSet& to) {
  for (unsigned i = 0; i < sizeof from.bits; ++i) to.bits[i] = from.bits[i];
}

void restore_affinity(const CpuSet& cpus) {
  if (raw_syscall(SYS_sched_setaffinity, 0, sizeof cpus, long(&cpus)) == 0) return;
  CpuSet all;
  for (unsigned char& b : all.bits) b = 0xff;
  raw_syscall(SYS_sched_setaffinity, 0, sizeof all, long(&all));
}

bool pin_to_this_cpu(CpuSet& before) {
  unsigned cpu = 0;
  if (raw_syscall(SYS_getcpu, long(&cpu), 0, 0) != 0 || cpu >= sizeof before.bits * 8) return false;
  for (unsigned char& b : before.bits) b = 0;
  const long got = raw_syscall(SYS_sched_getaffinity, 0, sizeof before, long(&before));
  if (got <= 0 || !(before.bits[cpu / 8] & (1u << (cpu % 8)))) return false;
  CpuSet one;
  for (unsigned char& b : one.bits) b = 0;
  one.bits[cpu / 8] = static_cast<unsigned char>(1u << (cpu % 8));
  return raw_syscall(SYS_sched_setaffinity, 0, sizeof one, long(&one)) == 0;
}

}  // namespace agent_run::launcher::freestanding
