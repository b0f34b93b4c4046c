// The native handler that turns a wrapped DB-API call (sqlite3's
// Connection.execute, Cursor.execute, executemany, executescript) into a
// CLIENT span, through the hook core's Handler interface (hook/handler.hpp):
// no Python callback, no Python object per call.
#include <memory>
#include <string>

#include "hook/handler.hpp"
#include "hook/spans/span.hpp"

namespace agent_run::spans {
namespace {

class SqlSpanHandler final : public hook::Handler {
 public:
  explicit SqlSpanHandler(std::string db_system) : db_system_(std::move(db_system)) {}

  int before(hook::CallContext& ctx) override {
    if (PyObject* sql = sql_statement_argument(ctx.args, ctx.nargs, ctx.kwnames)) {
      Py_INCREF(sql);
      ctx.state = sql;  // released by the core after the call
    }
    return 0;
  }

  int after(hook::CallContext& ctx) override {
    ClientSpan cs;
    cs.start_mono = ctx.start_ns;
    PyObject* exc = ctx.exception != nullptr && PyExceptionInstance_Check(ctx.exception) ? ctx.exception : nullptr;
    cs.finish_db(db_system_.c_str(), ctx.state, exc, ctx.end_ns);
    return 0;
  }

  bool wants_timing() const override { return true; }
  bool wants_after() const override { return false; }

  const std::string& db_system() const { return db_system_; }

 private:
  std::string db_system_;
};

PyObject* py_sql_span_handler(PyObject*, PyObject* args) {
  const char* system = "sqlite";
  if (!PyArg_ParseTuple(args, "|s:sql_span_handler", &system)) return nullptr;
  try {
    return hook::make_handler_object(std::make_shared<SqlSpanHandler>(system));
  } catch (const std::bad_alloc&) {
    return PyErr_NoMemory();
  }
}

PyMethodDef db_functions[] = {
    {"sql_span_handler", py_sql_span_handler, METH_VARARGS,
     "sql_span_handler(db_system='sqlite') -> Handler: records a CLIENT span per wrapped call\n"
     "(db.system, db.operation, db.statement per spans.db_statement), child of the current span."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

PyObject* sql_statement_argument(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  PyObject* sql = nargs > 0 ? args[0] : hook::keyword_argument(args, nargs, kwnames, "sql");
  return sql != nullptr && PyUnicode_Check(sql) ? sql : nullptr;
}

const std::string* sql_handler_db_system(const hook::Handler* h) {
  auto* sql = dynamic_cast<const SqlSpanHandler*>(h);
  return sql != nullptr ? &sql->db_system() : nullptr;
}

int add_db_handler_functions(PyObject* module) {
  return PyModule_AddFunctions(module, db_functions);
}

}  // namespace agent_run::spans
