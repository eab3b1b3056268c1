#include "daemon/controller/shaping.h"

#include <re2/re2.h>

#include <cstdio>
#include <utility>

#include "daemon/common/crypto.h"
#include "providers/json_path.h"

namespace esd::controller {

namespace {

constexpr size_t kMaxKeyLength = 253;
constexpr char32_t kRuneError = 0xFFFD;

struct Rune {
  char32_t value;
  size_t width;  // bytes consumed; 0 only at the end of input
};

bool is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

// Go's utf8.DecodeRuneInString: an invalid or truncated sequence is (RuneError, 1).
Rune decode_rune(std::string_view s, size_t i) {
  if (i >= s.size()) return {kRuneError, 0};
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    lo = b0 == 0xE0 ? 0xA0 : 0x80;
    hi = b0 == 0xED ? 0x9F : 0xBF;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    lo = b0 == 0xF0 ? 0x90 : 0x80;
    hi = b0 == 0xF4 ? 0x8F : 0xBF;
  } else {
    return {kRuneError, 1};
  }
  if (i + n > s.size()) return {kRuneError, 1};
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b1 < lo || b1 > hi) return {kRuneError, 1};
  char32_t r = b0 & (0xFF >> (n + 1));
  r = (r << 6) | (b1 & 0x3F);
  for (size_t k = 2; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (!is_cont(b)) return {kRuneError, 1};
    r = (r << 6) | (b & 0x3F);
  }
  return {r, n};
}

std::string encode_rune(char32_t r) {
  std::string out;
  if (r < 0x80) {
    out += static_cast<char>(r);
  } else if (r < 0x800) {
    out += static_cast<char>(0xC0 | (r >> 6));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    out += static_cast<char>(0xE0 | (r >> 12));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (r >> 18));
    out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  }
  return out;
}

RE2::Options go_options() {
  RE2::Options o;
  o.set_log_errors(false);
  return o;
}

// Go's unicode.IsLetter || unicode.IsNumber || '-', '.', '_'.
bool keeps_rune(char32_t r) {
  if (r < 0x80) {
    const auto c = static_cast<char>(r);
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  }
  static const RE2 kLetterOrNumber("[\\p{L}\\p{N}]", go_options());
  return r != kRuneError && RE2::FullMatch(encode_rune(r), kLetterOrNumber);
}

bool valid_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

// Go's Regexp.expand for one match. m holds 1 + groups submatches of src.
void expand(std::string& out, std::string_view tmpl, const RE2& re,
            const std::vector<re2::StringPiece>& m) {
  static const RE2 kBraced("\\{([\\p{L}\\p{Nd}_]+)\\}", go_options());
  static const RE2 kBare("([\\p{L}\\p{Nd}_]+)", go_options());
  while (!tmpl.empty()) {
    const size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) break;
    out.append(tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      out += '$';
      tmpl.remove_prefix(1);
      continue;
    }
    re2::StringPiece rest(tmpl.data(), tmpl.size());
    std::string name;
    if (!RE2::Consume(&rest, kBraced, &name) && !RE2::Consume(&rest, kBare, &name)) {
      out += '$';  // malformed: the '$' is literal text
      continue;
    }
    tmpl = std::string_view(rest.data(), rest.size());
    int num = 0;
    for (char c : name) {
      if (c < '0' || c > '9' || num >= 100000000) {
        num = -1;
        break;
      }
      num = num * 10 + (c - '0');
    }
    if (name.size() > 1 && name[0] == '0') num = -1;
    if (num < 0) {
      const auto& names = re.NamedCapturingGroups();
      const auto it = names.find(name);
      num = it == names.end() ? -1 : it->second;
    }
    if (num >= 0 && static_cast<size_t>(num) < m.size() && m[num].data() != nullptr) {
      out.append(m[num].data(), m[num].size());
    }
  }
  out.append(tmpl);
}

Error invalid_keys(std::string detail) {
  return Error(ErrorCode::kInvalidRef,
               "invalid secret keys (TIP: use rewrite or conversionStrategy to change keys): " +
                   std::move(detail));
}

