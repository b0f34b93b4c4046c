#include <catch2/catch.hpp>

#include "hook/spans/sql_sanitizer.hpp"

using namespace agent_run::spans;

TEST_CASE("sanitizer: literals become ?", "[sql]") {
  CHECK(sanitize_sql("select 1") == "select ?");
  CHECK(sanitize_sql("SELECT * FROM users WHERE name = 'bob' AND age > 42") ==
        "SELECT * FROM users WHERE name = ? AND age > ?");
  CHECK(sanitize_sql("insert into t values ('it''s', 3.14, -7, 1e-9, 0x1F, X'0aff', .5)") ==
        "insert into t values (?, ?, -?, ?, ?, ?, ?)");
  CHECK(sanitize_sql("select x'00' , X'ff'") == "select ? , ?");
}

TEST_CASE("sanitizer: identifiers and parameters are kept", "[sql]") {
  CHECK(sanitize_sql("select col1, t2.x3 from table9 where a = ?") == "select col1, t2.x3 from table9 where a = ?");
  CHECK(sanitize_sql("select \"weird 'col'\", `b 1`, [c 2] from t") == "select \"weird 'col'\", `b 1`, [c 2] from t");
  CHECK(sanitize_sql("update t set a = ?1, b = :name, c = @p, d = $v where id = ?") ==
        "update t set a = ?1, b = :name, c = @p, d = $v where id = ?");
  CHECK(sanitize_sql("select max(x) from tx where x_1 = 1") == "select max(x) from tx where x_1 = ?");
  CHECK(sanitize_sql("SELECT ünïcode FROM t WHERE v = 'é'") == "SELECT ünïcode FROM t WHERE v = ?");
}

TEST_CASE("sanitizer: comments are removed", "[sql]") {
  CHECK(sanitize_sql("select a -- secret 'x'\nfrom t") == "select a \nfrom t");
  CHECK(sanitize_sql("select /* id=42 */ a from t") == "select  a from t");
  CHECK(sanitize_sql("select a/*x*/from t") == "select a from t");
}

TEST_CASE("sanitizer: unterminated literals do not leak", "[sql]") {
  CHECK(sanitize_sql("select 'unterminated secret") == "select ?");
  CHECK(sanitize_sql("select \"unterminated") == "select \"unterminated");
}

TEST_CASE("sanitizer: output is cut on a character boundary", "[sql]") {
  CHECK(sanitize_sql("select abcdef from t", 8) == "select a");
  std::string s = sanitize_sql("select é", 8);  // é is two bytes at offsets 7-8
  CHECK(s == "select ");
  CHECK(utf8_cut("aé", 2) == 1);
}

TEST_CASE("sql_operation: the leading keyword", "[sql]") {
  CHECK(sql_operation("select 1") == "SELECT");
  CHECK(sql_operation("  /* c */ -- x\n (Insert into t values (1))") == "INSERT");
  CHECK(sql_operation("WITH x AS (select 1) select * from x") == "WITH");
  CHECK(sql_operation("") == "");
  CHECK(sql_operation("123") == "");
  CHECK(sql_operation("select_x") == "");
}
