#include "providers/json_path.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace esd::providers {

namespace {

using nlohmann::json;

// ---- Raw-text scanning. Every function below runs on text that json::accept() has already
// validated, so it only has to find token boundaries, never to diagnose errors.

size_t skip_ws(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// i is at the opening quote; returns the index just past the closing quote.
size_t skip_string(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return s.size();
}

// i is at the first character of a value; returns the index just past it.
size_t skip_value(std::string_view s, size_t i) {
  if (s[i] == '"') return skip_string(s, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = skip_string(s, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return s.size();
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
         s[i] != '\n' && s[i] != '\r') {
    ++i;
  }
  return i;
}

// A JSON string token (quotes included) → its decoded text.
std::string decode_string(std::string_view token) {
  json j = json::parse(token, nullptr, false);
  if (j.is_string()) return j.get<std::string>();
  return {};
}

// Calls f(key_token, value_span) for each member of the object starting at s[i] == '{'; stops
// early when f returns true. Returns whether f stopped it.
template <typename F>
bool for_each_member(std::string_view s, size_t i, F&& f) {
  i = skip_ws(s, i + 1);
  while (i < s.size() && s[i] == '"') {
    const size_t key_end = skip_string(s, i);
    const std::string_view key = s.substr(i, key_end - i);
    const size_t v = skip_ws(s, skip_ws(s, key_end) + 1);  // past ':'
    const size_t v_end = skip_value(s, v);
    if (f(key, s.substr(v, v_end - v))) return true;
    i = skip_ws(s, v_end);
    if (i < s.size() && s[i] == ',') i = skip_ws(s, i + 1);
  }
  return false;
}

template <typename F>
bool for_each_element(std::string_view s, size_t i, F&& f) {
  i = skip_ws(s, i + 1);
  while (i < s.size() && s[i] != ']') {
    const size_t v_end = skip_value(s, i);
    if (f(s.substr(i, v_end - i))) return true;
    i = skip_ws(s, v_end);
    if (i < s.size() && s[i] == ',') i = skip_ws(s, i + 1);
  }
  return false;
}

// ---- gjson paths.

struct Segment {
  std::string text;     // escapes removed
  std::string pattern;  // escapes kept; used when wild
  bool wild = false;
};

bool unsupported_start(char c) { return c == '@' || c == '!' || c == '[' || c == '{'; }

std::optional<std::vector<Segment>> parse_path(std::string_view path) {
  std::vector<Segment> out(1);
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    Segment& seg = out.back();
    if (c == '\\' && i + 1 < path.size()) {
      seg.text += path[i + 1];
      seg.pattern.append(path.substr(i, 2));
      ++i;
    } else if (c == '.') {
      out.emplace_back();
    } else if (c == '|') {
      return std::nullopt;
    } else {
      if (seg.pattern.empty() && unsupported_start(c)) return std::nullopt;
      if (seg.pattern.empty() && c == '#' && i + 1 < path.size() &&
          (path[i + 1] == '(' || path[i + 1] == '[')) {
        return std::nullopt;
      }
      seg.wild = seg.wild || c == '*' || c == '?';
      seg.text += c;
      seg.pattern += c;
    }
  }
  return out;
}

size_t utf8_len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

// tidwall/match semantics: '*' any run, '?' one character (rune), '\' escapes.
bool wild_match(std::string_view str, std::string_view pat) {
  while (!pat.empty()) {
    if (pat[0] == '*') {
      pat.remove_prefix(1);
      for (size_t k = 0;; k += utf8_len(static_cast<unsigned char>(str[k]))) {
        if (wild_match(str.substr(std::min(k, str.size())), pat)) return true;
        if (k >= str.size()) return false;
      }
    }
    if (str.empty()) return false;
    if (pat[0] == '?') {
      str.remove_prefix(std::min(str.size(), utf8_len(static_cast<unsigned char>(str[0]))));
      pat.remove_prefix(1);
      continue;
    }
    if (pat[0] == '\\' && pat.size() > 1) pat.remove_prefix(1);
    if (pat[0] != str[0]) return false;
    pat.remove_prefix(1);
    str.remove_prefix(1);
  }
  return str.empty();
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::optional<std::string> eval(std::string_view v, const std::vector<Segment>& segs, size_t k);

std::optional<std::string> eval_array(std::string_view v, const std::vector<Segment>& segs,
                                      size_t k) {
  const Segment& seg = segs[k];
  if (!seg.wild && seg.text == "#") {
    if (k + 1 == segs.size()) {
      size_t n = 0;
      for_each_element(v, 0, [&](std::string_view) {
        ++n;
        return false;
      });
      return std::to_string(n);
    }
    std::string out = "[";
    for_each_element(v, 0, [&](std::string_view e) {
      if (auto r = eval(e, segs, k + 1)) {
        if (out.size() > 1) out += ',';
        out += *r;
      }
      return false;
    });
    return out + "]";
  }
  if (seg.wild || !all_digits(seg.text) || seg.text.size() > 9) return std::nullopt;
  size_t want = std::stoul(seg.text);
  std::optional<std::string> found;
  for_each_element(v, 0, [&](std::string_view e) {
    if (want-- != 0) return false;
    found = eval(e, segs, k + 1);
    return true;
  });
  return found;
}

// The raw text at path segs[k..] inside the value v (raw JSON text), or nullopt.
std::optional<std::string> eval(std::string_view v, const std::vector<Segment>& segs, size_t k) {
  if (k == segs.size()) return std::string(v);
  if (v.empty()) return std::nullopt;
  if (v[0] == '[') return eval_array(v, segs, k);
  if (v[0] != '{') return std::nullopt;
  const Segment& seg = segs[k];
  std::optional<std::string> found;
  for_each_member(v, 0, [&](std::string_view key_token, std::string_view value) {
    const std::string key = decode_string(key_token);
    if (seg.wild ? !wild_match(key, seg.pattern) : key != seg.text) return false;
    found = eval(value, segs, k + 1);
    return true;
  });
  return found;
}

// gjson's Result.String() of a raw value.
std::string raw_to_string(std::string_view raw) {
  switch (raw.empty() ? 'n' : raw[0]) {
    case '"':
      return decode_string(raw);
    case '{':
    case '[':
      return std::string(raw);
    case 't':
      return "true";
    case 'f':
      return "false";
    case 'n':
      return "";
    default:
      break;
  }
  std::string_view digits = raw.substr(raw[0] == '-' ? 1 : 0);
  if (all_digits(digits)) return std::string(raw);
  double d = 0;
  const auto [ptr, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), d);
  if (ec == std::errc::result_out_of_range) {
    // Go's ParseFloat saturates to ±Inf (or 0 on underflow) and gjson ignores the error.
    const size_t e = raw.find_first_of("eE");
    const bool tiny = e != std::string_view::npos && e + 1 < raw.size() && raw[e + 1] == '-';
    const bool neg = raw[0] == '-';
    d = tiny ? (neg ? -0.0 : 0.0) : (neg ? -HUGE_VAL : HUGE_VAL);
  }
  return go_format_float(d);
}

Error not_found(std::string_view property) {
  return Error(ErrorCode::kNotFound, "property " + std::string(property) + " not found");
}

Result<Sensitive> lookup(std::string_view text, std::string_view property, bool literal_first) {
  if (!json::accept(text)) {
    return Error(ErrorCode::kInvalidRef, "cannot select property " + std::string(property) +
                                             ": the secret value is not valid JSON");
  }
  const size_t start = skip_ws(text, 0);
  const std::string_view doc = text.substr(start, skip_value(text, start) - start);
  if (literal_first && doc[0] == '{') {
    std::optional<std::string> found;
    for_each_member(doc, 0, [&](std::string_view key_token, std::string_view value) {
      if (decode_string(key_token) != property) return false;
      found = std::string(value);
      return true;
    });
    if (found) return Sensitive(raw_to_string(*found));
  }
  if (property.empty()) return not_found(property);
  auto segs = parse_path(property);
  if (!segs) {
    return Error(ErrorCode::kInvalidRef,
                 "property " + std::string(property) + " uses gjson syntax that is not supported");
  }
  auto found = eval(doc, *segs, 0);
  if (!found) return not_found(property);
  return Sensitive(raw_to_string(*found));
}

// json.Marshal escapes these for HTML safety; they can only occur inside strings in dump output.
std::string go_html_escape(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xE2' && i + 2 < in.size() && in[i + 1] == '\x80' &&
               (in[i + 2] == '\xA8' || in[i + 2] == '\xA9')) {
      out += in[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string go_format_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[400];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  if (ec != std::errc()) return "0";
  return std::string(buf, ptr);
}

Result<Sensitive> json_property(std::string_view json_text, std::string_view property) {
  return lookup(json_text, property, true);
}

Result<Sensitive> json_path_get(std::string_view json_text, std::string_view path) {
  return lookup(json_text, path, false);
}

Result<SecretMap> json_to_secret_map(std::string_view json_text) {
  const Error bad(ErrorCode::kInvalidRef, "unable to unmarshal secret: not a JSON object");
  if (!json::accept(json_text)) return bad;
  const size_t start = skip_ws(json_text, 0);
  SecretMap out;
  if (json_text[start] == 'n') return out;  // Go: null into a map is a no-op
  if (json_text[start] != '{') return bad;
  for_each_member(json_text, start, [&](std::string_view key_token, std::string_view value) {
    std::string v;
    if (value[0] == '"') {
      v = decode_string(value);
    } else if (value[0] != 'n') {
      v = std::string(value);
    }
    out.insert_or_assign(decode_string(key_token), Sensitive(std::move(v)));
    return false;
  });
  return out;
}

Result<std::string> json_value_to_string(const nlohmann::json& value) {
  switch (value.type()) {
    case json::value_t::string:
      return value.get<std::string>();
    case json::value_t::null:
      return std::string();
    case json::value_t::boolean:
      return std::string(value.get<bool>() ? "true" : "false");
    case json::value_t::number_integer:
      return std::to_string(value.get<int64_t>());
    case json::value_t::number_unsigned:
      return std::to_string(value.get<uint64_t>());
    case json::value_t::number_float:
      return go_format_float(value.get<double>());
    case json::value_t::object:
    case json::value_t::array:
      return go_html_escape(value.dump(-1, ' ', false, json::error_handler_t::replace));
    default:
      return Error(ErrorCode::kInvalidRef, "value cannot be converted to a string");
  }
}

}  // namespace esd::providers
