// parse_go_duration (declared in es_spec.h): Go's time.ParseDuration, step for step, so that
// every refreshInterval ESO accepts is accepted here with the same value.
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/controller/es_spec.h"

namespace esd::controller {

namespace {

constexpr uint64_t kMaxDuration = uint64_t{1} << 63;
constexpr int64_t kNsPerMs = 1'000'000;

struct Unit {
  std::string_view name;
  uint64_t ns;
};

constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // U+00B5 micro sign
    {"\xCE\xBCs", 1'000},  // U+03BC Greek small letter mu
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

Error invalid(const std::string& orig) {
  return Error(ErrorCode::kInvalidConfig, "time: invalid duration \"" + orig + "\"");
}

// Go's leadingInt: false on overflow.
bool leading_int(std::string_view& s, uint64_t& x) {
  size_t i = 0;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    if (x > kMaxDuration / 10) return false;
    x = x * 10 + static_cast<uint64_t>(s[i] - '0');
    if (x > kMaxDuration) return false;
  }
  s.remove_prefix(i);
  return true;
}

// Go's leadingFraction: digits past the precision of uint64 are consumed but ignored.
void leading_fraction(std::string_view& s, uint64_t& x, double& scale) {
  size_t i = 0;
  bool overflow = false;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    if (overflow) continue;
    if (x > (kMaxDuration - 1) / 10) {
      overflow = true;
      continue;
    }
    const uint64_t y = x * 10 + static_cast<uint64_t>(s[i] - '0');
    if (y > kMaxDuration) {
      overflow = true;
      continue;
    }
    x = y;
    scale *= 10;
  }
  s.remove_prefix(i);
}

// One "<number><unit>" segment, added to total (nanoseconds).
Status parse_segment(std::string_view& s, const std::string& orig, uint64_t& total) {
  if (!(s[0] == '.' || is_digit(s[0]))) return invalid(orig);
  uint64_t v = 0;
  const size_t before = s.size();
  if (!leading_int(s, v)) return invalid(orig);
  const bool pre = before != s.size();
  uint64_t f = 0;
  double scale = 1;
  bool post = false;
  if (!s.empty() && s[0] == '.') {
    s.remove_prefix(1);
    const size_t frac_before = s.size();
    leading_fraction(s, f, scale);
    post = frac_before != s.size();
  }
  if (!pre && !post) return invalid(orig);
  size_t i = 0;
  while (i < s.size() && s[i] != '.' && !is_digit(s[i])) ++i;
  if (i == 0) {
    return Error(ErrorCode::kInvalidConfig, "time: missing unit in duration \"" + orig + "\"");
  }
  const std::string_view u = s.substr(0, i);
  s.remove_prefix(i);
  uint64_t unit = 0;
  for (const Unit& known : kUnits) {
    if (known.name == u) unit = known.ns;
  }
  if (unit == 0) {
    return Error(ErrorCode::kInvalidConfig,
                 "time: unknown unit \"" + std::string(u) + "\" in duration \"" + orig + "\"");
  }
  if (v > kMaxDuration / unit) return invalid(orig);
  v *= unit;
  if (f > 0) {
    v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
    if (v > kMaxDuration) return invalid(orig);
  }
  total += v;
  if (total > kMaxDuration) return invalid(orig);
  return ok_status();
}

}  // namespace

Result<int64_t> parse_go_duration(const std::string& orig) {
  std::string_view s = orig;
  if (!s.empty() && s[0] == '-') {
    return Error(ErrorCode::kInvalidConfig, "negative duration \"" + orig + "\" is not allowed");
  }
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s == "0") return int64_t{0};
  if (s.empty()) return invalid(orig);
  uint64_t total = 0;
  while (!s.empty()) {
    ESD_RETURN_IF_ERROR(parse_segment(s, orig, total));
  }
  if (total > kMaxDuration - 1) return invalid(orig);
  const auto ns = static_cast<int64_t>(total);
  if (ns > 0 && ns < kNsPerMs) return int64_t{1};
  return ns / kNsPerMs;
}

}  // namespace esd::controller
