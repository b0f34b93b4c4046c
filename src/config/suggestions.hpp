#pragma once
// "Did you mean ...": the closest known name to a mistyped one.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace agent_run::config {

// Edit distance (insertions, deletions, substitutions and swaps of adjacent
// characters each cost 1), case-insensitive.
size_t edit_distance(const std::string& a, const std::string& b);

// The candidate closest to `word`, if it is close enough to be a plausible
// typo (about one edit per three characters, at most 3).
std::optional<std::string> closest(const std::string& word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace agent_run::config

namespace agent_run::config {
// " (did you mean 'x'?)" for a mistyped dotted key or table name, or "".
// Tries whole names first, then the last part alone, so both
// "exporter.otlp.endpont" and "spans.log_level" (a top-level key put in a
// table) get a useful answer.
std::string key_suggestion(const std::string& dotted_name);
}  // namespace agent_run::config