Status validate_key(const std::string& key) {
  if (key.size() > kMaxKeyLength) {
    return invalid_keys(
        "key has length " + std::to_string(key.size()) +
        " but max is 253: (following is truncated): " + key.substr(0, kMaxKeyLength));
  }
  for (size_t i = 0; i < key.size();) {
    const Rune r = decode_rune(key, i);
    if (r.value >= 0x80 || !valid_key_char(static_cast<char>(r.value))) {
      return invalid_keys("key has invalid character " + encode_rune(r.value) +
                          ", only alphanumeric, '-', '.' and '_' are allowed: " + key);
    }
    i += r.width;
  }
  return ok_status();
}

}  // namespace

std::string_view decoding_name(Decoding decoding) {
  switch (decoding) {
    case Decoding::kBase64:
      return "Base64";
    case Decoding::kBase64Url:
      return "Base64URL";
    case Decoding::kAuto:
      return "Auto";
    case Decoding::kNone:
      break;
  }
  return "None";
}

std::string_view conversion_name(Conversion conversion) {
  return conversion == Conversion::kUnicode ? "Unicode" : "Default";
}

namespace {

Result<Sensitive> decode_raw(const Sensitive& value, Decoding decoding) {
  switch (decoding) {
    case Decoding::kNone:
      return value.clone();
    case Decoding::kBase64:
    case Decoding::kBase64Url: {
      auto out = base64_decode(value.view(), decoding == Decoding::kBase64Url, true);
      if (!out) return std::move(out).error();
      return Sensitive(std::move(out.value()));
    }
    case Decoding::kAuto: {
      auto std_out = decode_raw(value, Decoding::kBase64);
      if (std_out) return std_out;
      auto url_out = decode_raw(value, Decoding::kBase64Url);
      if (url_out) return url_out;
      return value.clone();
    }
  }
  return value.clone();
}

Error decode_error(Decoding decoding, const std::string& detail) {
  return Error(ErrorCode::kInvalidRef, "error applying decoding strategy " +
                                           std::string(decoding_name(decoding)) +
                                           " to data: " + detail);
}

}  // namespace

Result<Sensitive> decode_value(const Sensitive& value, Decoding decoding) {
  auto out = decode_raw(value, decoding);
  if (!out) return decode_error(decoding, out.error().message);
  return out;
}

Result<SecretMap> decode_map(SecretMap in, Decoding decoding) {
  if (decoding == Decoding::kNone) return in;
  SecretMap out;
  for (auto& [key, value] : in) {
    auto decoded = decode_raw(value, decoding);
    if (!decoded) {
      return decode_error(decoding, "failure decoding key " + key + ": " + decoded.error().message);
    }
    out.emplace(key, std::move(decoded.value()));
  }
  return out;
}

std::string convert_key(std::string_view key, Conversion conversion) {
  std::string out;
  out.reserve(key.size());
  for (size_t i = 0; i < key.size();) {
    const Rune r = decode_rune(key, i);
    if (keeps_rune(r.value)) {
      out.append(key.substr(i, r.width));
    } else if (conversion == Conversion::kUnicode) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "_U%04x_", static_cast<unsigned>(r.value));
      out += buf;
    } else {
      out += '_';
    }
    i += r.width;
  }
  return out;
}

Result<SecretMap> convert_keys(SecretMap in, Conversion conversion) {
  SecretMap out;
  for (auto& [key, value] : in) {
    std::string converted = convert_key(key, conversion);
    if (out.count(converted) != 0) {
      return Error(ErrorCode::kInvalidRef, "error applying conversion strategy " +
                                               std::string(conversion_name(conversion)) +
                                               " to keys: secret name collision during "
                                               "conversion: " +
                                               converted);
    }
    out.emplace(std::move(converted), std::move(value));
  }
  return out;
}

