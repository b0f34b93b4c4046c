#pragma once
// The launch plans file: what the full launcher decided for a launch, with
// everything the decision depended on, so that an identical launch can be
// replayed without it (quick_launch.cpp). Written by
// launcher/launch_plan_writer.cpp, read by plan_match.cpp; see
// docs/architecture.md "The quick launch".
//
// One file per user, <cache root>/launch-plans (the cache root of the
// bootstrap directories: private to the user, 0700), mode 0600. It is a
// sequence of fields, each a tag byte, text and a NUL. The first field is
// kMagic; each plan starts with a kBegin field (the agent-run version that
// wrote it), newest plan first, at most kMaxPlans of them.
#include <stdint.h>

#include "launcher/freestanding/text.hpp"

namespace agent_run::launcher::freestanding {

constexpr const char kPlansFile[] = "launch-plans";
constexpr const char kMagic[] = "#agent-run launch plans 1";  // its tag is '#'
constexpr int kMaxPlans = 8;
constexpr long kMaxPlansFileBytes = 256 * 1024;  // a larger file is not read

// The tags. Inputs (all must match for the plan to be used):
namespace tag {
constexpr char kBegin = 'P';        // agent-run's version
constexpr char kUid = 'u';          // the real uid, decimal
constexpr char kArg = 'a';          // argv[1], argv[2], ...: as many as the decision read
constexpr char kCwd = 'w';          // the working directory
constexpr char kEnvHash = 'h';      // env_digest() of the environment
constexpr char kFile = 'f';         // a path; the next field (kIdentity) is its full identity
constexpr char kDirShape = 'd';     // a path; the next field is its shape (file_identity.hpp)
constexpr char kIdentity = 'i';
// Outputs:
constexpr char kProgramIndex = 'k'; // argv[k] is the program, argv[k..] its argv (decimal)
constexpr char kSet = 's';          // NAME=value: set in the program's environment
constexpr char kUnset = 'x';        // NAME: removed from it
constexpr char kCollectorArg = 'c'; // the collector's argv (the first: its path), less
                                    // --socket= and --app-pid=, which each launch adds
constexpr char kSocketBase = 'r';   // where the collector's private directory is made
constexpr char kTrace = 't';        // log_level is debug: say on stderr that the plan was used
constexpr char kEnd = 'z';          // the plan's last field: a plan without it is torn, never used
}  // namespace tag

// The environment variables a launch's decision may depend on: every one
// whose name starts with one of these prefixes or is one of these names.
// The launcher reads no other (tests/launcher/test_launch_plan.py checks
// the sources against this list).
// Arrays of characters, not of pointers: the quick launch reads them before
// anything is relocated, and named arrays are placed with the rest of its
// data (launch_path.order), where merged string literals cannot be.
constexpr char kEnvPrefixes[][16] = {"AGENT_RUN_", "OTEL_"};
constexpr char kEnvNames[][16] = {"PATH",           "PYTHONPATH",      "HOME",          "TMPDIR",
                                  "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"};
constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kXdgCacheHome[] = "XDG_CACHE_HOME";
constexpr char kHome[] = "HOME";
constexpr char kCacheUnderXdg[] = "/agent-run";
constexpr char kCacheUnderHome[] = "/.cache/agent-run";

namespace {

[[maybe_unused]] bool is_dependency(const char* entry) {
  for (const char* p : kEnvPrefixes)
    if (starts_with(entry, p)) return true;
  const size_t n = name_length(entry);
  for (const char* name : kEnvNames)
    if (length(name) == n && equal_n(entry, name, n)) return true;
  return false;
}

// A 64-bit hash of one string (multiply-xorshift over its bytes, then a
// murmur3 finalizer), seeded.
[[maybe_unused]] uint64_t hash_text(const char* s, uint64_t seed) {
  uint64_t h = seed ^ 0x9e3779b97f4a7c15ULL;
  for (; *s; ++s) {
    h ^= static_cast<unsigned char>(*s);
    h *= 0x100000001b3ULL;
    h ^= h >> 29;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

constexpr size_t kDigestBytes = 64;  // 48 hex digits and the NUL

// The dependency variables of an environment, as 2x64 bits (the sum of
// each entry's hashes with two seeds, so the order of the entries does not
// matter) and their count, in hex: the plan stores this, not the values
// (OTEL_EXPORTER_OTLP_HEADERS may hold a key). out[kDigestBytes].
[[maybe_unused]] void env_digest(char* const* envp, char* out) {
  uint64_t a = 0, b = 0, count = 0;
  for (char* const* e = envp; *e; ++e) {
    if (!is_dependency(*e)) continue;
    a += hash_text(*e, 1);
    b += hash_text(*e, 2);
    ++count;
  }
  const uint64_t words[3] = {a, b, count};
  int at = 0;
  for (uint64_t w : words)
    for (int shift = 60; shift >= 0; shift -= 4) out[at++] = kHexDigits[(w >> shift) & 15];
  out[at] = '\0';
}

// The cache root (bootstrap_dir.cpp's default_cache_root): $XDG_CACHE_HOME/agent-run
// or $HOME/.cache/agent-run, each only when absolute. False when neither is.
[[maybe_unused]] bool cache_root(char* const* envp, Builder& out) {
  if (const char* x = env_value(envp, kXdgCacheHome); x && x[0] == '/') {
    out.add(x).add(kCacheUnderXdg);
    return out.ok();
  }
  if (const char* h = env_value(envp, kHome); h && h[0] == '/') {
    out.add(h).add(kCacheUnderHome);
    return out.ok();
  }
  return false;
}

}  // namespace
}  // namespace agent_run::launcher::freestanding
