#pragma once
// String helpers for freestanding code (see common/raw_syscall.hpp): no libc, and
// loops the compiler is told not to turn into libc calls (the quick launch's
// objects are built with -fno-tree-loop-distribute-patterns -ffreestanding
// and checked for undefined symbols). Internal linkage: every translation
// unit gets its own copy, built with its own flags.
#include <stddef.h>

#include "common/write_all.hpp"

namespace agent_run::launcher::freestanding {
namespace {

[[maybe_unused]] size_t length(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}

[[maybe_unused]] bool equal(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

[[maybe_unused]] bool equal_n(const char* a, const char* b, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

[[maybe_unused]] bool starts_with(const char* s, const char* prefix) {
  while (*prefix)
    if (*s++ != *prefix++) return false;
  return true;
}

// "NAME=value": the name's length (the whole entry's when it has no '=').
[[maybe_unused]] size_t name_length(const char* entry) {
  size_t n = 0;
  while (entry[n] && entry[n] != '=') ++n;
  return n;
}

// The value of `name` in a NULL-terminated environment (the first, as
// getenv finds it), or null.
[[maybe_unused]] const char* env_value(char* const* envp, const char* name) {
  const size_t n = length(name);
  for (char* const* e = envp; *e; ++e)
    if (equal_n(*e, name, n) && (*e)[n] == '=') return *e + n + 1;
  return nullptr;
}

// Appends to a NUL-terminated text in [buf, end): `at` is its current end.
// Returns the new end, or null once out of room (then nothing is usable).
class Builder {
 public:
  Builder(char* buf, size_t size) : at_(buf), end_(buf + size), ok_(size > 0) {
    if (ok_) *at_ = '\0';
  }
  Builder& add(const char* s) {
    while (ok_ && *s) put(*s++);
    return *this;
  }
  Builder& add_n(const char* s, size_t n) {
    for (size_t i = 0; ok_ && i < n; ++i) put(s[i]);
    return *this;
  }
  Builder& add_char(char c) {
    put(c);
    return *this;
  }
  Builder& add_decimal(unsigned long v) {
    char digits[24];
    int n = 0;
    do digits[n++] = char('0' + v % 10);
    while ((v /= 10) != 0);
    while (n) put(digits[--n]);
    return *this;
  }
  bool ok() const { return ok_; }
  char* end() const { return at_; }  // at the terminating NUL

 private:
  void put(char c) {
    if (!ok_) return;
    if (at_ + 1 >= end_) {
      ok_ = false;
      return;
    }
    *at_++ = c;
    *at_ = '\0';
  }
  char* at_;
  char* end_;
  bool ok_;
};

// Writes `s` to fd 2 (the app's stderr); an error is ignored: a message
// must never stop a launch.
[[maybe_unused]] void put_stderr(const char* s) { write_all(2, s, length(s)); }

}  // namespace
}  // namespace agent_run::launcher::freestanding
