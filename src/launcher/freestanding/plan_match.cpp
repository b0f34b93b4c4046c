#include "launcher/freestanding/plan_match.hpp"

#include "launcher/freestanding/file_identity.hpp"
#include "launcher/freestanding/text.hpp"

namespace agent_run::launcher::freestanding {

namespace {

bool parse_decimal(const char* s, unsigned long& out) {
  if (!*s) return false;
  unsigned long v = 0;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9' || v > (~0UL - 9) / 10) return false;
    v = v * 10 + unsigned(*s - '0');
  }
  out = v;
  return true;
}

// Checks one plan, from the field after its kBegin to `end`.
bool fits(FieldReader fields, const LaunchInputs& in, PlanRange& out) {
  int args = 0;
  bool uid = false, cwd = false, env = false, complete = false;
  unsigned long index = 0;
  Field f;
  while (fields.next(f)) {
    switch (f.tag) {
      case tag::kUid: {
        unsigned long v;
        if (!parse_decimal(f.text, v) || v != in.uid) return false;
        uid = true;
        break;
      }
      case tag::kArg:
        if (++args >= in.argc || !equal(f.text, in.argv[args])) return false;
        break;
      case tag::kCwd:
        if (!equal(f.text, in.cwd)) return false;
        cwd = true;
        break;
      case tag::kEnvHash:
        if (!equal(f.text, in.env_digest)) return false;
        env = true;
        break;
      case tag::kFile:
      case tag::kDirShape: {
        Field id;
        char now[kIdentityBytes];
        if (!fields.next(id) || id.tag != tag::kIdentity ||
            !file_identity(f.text, f.tag == tag::kFile ? Identity::kFull : Identity::kShape, now) ||
            !equal(id.text, now))
          return false;
        break;
      }
      case tag::kProgramIndex:
        if (!parse_decimal(f.text, index)) return false;
        break;
      case tag::kEnd:
        complete = true;
        break;
      default:
        break;  // an output
    }
  }
  // The program must be among the arguments the plan compared.
  if (!complete || !uid || !cwd || !env || index < 1 || index > static_cast<unsigned long>(args)) return false;
  out.program_index = int(index);
  return true;
}

}  // namespace

bool FieldReader::next(Field& f) {
  if (at_ >= end_) return false;
  f.tag = *at_;
  f.text = at_ + 1;
  while (at_ < end_ && *at_) ++at_;
  if (at_ >= end_) return false;  // no NUL: a torn file
  ++at_;
  return f.tag != '\0';
}

PlanWalker::PlanWalker(const char* file, size_t size) : reader_(file, file + size) {
  Field f;
  ok_ = reader_.next(f) && f.tag == kMagic[0] && equal(f.text, kMagic + 1);
}

bool PlanWalker::next(const char*& begin, const char*& end) {
  Field f;
  while (ok_) {
    const char* at = reader_.position();
    const bool more = reader_.next(f);
    if (!more) ok_ = false;
    if (!more || f.tag == tag::kBegin) {
      const char* previous = begin_;
      begin_ = more ? at : nullptr;
      if (previous) {
        begin = previous;
        end = at;
        return true;
      }
    }
  }
  return false;
}

bool find_plan(const char* file, size_t size, const LaunchInputs& in, PlanRange& out) {
  if (size == 0 || file[size - 1] != '\0') return false;
  PlanWalker plans(file, size);
  const char* begin;
  const char* end;
  while (plans.next(begin, end)) {
    FieldReader fields(begin, end);
    Field version;
    fields.next(version);  // the kBegin field: the agent-run that wrote it
    PlanRange r;
    r.begin = begin;
    r.end = end;
    if (equal(version.text, in.version) && fits(fields, in, r)) {
      out = r;
      return true;
    }
  }
  return false;
}

}  // namespace agent_run::launcher::freestanding
