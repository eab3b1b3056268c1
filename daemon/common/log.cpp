#include "daemon/common/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

namespace esd::log {
namespace {

struct State {
  Level level = Level::kInfo;
  Format format = Format::kJson;
  std::function<void(std::string_view)> sink;
};

State& state() {
  static State s;
  return s;
}

std::string timestamp() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string_view level_name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

void put(nlohmann::json& j, const Field& f) {
  std::string key(f.key);
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, const Error*>) {
          j[key] = v->message;
          j[key + "_code"] = std::string(to_string(v->code));
        } else if constexpr (std::is_same_v<T, std::string_view>) {
          j[key] = std::string(v);
        } else {
          j[key] = v;
        }
      },
      f.value);
}

std::string render_text(const nlohmann::json& j) {
  std::string out;
  for (const auto& [k, v] : j.items()) {
    if (!out.empty()) out += ' ';
    out += k;
    out += '=';
    out += v.is_string() ? v.get<std::string>() : v.dump();
  }
  return out;
}

}  // namespace

void set_level(Level level) { state().level = level; }
void set_format(Format format) { state().format = format; }
bool enabled(Level level) { return static_cast<int>(level) >= static_cast<int>(state().level); }

Result<Level> parse_level(std::string_view s) {
  if (s == "debug") return Level::kDebug;
  if (s == "info") return Level::kInfo;
  if (s == "warn") return Level::kWarn;
  if (s == "error") return Level::kError;
  return Error(ErrorCode::kInvalidConfig, "unknown log level (want debug|info|warn|error)");
}

void set_sink(std::function<void(std::string_view)> sink) { state().sink = std::move(sink); }
void reset_sink() { state().sink = nullptr; }

void write(Level level, std::string_view component, std::string_view event,
           std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  nlohmann::json j = nlohmann::json::object();
  j["ts"] = timestamp();
  j["level"] = std::string(level_name(level));
  j["msg"] = std::string(event);
  j["component"] = std::string(component);
  for (const auto& f : fields) put(j, f);
  std::string line = state().format == Format::kJson
                         ? j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                         : render_text(j);
  if (state().sink) {
    state().sink(line);
    return;
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace esd::log
