#include "hook/spans/sql_sanitizer.hpp"

namespace agent_run::spans {
namespace {

inline bool is_ident(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$' || c >= 0x80;
}
inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Index just past a quoted run starting at s[i] == quote; a doubled quote
// is an escaped one. An unterminated quote runs to the end.
size_t skip_quoted(std::string_view s, size_t i, char close) {
  size_t n = s.size();
  ++i;
  while (i < n) {
    if (s[i] == close) {
      if (close != ']' && i + 1 < n && s[i + 1] == close) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    ++i;
  }
  return n;
}

// Index just past a comment starting at i, or i if none starts there.
size_t skip_comment(std::string_view s, size_t i) {
  size_t n = s.size();
  if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
    size_t j = s.find('\n', i + 2);
    return j == std::string_view::npos ? n : j;
  }
  if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
    size_t j = s.find("*/", i + 2);
    return j == std::string_view::npos ? n : j + 2;
  }
  return i;
}

size_t skip_number(std::string_view s, size_t i) {
  size_t n = s.size();
  if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    i += 2;
    while (i < n && is_ident(static_cast<unsigned char>(s[i]))) ++i;
    return i;
  }
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (is_digit(c) || c == '.' || c == '_') {
      ++i;
    } else if ((c == 'e' || c == 'E')) {
      ++i;
      if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    } else if (is_ident(c)) {
      ++i;  // 12abc: a malformed token; all of it goes
    } else {
      break;
    }
  }
  return i;
}

}  // namespace

size_t utf8_cut(std::string_view s, size_t n) {
  if (n >= s.size()) return s.size();
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

std::string sanitize_sql(std::string_view s, size_t max_length) {
  std::string out;
  out.reserve(s.size() < 256 ? s.size() : 256);
  size_t n = s.size(), i = 0;
  while (i < n && out.size() < max_length) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    bool after_ident = !out.empty() && is_ident(static_cast<unsigned char>(out.back()));
    if (c == '\'') {
      out += '?';
      i = skip_quoted(s, i, '\'');
    } else if ((c == 'x' || c == 'X') && i + 1 < n && s[i + 1] == '\'' && !after_ident) {
      out += '?';
      i = skip_quoted(s, i + 1, '\'');
    } else if (c == '"' || c == '`') {
      size_t j = skip_quoted(s, i, char(c));
      out.append(s.substr(i, j - i));
      i = j;
    } else if (c == '[') {
      size_t j = skip_quoted(s, i, ']');
      out.append(s.substr(i, j - i));
      i = j;
    } else if ((c == '-' && i + 1 < n && s[i + 1] == '-') || (c == '/' && i + 1 < n && s[i + 1] == '*')) {
      i = skip_comment(s, i);
      if (!out.empty() && !is_space(static_cast<unsigned char>(out.back())) && i < n &&
          !is_space(static_cast<unsigned char>(s[i])))
        out += ' ';
    } else if ((is_digit(c) || (c == '.' && i + 1 < n && is_digit(static_cast<unsigned char>(s[i + 1])))) &&
               !after_ident) {
      out += '?';
      i = skip_number(s, i);
    } else if (c == '?' || c == ':' || c == '@') {
      // bind parameters: ?, ?NNN, :name, @name (and $name, an identifier char)
      out += char(c);
      ++i;
      while (i < n && is_ident(static_cast<unsigned char>(s[i]))) out += s[i++];
    } else if (is_ident(c)) {
      while (i < n && is_ident(static_cast<unsigned char>(s[i]))) out += s[i++];
    } else {
      out += char(c);
      ++i;
    }
  }
  if (out.size() > max_length) out.resize(utf8_cut(out, max_length));
  return out;
}

std::string sql_operation(std::string_view s) {
  size_t n = s.size(), i = 0;
  for (;;) {
    while (i < n && (is_space(static_cast<unsigned char>(s[i])) || s[i] == '(')) ++i;
    size_t j = skip_comment(s, i);
    if (j == i) break;
    i = j;
  }
  std::string op;
  while (i < n && op.size() < 32) {
    char c = s[i];
    if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
    if (!(c >= 'A' && c <= 'Z')) break;
    op += c;
    ++i;
  }
  if (i < n && is_ident(static_cast<unsigned char>(s[i]))) return std::string();  // not a plain keyword
  return op;
}

}  // namespace agent_run::spans
