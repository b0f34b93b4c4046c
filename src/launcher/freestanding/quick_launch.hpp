#pragma once
// The quick launch: agent-run's ELF entry point runs it before anything of
// libc's (x86_64; quick_launch_entry.cpp). When the launch plans file
// (launch_plan_format.hpp) holds a plan that fits this launch exactly, it
// replays it: the collector's standby started as the full launcher starts
// it, the program found on PATH, the environment changed as the plan says,
// execve. Anything else (no plan, a changed input, any failure) returns,
// leaving no trace, and the full launcher runs from libc's _start as if
// nothing had happened; it writes the plan for next time.
//
// Why: a static glibc program's own start (CPU and cache detection with
// CPUID, which exits to the hypervisor on a VM; tunables; IRELATIVE
// relocations; TLS) and the launcher's decision cost ~1.3 ms and ~28 page
// faults on the build VM, in front of every launch of the user's program.
// See docs/architecture.md "The quick launch".

// `sp`: the initial stack (argc, argv..., NULL, envp..., NULL, auxv).
// Returns only when this launch cannot be replayed.
extern "C" void agent_run_quick_launch(long* sp);
