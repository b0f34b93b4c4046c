// report_gen_store FILE SPANS: writes a synthetic store of SPANS spans in the
// collector's format, for measuring the report's throughput. Traces of 10
// spans (a server span, 6 database calls, 3 internal spans) with realistic
// attributes; children and root of a trace are on different lines, as the
// collector writes them (a root span ends, and is flushed, last).
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include <fmt/format.h>

namespace {

const char* kRoutes[] = {"GET /users/{id}", "POST /orders", "GET /health", "GET /products", "PUT /users/{id}"};
const char* kStatements[] = {
    "SELECT id, name, email FROM users WHERE id = ?",
    "SELECT * FROM orders WHERE user_id = ? ORDER BY created_at DESC LIMIT 20",
    "INSERT INTO orders (user_id, total, created_at) VALUES (?, ?, ?)",
    "UPDATE users SET last_seen = ? WHERE id = ?",
    "SELECT count(*) FROM products WHERE category = ?",
};

std::string span_json(const std::string& trace, uint64_t span, uint64_t parent, const std::string& name, int kind,
                      uint64_t start, uint64_t end, const std::string& attrs, bool error) {
  return fmt::format(
      R"({{"traceId":"{}","spanId":"{:016x}","parentSpanId":"{}","name":"{}","kind":{},"startTimeUnixNano":"{}","endTimeUnixNano":"{}","attributes":[{}],"status":{{"code":{}{}}}}})",
      trace, span, parent ? fmt::format("{:016x}", parent) : "", name, kind, start, end, attrs, error ? 2 : 0,
      error ? R"(,"message":"ValueError: boom")" : "");
}

std::string wrap(const std::string& spans) {
  return R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}},{"key":"process.pid","value":{"intValue":"4242"}}]},"scopeSpans":[{"scope":{"name":"agent-run","version":"0.1.0"},"spans":[)" +
         spans + "]}]}]}\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: report_gen_store FILE SPANS\n");
    return 2;
  }
  std::FILE* f = std::fopen(argv[1], "wb");
  if (!f) {
    std::perror(argv[1]);
    return 1;
  }
  const uint64_t total = std::strtoull(argv[2], nullptr, 10);
  std::mt19937_64 rng(42);
  uint64_t t = 1763776800000000000ull, written = 0, next_id = 1;
  while (written < total) {
    const std::string trace = fmt::format("{:016x}{:016x}", rng(), rng());
    const uint64_t root = next_id++;
    const char* route = kRoutes[rng() % 5];
    const uint64_t start = t;
    uint64_t cursor = start + 50000;
    std::string children;
    const int n_children = static_cast<int>(std::min<uint64_t>(9, total - written - 1));
    for (int c = 0; c < n_children; ++c) {
      const uint64_t d = 20000 + rng() % 2000000;
      const bool db = c < 6;
      std::string attrs;
      if (db) {
        attrs = fmt::format(
            R"({{"key":"db.system","value":{{"stringValue":"sqlite"}}}},{{"key":"db.statement","value":{{"stringValue":"{}"}}}},{{"key":"db.name","value":{{"stringValue":"app.db"}}}})",
            kStatements[rng() % 5]);
      } else {
        attrs = R"({"key":"code.function","value":{"stringValue":"render_template"}},{"key":"code.lineno","value":{"intValue":"42"}})";
      }
      if (!children.empty()) children += ',';
      children += span_json(trace, next_id++, root, db ? "sqlite3.execute" : "render", db ? 3 : 1, cursor, cursor + d,
                            attrs, rng() % 100 == 0);
      cursor += d + 1000;
    }
    if (!children.empty()) std::fputs(wrap(children).c_str(), f);
    const std::string root_attrs =
        fmt::format(R"({{"key":"http.method","value":{{"stringValue":"GET"}}}},{{"key":"http.route","value":{{"stringValue":"{}"}}}},{{"key":"http.status_code","value":{{"intValue":"200"}}}})",
                    route);
    std::fputs(wrap(span_json(trace, root, 0, route, 2, start, cursor + 10000, root_attrs, rng() % 50 == 0)).c_str(), f);
    written += n_children + 1;
    t = cursor + 100000;
  }
  std::fclose(f);
  return 0;
}
