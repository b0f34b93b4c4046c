#pragma once
// clone() with a child that starts on a stack of its own and runs fn(arg),
// then exits with its result: glibc's clone() without errno, so that code
// without libc (the quick launch) can start processes. x86_64 has it in
// assembly (raw_clone.cpp); elsewhere it is glibc's clone(), which only the
// full launcher uses (the quick launch is x86_64's alone).
// Returns the child's PID in the parent, or -errno.

namespace agent_run::launcher::freestanding {

long raw_clone(unsigned long flags, void* stack_top, int (*fn)(void*), void* arg);

}  // namespace agent_run::launcher::freestanding