namespace {

// Go's Regexp.replaceAll loop over a compiled pattern.
std::string replace_all(const RE2& re, std::string_view src, std::string_view target) {
  const re2::StringPiece text(src.data(), src.size());
  std::vector<re2::StringPiece> m(1 + re.NumberOfCapturingGroups());
  std::string out;
  size_t last_end = 0;
  size_t search = 0;
  while (search <= src.size()) {
    if (!re.Match(text, search, src.size(), RE2::UNANCHORED, m.data(),
                  static_cast<int>(m.size()))) {
      break;
    }
    const auto a0 = static_cast<size_t>(m[0].data() - src.data());
    const size_t a1 = a0 + m[0].size();
    out.append(src.substr(last_end, a0 - last_end));
    if (a1 > last_end || a0 == 0) expand(out, target, re, m);
    last_end = a1;
    const size_t width = decode_rune(src, search).width;
    if (search + width > a1) {
      search += width;
    } else if (search + 1 > a1) {
      ++search;
    } else {
      search = a1;
    }
  }
  out.append(src.substr(last_end));
  return out;
}

Result<SecretMap> rewrite_once(SecretMap in, const Rewrite& rw, size_t index) {
  const RE2 re(rw.source, go_options());
  if (!re.ok()) {
    return Error(ErrorCode::kInvalidConfig,
                 "error applying rewrite to keys: failed rewrite operation[" +
                     std::to_string(index) +
                     "]: regexp failed with failed to compile: " + re.error());
  }
  SecretMap out;
  for (auto& [key, value] : in) {
    out.insert_or_assign(replace_all(re, key, rw.target), std::move(value));
  }
  return out;
}

}  // namespace

Result<std::string> regexp_replace_all(std::string_view pattern, std::string_view src,
                                       std::string_view target) {
  const RE2 re(re2::StringPiece(pattern.data(), pattern.size()), go_options());
  if (!re.ok()) {
    return Error(ErrorCode::kInvalidConfig, "error parsing regexp: " + re.error());
  }
  return replace_all(re, src, target);
}

Result<SecretMap> rewrite_keys(SecretMap in, const std::vector<Rewrite>& rewrites) {
  for (size_t i = 0; i < rewrites.size(); ++i) {
    auto out = rewrite_once(std::move(in), rewrites[i], i);
    if (!out) return out;
    in = std::move(out.value());
  }
  return in;
}

Result<SecretMap> validate_keys(SecretMap in) {
  in.erase("");
  for (const auto& [key, value] : in) {
    ESD_RETURN_IF_ERROR(validate_key(key));
  }
  return in;
}

Status check_null_bytes(std::string_view key, const Sensitive& value, NullBytePolicy policy) {
  if (policy != NullBytePolicy::kFail || value.view().find('\0') == std::string_view::npos) {
    return ok_status();
  }
  return Error(ErrorCode::kInvalidRef,
               "fetched secret value for key \"" + std::string(key) +
                   "\" contains null bytes; use a text-safe format such as PEM/base64 or leave "
                   "nullBytePolicy unset for intentional binary data");
}

Status check_null_bytes(const SecretMap& values, NullBytePolicy policy) {
  for (const auto& [key, value] : values) {
    ESD_RETURN_IF_ERROR(check_null_bytes(key, value, policy));
  }
  return ok_status();
}

Result<SecretMap> json_to_map(const Sensitive& json_text) {
  return providers::json_to_secret_map(json_text.view());
}

Result<Sensitive> shape_data_value(Sensitive value, const DataItem& item) {
  auto decoded = decode_value(value, item.decoding);
  if (!decoded) return decoded;
  ESD_RETURN_IF_ERROR(check_null_bytes(item.secret_key, decoded.value(), item.null_bytes));
  return decoded;
}

Result<SecretMap> shape_data_from(SecretMap in, const DataFromItem& item) {
  auto keyed = item.rewrites.empty() ? convert_keys(std::move(in), item.conversion)
                                     : rewrite_keys(std::move(in), item.rewrites);
  if (!keyed) return keyed;
  auto valid = validate_keys(std::move(keyed.value()));
  if (!valid) return valid;
  auto decoded = decode_map(std::move(valid.value()), item.decoding);
  if (!decoded) return decoded;
  ESD_RETURN_IF_ERROR(check_null_bytes(decoded.value(), item.null_bytes));
  return decoded;
}

}  // namespace esd::controller
