#pragma once
// <iostream> without its cost at startup. In GCC 12's libstdc++ every
// translation unit that includes <iostream> gets a static std::ios_base::Init,
// which builds the eight standard streams and the locale's facets before
// main(): ~50k instructions and ~15 page faults on every launch, including the
// ones that never print through a stream. CLI11 includes <iostream>; cli.cpp
// includes this header first instead, and constructs a std::ios_base::Init
// itself before it uses std::cout or std::cerr.
//
// The stream objects are declared exactly as <iostream> declares them (their
// definitions are libstdc++'s); <iostream> itself is then skipped by its
// include guard. Newer libstdc++ (GCC 13+) initialises the streams once in the
// library, so there the real header is used.
#include <bits/c++config.h>

#if defined(_GLIBCXX_RELEASE) && _GLIBCXX_RELEASE < 13 && !defined(_GLIBCXX_IOSTREAM)
#define _GLIBCXX_IOSTREAM 1
#include <istream>
#include <ostream>

namespace std _GLIBCXX_VISIBILITY(default) {
_GLIBCXX_BEGIN_NAMESPACE_VERSION
extern istream cin;
extern ostream cout;
extern ostream cerr;
extern ostream clog;
_GLIBCXX_END_NAMESPACE_VERSION
}  // namespace std
#else
#include <iostream>
#endif
