#pragma once
// db.statement without the values: string literals ('it''s'), blob literals
// (X'0aff'), numbers (42, -> "-?" keeps the operator; 3.14, 1e-9, 0x1F) become
// `?`. Identifiers, keywords, quoted identifiers ("t", `t`, [t]) and bind
// parameters (?, ?1, :name, @name, $name) are kept; comments are removed
// (they may carry values, e.g. sqlcommenter tags). The result is cut at
// max_length bytes on a UTF-8 character boundary.
#include <cstddef>
#include <string>
#include <string_view>

namespace agent_run::spans {

std::string sanitize_sql(std::string_view sql, size_t max_length = std::string::npos);

// The statement's leading keyword, upper case ("SELECT", "INSERT", "WITH"...),
// skipping whitespace, comments and opening parentheses; empty if none.
// Used as the span name (OpenTelemetry's {db.operation.name}).
std::string sql_operation(std::string_view sql);

// Cut s to at most n bytes without splitting a UTF-8 sequence.
size_t utf8_cut(std::string_view s, size_t n);

}  // namespace agent_run::spans
