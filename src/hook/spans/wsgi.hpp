#pragma once
// WSGI server spans: the span a request makes (wsgi_span.cpp) and the native
// traced WSGI callables around the app (wsgi_app.cpp).
#include <Python.h>

#include "hook/spans/span.hpp"

namespace agent_run::spans {

// The request's SERVER span from its environ (a dict), activated: named after
// the method, child of a valid `traceparent` header, else a new trace (never
// of the current span). Null with an error set on failure.
SpanObject* start_server_span(PyObject* environ);
// Ends it: status is start_response's status line ("200 OK") or null; a 5xx
// or an exception makes it an error. Deactivates it. Never fails.
void finish_server_span(SpanObject* s, PyObject* status, PyObject* exc);
// http.route = route, name "{method} {route}" (a Flask url_rule). Never fails.
void set_server_route(SpanObject* s, PyObject* environ, PyObject* route);

int add_wsgi_span_functions(PyObject* module);
int add_wsgi_app_types(PyObject* module);

}  // namespace agent_run::spans
