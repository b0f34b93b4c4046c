#pragma once
// The full launcher's side of the quick launch: after deciding a launch, it
// writes what it decided, and everything the decision depended on, as a
// launch plan (freestanding/launch_plan_format.hpp), so that the next
// identical launch is replayed from agent-run's entry point without it
// (freestanding/quick_launch.hpp). See docs/architecture.md "The quick launch".
#include <string>
#include <vector>

namespace agent_run::launcher {

struct LaunchPlan {
  std::vector<std::string> args;  // argv[1], argv[2], ...: every argument the decision read
  int program_index = 0;          // argv[program_index] is the program
  // Files the decision read, with what of them it depended on.
  std::vector<std::string> files;      // full identity (or absence)
  // Files whose contents the decision read (the config files), full
  // identity too; but while one was changed less than a second ago no plan
  // is made: the kernel stamps times from a clock that moves in ticks of
  // a few ms, so two writes of the same size within one tick look alike.
  std::vector<std::string> contents;
  std::vector<std::string> dir_shapes; // device, inode, mode and owner only
  // The program's environment: these set (NAME=value) and these removed,
  // each name once, on top of the launcher's own.
  std::vector<std::string> set;
  std::vector<std::string> unset;
  std::vector<std::string> collector;  // collector_options(); empty: no collector
  std::string socket_base;             // where its private directory goes
  bool trace = false;                  // log_level = debug
};

// Whether this process's environment can be replayed: every entry
// NAME=value, no name twice (the launcher's EnvironmentPlan would drop the
// rest, and the quick launch must give the program the same).
bool environment_replayable();

// Adds `plan` to <cache_root>/launch-plans, newest first: a plan with the
// same arguments, directory and environment is replaced, the oldest beyond
// kMaxPlans dropped. Atomic (a temporary file renamed over it). False with
// `why` when it cannot: the launch goes on; the next one is a full one again.
bool write_launch_plan(const std::string& cache_root, const LaunchPlan& plan, std::string& why);

}  // namespace agent_run::launcher
