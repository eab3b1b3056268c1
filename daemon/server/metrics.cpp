#include "daemon/server/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace esd {
namespace {

// Label values: backslash, double quote and line feed are escaped (format 0.0.4).
std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// HELP text: only backslash and line feed are escaped.
std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i].first + "=\"" + escape_label_value(labels[i].second) + "\"";
  }
  return out + "}";
}

// Shortest text that reads back as the same double; Prometheus spellings for the specials.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

bool has_all(const Labels& labels, const Labels& subset) {
  return std::all_of(subset.begin(), subset.end(), [&](const auto& want) {
    return std::find(labels.begin(), labels.end(), want) != labels.end();
  });
}

}  // namespace

void Metrics::declare(std::string_view name, Type type, std::string_view help) {
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family{}).first;
  it->second.type = type;
  it->second.help = std::string(help);
}

Metrics::Series& Metrics::series(std::string_view name, const Labels& labels) {
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family{}).first;
  Series& s = it->second.series[render_labels(labels)];
  if (s.labels.empty()) s.labels = labels;
  return s;
}

void Metrics::inc(std::string_view name, const Labels& labels, double by) {
  series(name, labels).value += by;
}

void Metrics::set(std::string_view name, const Labels& labels, double value) {
  series(name, labels).value = value;
}

void Metrics::set_collector(std::string_view name, std::function<void(const Emit&)> fn) {
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family{}).first;
  it->second.collector = std::move(fn);
}

double Metrics::get(std::string_view name, const Labels& labels) const {
  auto it = families_.find(name);
  if (it == families_.end()) return 0.0;
  if (it->second.collector) {
    double found = 0.0;
    it->second.collector([&](const Labels& l, double v) {
      if (l == labels) found = v;
    });
    return found;
  }
  auto s = it->second.series.find(render_labels(labels));
  return s == it->second.series.end() ? 0.0 : s->second.value;
}

void Metrics::remove(std::string_view name, const Labels& subset) {
  auto it = families_.find(name);
  if (it == families_.end()) return;
  auto& series = it->second.series;
  for (auto s = series.begin(); s != series.end();) {
    s = has_all(s->second.labels, subset) ? series.erase(s) : std::next(s);
  }
}

// Emits the page through put(): called once to count and once to fill an exactly reserved
// string, so a page of several megabytes (per-ExternalSecret series) is never over-allocated.
template <typename Put>
void Metrics::write(Put&& put) const {
  for (const auto& [name, family] : families_) {
    if (!family.help.empty()) {
      put("# HELP "), put(name), put(" "), put(escape_help(family.help)), put("\n");
    }
    put("# TYPE "), put(name), put(family.type == Type::kCounter ? " counter\n" : " gauge\n");
    for (const auto& [labels, s] : family.series) {
      put(name), put(labels), put(" "), put(format_value(s.value)), put("\n");
    }
    if (family.collector) {
      family.collector([&put, &name = name](const Labels& labels, double v) {
        put(name), put(render_labels(labels)), put(" "), put(format_value(v)), put("\n");
      });
    }
  }
}

std::string Metrics::render() const {
  size_t size = 0;
  write([&size](std::string_view piece) { size += piece.size(); });
  std::string out;
  out.reserve(size);
  write([&out](std::string_view piece) { out += piece; });
  return out;
}

}  // namespace esd
