// Metrics: a small Prometheus registry (counters and gauges with labels) rendered in the text
// exposition format 0.0.4. Metric names and labels follow ESO's where ESO has one. Single-threaded.
// Output is stable: families sorted by name, series by their rendered label set. Label values are
// escaped (\\, \", \n); label names and metric names are constants from our code.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace esd {

using Labels = std::vector<std::pair<std::string, std::string>>;  // order is kept as given

class Metrics {
 public:
  enum class Type { kCounter, kGauge };
  // Declares a family once (HELP/TYPE lines). Using an undeclared name declares it as a gauge.
  void declare(std::string_view name, Type type, std::string_view help);
  void inc(std::string_view name, const Labels& labels, double by = 1.0);
  void set(std::string_view name, const Labels& labels, double value);
  double get(std::string_view name, const Labels& labels) const;  // 0 when absent
  // Removes every series of `name` whose labels include all of `subset` (an ES was deleted).
  void remove(std::string_view name, const Labels& subset);
  std::string render() const;

  // A family whose series are produced at render time (one per ExternalSecret, say), so that
  // per-object series cost no memory between scrapes. `fn` calls `emit` once per series.
  // Passing nullptr removes the collector (its owner is going away).
  using Emit = std::function<void(const Labels&, double)>;
  void set_collector(std::string_view name, std::function<void(const Emit&)> fn);

 private:
  struct Series {
    Labels labels;
    double value = 0.0;
  };
  struct Family {
    Type type = Type::kGauge;
    std::string help;
    std::map<std::string, Series> series;  // rendered label set -> series
    std::function<void(const Emit&)> collector;
  };
  Series& series(std::string_view name, const Labels& labels);
  template <typename Put>
  void write(Put&& put) const;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace esd
