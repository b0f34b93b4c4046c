// Ids of the warnings the launcher has shown: see config.hpp (kWarningsShownVar).
#include <cstdint>
#include <cstdio>

#include "config/config.hpp"

namespace agent_run::config {
namespace {

// FNV-1a, 64 bits: the same in the launcher and in every build of the agent,
// with no table or library. Not a security boundary: a forged id only turns
// a warning into an info line.
void mix(uint64_t& h, std::string_view text) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
}

}  // namespace

std::string warning_id(const Diagnostic& warning) {
  uint64_t h = 0xcbf29ce484222325ULL;
  mix(h, warning.where);
  mix(h, std::string_view("\0", 1));  // "ab" + "c" and "a" + "bc" differ
  mix(h, warning.message);
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return std::string(out, 16);
}

std::string warning_ids(const std::vector<Diagnostic>& warnings) {
  std::string out;
  for (const auto& w : warnings) {
    if (!out.empty()) out += ',';
    out += warning_id(w);
  }
  return out;
}

bool warning_shown(std::string_view ids, const Diagnostic& warning) {
  const std::string id = warning_id(warning);
  for (size_t start = 0; start <= ids.size();) {
    size_t end = ids.find(',', start);
    if (end == std::string_view::npos) end = ids.size();
    if (ids.substr(start, end - start) == id) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace agent_run::config
