// Typo suggestions for keys, tables and environment variables.
#include "config/suggestions.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace agent_run::config {

size_t edit_distance(const std::string& a_in, const std::string& b_in) {
  std::string a = a_in, b = b_in;
  for (auto& c : a) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t n = a.size(), m = b.size();
  // Optimal string alignment: adjacent swaps ("levle") are the commonest typo.
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

std::optional<std::string> closest(const std::string& word, const std::vector<std::string>& candidates) {
  // Short words need a tight limit or everything "matches" everything.
  const size_t limit = std::min<size_t>(3, std::max<size_t>(1, word.size() / 3));
  std::optional<std::string> best;
  size_t best_distance = limit + 1;
  for (const auto& c : candidates) {
    size_t dist = edit_distance(word, c);
    if (dist < best_distance) {
      best_distance = dist;
      best = c;
    }
  }
  return best;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  auto best = closest(word, candidates);
  return best ? " (did you mean '" + *best + "'?)" : std::string();
}

}  // namespace agent_run::config

#include "config/config.hpp"

namespace agent_run::config {

std::string key_suggestion(const std::string& dotted_name) {
  std::vector<std::string> names;
  for (const auto& k : keys()) names.emplace_back(k.name);
  for (const auto& t : table_names()) names.push_back(t);
  if (auto best = closest(dotted_name, names)) return " (did you mean '" + *best + "'?)";

  // Compare the last part with the last part of every key, preferring keys
  // in the same table: "spans.max_atributes" -> "spans.max_attributes".
  auto leaf_of = [](const std::string& n) {
    size_t dot = n.rfind('.');
    return dot == std::string::npos ? n : n.substr(dot + 1);
  };
  auto table_of = [](const std::string& n) {
    size_t dot = n.rfind('.');
    return dot == std::string::npos ? std::string() : n.substr(0, dot);
  };
  const std::string leaf = leaf_of(dotted_name), table = table_of(dotted_name);
  std::optional<std::string> best;
  size_t best_score = SIZE_MAX;
  const size_t limit = std::min<size_t>(3, std::max<size_t>(1, leaf.size() / 3));
  for (const auto& n : names) {
    size_t d = edit_distance(leaf, leaf_of(n));
    if (d > limit) continue;
    size_t score = d * 2 + (table_of(n) == table ? 0 : 1);
    if (score < best_score) {
      best_score = score;
      best = n;
    }
  }
  return best ? " (did you mean '" + *best + "'?)" : std::string();
}

}  // namespace agent_run::config
