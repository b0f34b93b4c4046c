#pragma once
// A strict JSON reader that reports events to a SAX-style handler, with the
// method names of nlohmann::json_sax (null, boolean, number_integer,
// number_unsigned, number_float, string, key, start_object, end_object,
// start_array, end_array).
//
// Why not nlohmann::json::sax_parse: profiled on a generated store, its
// lexer was 65% of the report's time (it appends strings one character at a
// time); this reader copies each run of plain characters at once, and the
// report needs half the CPU time (docs/report.md has the numbers).
// nlohmann_json still writes the --json output.
//
// Differences from nlohmann, on purpose: bytes >= 0x80 inside strings are
// passed through without UTF-8 validation (the collector sanitizes what it
// writes, and the report only prints them); nesting deeper than kMaxDepth is
// rejected rather than recursed into.

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace agent_run::report {

template <class Handler>
class JsonEvents {
 public:
  static constexpr int kMaxDepth = 512;

  JsonEvents(std::string_view text, Handler& handler, std::string& error)
      : p_(text.data()), begin_(text.data()), end_(text.data() + text.size()), h_(handler), error_(error) {}

  // False: not valid JSON (error says where and why), or the handler stopped.
  bool parse() {
    skip_ws();
    if (!value(0)) return false;
    skip_ws();
    if (p_ != end_) return fail("unexpected characters after the JSON value");
    return true;
  }

 private:
  bool fail(const char* what) {
    if (error_.empty()) error_ = fmt::format("not valid JSON (at byte {}: {})", p_ - begin_ + 1, what);
    return false;
  }
  void skip_ws() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  bool value(int depth) {
    if (p_ == end_) return fail("unexpected end of input");
    switch (*p_) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"':
        if (!string_token()) return false;
        return h_.string(buf_);
      case 't': return literal("true") && h_.boolean(true);
      case 'f': return literal("false") && h_.boolean(false);
      case 'n': return literal("null") && h_.null();
      default:
        if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return number();
        return fail("unexpected character");
    }
  }

  bool literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word)
      return fail("invalid literal");
    p_ += word.size();
    return true;
  }

  bool object(int depth) {
    if (depth > kMaxDepth) return fail("nested too deeply");
    ++p_;  // {
    if (!h_.start_object(static_cast<std::size_t>(-1))) return false;
    skip_ws();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return h_.end_object();
    }
    for (;;) {
      if (p_ == end_ || *p_ != '"') return fail("expected a string key");
      if (!string_token() || !h_.key(buf_)) return false;
      skip_ws();
      if (p_ == end_ || *p_ != ':') return fail("expected ':'");
      ++p_;
      skip_ws();
      if (!value(depth)) return false;
      skip_ws();
      if (p_ == end_) return fail("unexpected end of input in an object");
      if (*p_ == ',') {
        ++p_;
        skip_ws();
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return h_.end_object();
      }
      return fail("expected ',' or '}'");
    }
  }

  bool array(int depth) {
    if (depth > kMaxDepth) return fail("nested too deeply");
    ++p_;  // [
    if (!h_.start_array(static_cast<std::size_t>(-1))) return false;
    skip_ws();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return h_.end_array();
    }
    for (;;) {
      if (!value(depth)) return false;
      skip_ws();
      if (p_ == end_) return fail("unexpected end of input in an array");
      if (*p_ == ',') {
        ++p_;
        skip_ws();
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return h_.end_array();
      }
      return fail("expected ',' or ']'");
    }
  }

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool hex4(unsigned& out) {
    if (end_ - p_ < 4) return fail("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int d = hex(p_[i]);
      if (d < 0) return fail("invalid \\u escape");
      out = out << 4 | static_cast<unsigned>(d);
    }
    p_ += 4;
    return true;
  }

  void put_utf8(unsigned cp) {
    if (cp < 0x80) {
      buf_ += static_cast<char>(cp);
    } else if (cp < 0x800) {
      buf_ += static_cast<char>(0xC0 | cp >> 6);
      buf_ += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      buf_ += static_cast<char>(0xE0 | cp >> 12);
      buf_ += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      buf_ += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      buf_ += static_cast<char>(0xF0 | cp >> 18);
      buf_ += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
      buf_ += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      buf_ += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // Reads a string token into buf_; p_ is at its opening quote.
  bool string_token() {
    ++p_;
    buf_.clear();
    for (;;) {
      // Copy the run up to the next quote, backslash or control character at once.
      const char* run = p_;
      while (p_ != end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20) ++p_;
      buf_.append(run, static_cast<size_t>(p_ - run));
      if (p_ == end_) return fail("unterminated string");
      if (*p_ == '"') {
        ++p_;
        return true;
      }
      if (*p_ != '\\') return fail("control character in a string");
      if (++p_ == end_) return fail("unterminated string");
      switch (*p_++) {
        case '"': buf_ += '"'; break;
        case '\\': buf_ += '\\'; break;
        case '/': buf_ += '/'; break;
        case 'b': buf_ += '\b'; break;
        case 'f': buf_ += '\f'; break;
        case 'n': buf_ += '\n'; break;
        case 'r': buf_ += '\r'; break;
        case 't': buf_ += '\t'; break;
        case 'u': {
          unsigned cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate needs its low half
            unsigned lo;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return fail("unpaired surrogate in \\u escape");
            p_ += 2;
            if (!hex4(lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail("unpaired surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("unpaired surrogate in \\u escape");
          }
          put_utf8(cp);
          break;
        }
        default: --p_; return fail("invalid escape");
      }
    }
  }

  bool number() {
    const char* start = p_;
    bool is_float = false;
    if (*p_ == '-') ++p_;
    if (p_ == end_) return fail("invalid number");
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    } else {
      return fail("invalid number");
    }
    if (p_ != end_ && *p_ == '.') {
      is_float = true;
      ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9') return fail("invalid number");
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      is_float = true;
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9') return fail("invalid number");
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (!is_float) {
      if (*start == '-') {
        int64_t v;
        auto r = std::from_chars(start, p_, v);
        if (r.ec == std::errc() && r.ptr == p_) return h_.number_integer(v);
      } else {
        uint64_t v;
        auto r = std::from_chars(start, p_, v);
        if (r.ec == std::errc() && r.ptr == p_) return h_.number_unsigned(v);
      }
      // Out of 64-bit range: like nlohmann, a floating-point number.
    }
    buf_.assign(start, p_);
    return h_.number_float(std::strtod(buf_.c_str(), nullptr), buf_);
  }

  const char* p_;
  const char* begin_;
  const char* end_;
  Handler& h_;
  std::string& error_;
  std::string buf_;
};

}  // namespace agent_run::report
