#pragma once
// The span model inside the app (the parts that need Python).
//
// A span is a Python object (_agent_run._hook.Span) holding a wire::Span.
// The current span lives in a contextvars.ContextVar, so every thread and
// every asyncio task sees its own. end() stamps the end time and hands the
// record to wire::SpanSink (native buffer, native flusher thread).
//
// Native handlers (the sqlite3 wrapper) record client spans without creating
// any Python object: ClientSpan below, a few hundred nanoseconds per span.
#include <Python.h>

#include <cstdint>
#include <memory>
#include <string>

#include "wire/protocol.hpp"
#include "wire/span.hpp"

namespace agent_run::hook {
class Handler;
}

namespace agent_run::spans {

enum class DbStatementMode { Sanitized, Raw, Off };

struct Limits {
  uint32_t max_attributes = 128;
  uint32_t max_events = 128;
  uint32_t max_attribute_length = 4096;
  DbStatementMode db_statement = DbStatementMode::Sanitized;
};
Limits& limits();

// Bytes written in place: grown geometrically, never zero-filled first
// (std::string::resize would clear what is about to be written).
struct WireBytes {
  std::unique_ptr<uint8_t[]> data;
  size_t size = 0;
  size_t capacity = 0;
  uint8_t* extend(size_t n) {
    if (size + n > capacity) grow(size + n);
    uint8_t* p = data.get() + size;
    size += n;
    return p;
  }
  void grow(size_t need);
};

struct SpanObject {
  PyObject_HEAD
  wire::Span span;
  // Attributes in wire form, before span.attributes (wire::EncodedAttributes):
  // the server span writes what it knows at its start this way, with no
  // Attribute strings. Whatever reads or replaces attributes from Python
  // turns them into span.attributes first (materialize_attributes).
  WireBytes encoded_attrs;
  uint32_t encoded_count;
  uint32_t start_count;  // of them, written at the start (EncodedAttributeWriter)
  size_t start_bytes;
  uint64_t start_mono;
  uint32_t method_length;  // a server span's name is its method this long, until the route names it; else 0
  PyObject* token;      // ContextVar token while activated, else null
  PyObject* previous;   // the value the ContextVar had before activation
  bool ended;
};

extern PyTypeObject SpanType;
inline bool is_span(PyObject* o) { return Py_TYPE(o) == &SpanType; }

// The ContextVar holding the current span (created at module init).
PyObject* current_span_var();
// New reference to the current span, or null (no error set) if there is none.
SpanObject* current_span();

// Parent ids for a new span from the current one; false: a root span.
bool current_parent(uint8_t trace_id[16], uint8_t parent_span_id[8], uint8_t* flags);

// New span (not activated). parent: a SpanObject or null (then the current
// span, then root); traceparent: a valid W3C header overrides both.
// use_current=false: no in-process parent (a server span of a new request).
SpanObject* new_span(std::string name, wire::SpanKind kind, SpanObject* parent, const char* traceparent,
                     bool use_current = true);
int activate(SpanObject* s);    // 0 or -1 with exception set
void deactivate(SpanObject* s); // never fails
void end_span(SpanObject* s, uint64_t end_mono = 0);

// Attribute helpers enforcing the limits. A value of a type OTLP has no
// scalar for is stored as its str().
void set_attribute(wire::Span& span, std::string_view key, wire::AttributeValue value);

// Writes a fresh span's first attributes in wire form (SpanObject::encoded_attrs),
// in order, keys distinct (the caller's), the limits held; the buffer comes
// from the ended spans', so a request allocates nothing for them.
class EncodedAttributeWriter {
 public:
  explicit EncodedAttributeWriter(SpanObject* s);
  ~EncodedAttributeWriter();
  void put(std::string_view key, std::string_view value);
  void put(std::string_view key, int64_t value);

 private:
  SpanObject* s_;
};
// The encoded attributes, as span.attributes (before the others).
void materialize_attributes(SpanObject* s);
// Sets an attribute on a span that may hold encoded ones: appended in wire
// form while all its attributes are, else set_attribute(). For keys the
// span's EncodedAttributeWriter did not write (the route, the status code):
// one set here before is replaced (after materializing).
void set_span_attribute(SpanObject* s, std::string_view key, std::string_view value);
void set_span_attribute(SpanObject* s, std::string_view key, int64_t value);
// The same for a key the caller knows the span has not been given (neither
// at its start nor since): appended without looking for an earlier value.
void add_span_attribute(SpanObject* s, std::string_view key, std::string_view value);
void add_span_attribute(SpanObject* s, std::string_view key, int64_t value);
int set_attribute_py(wire::Span& span, PyObject* key, PyObject* value);  // -1: error set
void record_exception(wire::Span& span, PyObject* exc, bool set_error_status);
// A string cut to the limits' max_attribute_length (at a UTF-8 boundary).
void truncate_in_place(std::string& s);
std::string truncate(std::string s);

// Everything that leaves: counted here and handed to the sink.
void submit(const wire::Span& span, const wire::EncodedAttributes& first = wire::EncodedAttributes{});
// A span encoded as wire::encode_span does, in two parts: `head` then `body`.
void submit_encoded(const uint8_t* head, size_t head_size, const uint8_t* body = nullptr, size_t body_size = 0);
uint64_t spans_ended();

// A client span recorded by a native handler: begin() in the handler's
// before, finish_db() in its after. No Python object is made.
struct ClientSpan {
  uint64_t start_mono = 0;
  void begin();
  // statement: a str or null; exc: the raised exception or null;
  // end_mono: the call's end (monotonic ns), 0 for now.
  void finish_db(const char* db_system, PyObject* statement, PyObject* exc, uint64_t end_mono = 0);
};

// The native handler for DB-API calls (db_handler.cpp, built into the hook
// module only): adds _hook.sql_span_handler(db_system) -> a _hook.Handler.
int add_db_handler_functions(PyObject* module);
// A DB-API statement call's SQL text: its first argument, or sql=, when a
// str (borrowed from the caller's arguments), else null.
PyObject* sql_statement_argument(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);
// The db.system of a handler sql_span_handler() made (owned by the
// handler), or null for any other handler.
const std::string* sql_handler_db_system(const hook::Handler* h);

// The traced sqlite3 connection's native methods (sqlite_connection.cpp):
// adds _hook.install_sqlite_connection_methods(...).
int add_sqlite_connection_functions(PyObject* module);

}  // namespace agent_run::spans
