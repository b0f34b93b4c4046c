#pragma once
// Strings from the app end up in protobuf string fields and JSON, both of
// which require valid UTF-8: invalid sequences are replaced by U+FFFD.
#include <string>

namespace agent_run::collector {

bool is_valid_utf8(const char* data, size_t size);
// Returns true when the string was changed.
bool sanitize_utf8(std::string& s);

}  // namespace agent_run::collector
