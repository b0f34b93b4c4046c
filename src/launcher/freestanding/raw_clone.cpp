#include "launcher/freestanding/raw_clone.hpp"

#if defined(__x86_64__)

// rdi = flags, rsi = stack top, rdx = fn, rcx = arg. fn and arg go on the
// child's stack, which is all it has after the system call; the parent
// returns the result. clone(flags, stack, parent_tid, child_tid, tls).
__asm__(R"(
    .text
    .p2align 4
    .globl agent_run_raw_clone
    .type agent_run_raw_clone, @function
agent_run_raw_clone:
    andq $-16, %rsi
    subq $16, %rsi
    movq %rdx, 0(%rsi)
    movq %rcx, 8(%rsi)
    movl $56, %eax
    xorl %edx, %edx
    xorl %r10d, %r10d
    xorl %r8d, %r8d
    syscall
    testq %rax, %rax
    jnz 1f
    xorl %ebp, %ebp
    popq %rax
    popq %rdi
    callq *%rax
    movq %rax, %rdi
    movl $60, %eax
    syscall
    hlt
1:  ret
    .size agent_run_raw_clone, .-agent_run_raw_clone
)");

extern "C" long agent_run_raw_clone(unsigned long flags, void* stack_top, int (*fn)(void*), void* arg);

namespace agent_run::launcher::freestanding {
long raw_clone(unsigned long flags, void* stack_top, int (*fn)(void*), void* arg) {
  return agent_run_raw_clone(flags, stack_top, fn, arg);
}
}  // namespace agent_run::launcher::freestanding

#else

#include <errno.h>
#include <sched.h>

namespace agent_run::launcher::freestanding {
long raw_clone(unsigned long flags, void* stack_top, int (*fn)(void*), void* arg) {
  const int pid = ::clone(fn, stack_top, int(flags), arg);
  return pid < 0 ? -errno : pid;
}
}  // namespace agent_run::launcher::freestanding

#endif
