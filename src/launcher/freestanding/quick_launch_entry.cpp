// agent-run's ELF entry point (cmd/CMakeLists.txt links with
// -e agent_run_entry on x86_64): the quick launch first, on the initial
// stack, before anything of libc's has run; when it returns, libc's own
// _start, with the stack and the register the kernel gave us (rdx: the
// dynamic linker's exit function, none for a static program) as they were.
#if defined(__x86_64__)
__asm__(R"(
    .text
    .p2align 4
    .globl agent_run_entry
    .type agent_run_entry, @function
agent_run_entry:
    movq %rdx, %r12
    movq %rsp, %rdi
    callq agent_run_quick_launch
    movq %r12, %rdx
    xorl %r12d, %r12d
    jmp _start
    .size agent_run_entry, .-agent_run_entry
)");
#endif
