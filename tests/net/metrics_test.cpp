// Metrics: Prometheus text format 0.0.4 rendering, escaping, ordering, counters and removal.
#include "daemon/server/metrics.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

using esd::Labels;
using esd::Metrics;

TEST_CASE("Metrics: renders HELP, TYPE and sorted series", "[net][metrics]") {
  Metrics m;
  m.declare("externalsecret_sync_calls_total", Metrics::Type::kCounter, "Total sync calls");
  m.declare("externalsecret_status_condition", Metrics::Type::kGauge, "Condition\nwith \\ slash");
  m.inc("externalsecret_sync_calls_total", {{"name", "b"}, {"namespace", "ns"}});
  m.inc("externalsecret_sync_calls_total", {{"name", "a"}, {"namespace", "ns"}}, 2);
  m.inc("externalsecret_sync_calls_total", {{"name", "b"}, {"namespace", "ns"}});
  m.set("externalsecret_status_condition", {{"condition", "Ready"}, {"status", "True"}}, 1);
  m.set("up", {}, 1);  // undeclared: a gauge without HELP
  const std::string want =
      "# HELP externalsecret_status_condition Condition\\nwith \\\\ slash\n"
      "# TYPE externalsecret_status_condition gauge\n"
      "externalsecret_status_condition{condition=\"Ready\",status=\"True\"} 1\n"
      "# HELP externalsecret_sync_calls_total Total sync calls\n"
      "# TYPE externalsecret_sync_calls_total counter\n"
      "externalsecret_sync_calls_total{name=\"a\",namespace=\"ns\"} 2\n"
      "externalsecret_sync_calls_total{name=\"b\",namespace=\"ns\"} 2\n"
      "# TYPE up gauge\n"
      "up 1\n";
  CHECK(m.render() == want);
  CHECK(m.render() == m.render());
}

TEST_CASE("Metrics: escapes label values", "[net][metrics]") {
  Metrics m;
  m.set("g", {{"v", "a\"b\\c\nd"}}, 3);
  CHECK(m.render() == "# TYPE g gauge\ng{v=\"a\\\"b\\\\c\\nd\"} 3\n");
  CHECK(m.get("g", {{"v", "a\"b\\c\nd"}}) == 3);
}

TEST_CASE("Metrics: value formatting", "[net][metrics]") {
  Metrics m;
  m.set("a", {}, 0.25);
  m.set("b", {}, 1e21);
  m.set("c", {}, std::numeric_limits<double>::infinity());
  m.set("d", {}, -std::numeric_limits<double>::infinity());
  m.set("e", {}, std::nan(""));
  m.set("f", {}, 1700000000123.0);
  const std::string out = m.render();
  CHECK(out.find("a 0.25\n") != std::string::npos);
  CHECK(out.find("b 1e+21\n") != std::string::npos);
  CHECK(out.find("c +Inf\n") != std::string::npos);
  CHECK(out.find("d -Inf\n") != std::string::npos);
  CHECK(out.find("e NaN\n") != std::string::npos);
  CHECK(out.find("f 1700000000123\n") != std::string::npos);
}

TEST_CASE("Metrics: get, set and remove by label subset", "[net][metrics]") {
  Metrics m;
  m.declare("es_ready", Metrics::Type::kGauge, "ready");
  const Labels a = {{"name", "a"}, {"namespace", "x"}, {"status", "True"}};
  const Labels a2 = {{"name", "a"}, {"namespace", "x"}, {"status", "False"}};
  const Labels b = {{"name", "b"}, {"namespace", "x"}, {"status", "True"}};
  m.set("es_ready", a, 1);
  m.set("es_ready", a2, 0);
  m.set("es_ready", b, 1);
  CHECK(m.get("es_ready", a) == 1);
  CHECK(m.get("es_ready", {{"name", "zzz"}}) == 0);
  CHECK(m.get("missing", a) == 0);
  m.remove("es_ready", {{"name", "a"}, {"namespace", "x"}});
  CHECK(m.get("es_ready", b) == 1);
  const std::string out = m.render();
  CHECK(out.find("name=\"a\"") == std::string::npos);
  CHECK(out.find("name=\"b\"") != std::string::npos);
  CHECK(out.find("# HELP es_ready ready\n") != std::string::npos);  // family stays declared
  m.remove("es_ready", {});  // the empty subset matches every series
  CHECK(m.render() == "# HELP es_ready ready\n# TYPE es_ready gauge\n");
  m.remove("missing", {});
}
