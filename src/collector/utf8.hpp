#pragma once
// Strings from the app end up in protobuf string fields and JSON, both of
// which require valid UTF-8: invalid sequences are replaced by U+FFFD.
#include <string>

#include "collector/word_scan.hpp"

namespace agent_run::collector {

inline bool is_ascii(const char* data, size_t size) {
  return any_byte_bits(data, size, [](uint64_t w) { return w & 0x8080808080808080ull; }) == 0;
}

bool is_valid_utf8(const char* data, size_t size);
bool sanitize_non_ascii_utf8(std::string& s);
// Returns true when the string was changed. Inline: the collector asks it of
// every string it receives, nearly all ASCII.
inline bool sanitize_utf8(std::string& s) { return !is_ascii(s.data(), s.size()) && sanitize_non_ascii_utf8(s); }

}  // namespace agent_run::collector
