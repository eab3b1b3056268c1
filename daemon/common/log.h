// Structured logging: one JSON object per line on stderr (or text with --log-format text).
// `event` is a constant name such as "secret_synced", never formatted text. Field values are
// scalars, strings and Errors only: Sensitive has no conversion to any of them, so secret bytes
// cannot be logged. Single-threaded, like the rest of the daemon.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

#include "daemon/common/result.h"

namespace esd::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kJson, kText };

using Value = std::variant<int64_t, double, bool, std::string_view, const Error*>;

struct Field {
  std::string_view key;
  Value value;
  Field(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, long long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, unsigned v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, unsigned long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const Error& e) : key(k), value(&e) {}
};

void set_level(Level level);
void set_format(Format format);
Result<Level> parse_level(std::string_view s);
bool enabled(Level level);

// Where lines go; default writes to stderr. Tests install a capturing sink.
void set_sink(std::function<void(std::string_view line)> sink);
void reset_sink();

void write(Level level, std::string_view component, std::string_view event,
           std::initializer_list<Field> fields = {});

inline void debug(std::string_view c, std::string_view e, std::initializer_list<Field> f = {}) {
  if (enabled(Level::kDebug)) write(Level::kDebug, c, e, f);
}
inline void info(std::string_view c, std::string_view e, std::initializer_list<Field> f = {}) {
  write(Level::kInfo, c, e, f);
}
inline void warn(std::string_view c, std::string_view e, std::initializer_list<Field> f = {}) {
  write(Level::kWarn, c, e, f);
}
inline void error(std::string_view c, std::string_view e, std::initializer_list<Field> f = {}) {
  write(Level::kError, c, e, f);
}

}  // namespace esd::log
