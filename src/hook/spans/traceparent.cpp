#include "hook/spans/traceparent.hpp"

namespace agent_run::spans {
namespace {

inline int lower_hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool decode_hex(std::string_view s, uint8_t* out) {
  for (size_t i = 0; i < s.size() / 2; ++i) {
    int hi = lower_hex_value(s[2 * i]), lo = lower_hex_value(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = uint8_t(hi << 4 | lo);
  }
  return true;
}

bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return false;
  return true;
}

}  // namespace

void hex_encode(const uint8_t* bytes, size_t n, char* out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
}

std::string to_hex(const uint8_t* bytes, size_t n) {
  std::string s(2 * n, '0');
  hex_encode(bytes, n, s.data());
  return s;
}

bool parse_traceparent(std::string_view t, TraceParent& out) {
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  if (t.size() < 55) return false;
  uint8_t version;
  if (!decode_hex(t.substr(0, 2), &version) || version == 0xff) return false;
  if (version == 0 && t.size() != 55) return false;
  if (version != 0 && t.size() > 55 && t[55] != '-') return false;
  if (t[2] != '-' || t[35] != '-' || t[52] != '-') return false;
  TraceParent p;
  if (!decode_hex(t.substr(3, 32), p.trace_id)) return false;
  if (!decode_hex(t.substr(36, 16), p.span_id)) return false;
  if (!decode_hex(t.substr(53, 2), &p.flags)) return false;
  if (all_zero(p.trace_id, 16) || all_zero(p.span_id, 8)) return false;
  out = p;
  return true;
}

std::string format_traceparent(const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags) {
  std::string s(55, '-');
  s[0] = '0';
  s[1] = '0';
  hex_encode(trace_id, 16, &s[3]);
  hex_encode(span_id, 8, &s[36]);
  hex_encode(&flags, 1, &s[53]);
  return s;
}

}  // namespace agent_run::spans
