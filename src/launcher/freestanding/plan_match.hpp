#pragma once
// Finding the launch plan that fits this launch in a launch plans file
// (launch_plan_format.hpp): every input the plan records must be what this
// launch has. Freestanding: the quick launch runs it before libc is set up.
#include <stddef.h>

#include "launcher/freestanding/launch_plan_format.hpp"

namespace agent_run::launcher::freestanding {

struct Field {
  char tag = 0;
  const char* text = nullptr;
};

// The fields of [begin, end), which ends with a NUL.
class FieldReader {
 public:
  FieldReader(const char* begin, const char* end) : at_(begin), end_(end) {}
  bool next(Field& f);
  const char* position() const { return at_; }

 private:
  const char* at_;
  const char* end_;
};

// The plans of a plans file, in order, each from its kBegin field up to the
// next one (after the kMagic field, which must be first). A field without
// its NUL (a torn file) ends the walk: the plan it is in has no end field.
class PlanWalker {
 public:
  PlanWalker(const char* file, size_t size);
  bool next(const char*& begin, const char*& end);

 private:
  FieldReader reader_;
  bool ok_ = false;
  const char* begin_ = nullptr;  // the plan being walked, once its kBegin is seen
};

struct LaunchInputs {
  int argc = 0;
  char* const* argv = nullptr;
  const char* version = nullptr;  // agent-run's
  unsigned long uid = 0;
  const char* cwd = nullptr;
  char env_digest[kDigestBytes] = {};
};

struct PlanRange {
  const char* begin = nullptr;  // its kBegin field
  const char* end = nullptr;
  int program_index = 0;        // its kProgramIndex
};

// The first plan of `file` (size bytes, the last a NUL) that fits `in`.
// False when none does or the file is not a plans file.
bool find_plan(const char* file, size_t size, const LaunchInputs& in, PlanRange& out);

}  // namespace agent_run::launcher::freestanding
