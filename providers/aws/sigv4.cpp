#include "providers/aws/sigv4.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <map>

#include "daemon/common/crypto.h"

namespace esd::providers::aws {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kDateHeader = "x-amz-date";
constexpr std::string_view kTokenHeader = "x-amz-security-token";
constexpr std::string_view kContentShaHeader = "x-amz-content-sha256";
constexpr std::string_view kAuthorizationHeader = "authorization";

// Headers never signed: Authorization itself, and ones that proxies and HTTP stacks add or
// rewrite on the way.
constexpr std::array<std::string_view, 6> kUnsignedHeaders = {
    "authorization", "connection", "expect", "transfer-encoding", "user-agent", "x-amzn-trace-id",
};

bool is_unreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~';
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_pct_triplet(std::string_view s, size_t i) {
  return i + 2 < s.size() && s[i] == '%' && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0;
}

void append_pct(std::string& out, unsigned char c) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  out.push_back('%');
  out.push_back(kDigits[c >> 4]);
  out.push_back(kDigits[c & 0x0f]);
}

// RFC 3986 encoding as SigV4 wants it: unreserved kept, everything else %XX (uppercase).
// keep_slash for paths; keep_pct keeps valid %XX triplets as they are (single encoding).
std::string uri_encode(std::string_view s, bool keep_slash, bool keep_pct) {
  std::string out;
  out.reserve(s.size() * 3);
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else if (keep_pct && is_pct_triplet(s, i)) {
      out.append(s.substr(i, 3));
      i += 2;
    } else {
      append_pct(out, c);
    }
  }
  return out;
}

// Decodes %XX triplets; a '%' that does not start a valid triplet stays literal.
std::string uri_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (is_pct_triplet(s, i)) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// RFC 3986 5.2.4 dot-segment removal plus collapsing of empty segments ("//"). A trailing '/'
// (or a final "." / "..") keeps the result ending in '/'.
std::string normalize_path(std::string_view path) {
  std::vector<std::string_view> segments;
  bool trailing = false;
  size_t pos = 0;
  while (pos <= path.size()) {
    const size_t next = std::min(path.find('/', pos), path.size());
    const std::string_view seg = path.substr(pos, next - pos);
    const bool last = next == path.size();
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    if (last) trailing = seg.empty() || seg == "." || seg == "..";
    pos = next + 1;
  }
  std::string out = "/";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(segments[i]);
  }
  if (trailing && !segments.empty()) out.push_back('/');
  return out;
}

std::string canonical_uri(std::string_view path, const SigningParams& params) {
  const std::string p = params.normalize_path ? normalize_path(path) : std::string(path);
  return uri_encode(p, /*keep_slash=*/true, /*keep_pct=*/!params.double_uri_encode);
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t pos = 0;
  while (pos < query.size()) {
    const size_t amp = std::min(query.find('&', pos), query.size());
    const std::string_view item = query.substr(pos, amp - pos);
    pos = amp + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    pairs.emplace_back(uri_encode(uri_decode(key), false, false),
                       uri_encode(uri_decode(value), false, false));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [k, v] : pairs) {
    if (!out.empty()) out.push_back('&');
    out.append(k).append("=").append(v);
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims and collapses every run of whitespace (folded continuation lines included) to one space.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool pending_space = false;
  for (char c : v) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

bool is_unsigned_header(std::string_view lower_name) {
  return std::find(kUnsignedHeaders.begin(), kUnsignedHeaders.end(), lower_name) !=
         kUnsignedHeaders.end();
}

// Lower-cased name -> values joined with ',' in sending order; std::map keeps names sorted.
std::map<std::string, std::string> signed_header_map(const HeaderList& headers) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : headers) {
    std::string key = lower(canonical_value(name));
    if (is_unsigned_header(key)) continue;
    auto [it, inserted] = out.try_emplace(std::move(key), canonical_value(value));
    if (!inserted) it->second.append(",").append(canonical_value(value));
  }
  return out;
}

const std::string* find_header(const HeaderList& headers, std::string_view lower_name) {
  for (const auto& [name, value] : headers) {
    if (lower(name) == lower_name) return &value;
  }
  return nullptr;
}

bool valid_amz_date(std::string_view d) {
  if (d.size() != 16 || d[8] != 'T' || d[15] != 'Z') return false;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && std::isdigit(static_cast<unsigned char>(d[i])) == 0) return false;
  }
  return true;
}

Status check_inputs(const SigV4Request& req, const Credentials& creds,
                    const SigningParams& params) {
  if (creds.access_key_id.empty() || creds.secret_access_key.empty()) {
    return Error(ErrorCode::kAuth, "sigv4: missing access key id or secret access key");
  }
  if (req.method.empty() || req.path.empty() || req.path.front() != '/') {
    return Error(ErrorCode::kInternal, "sigv4: request needs a method and an absolute path");
  }
  if (params.region.empty() || params.service.empty() || !valid_amz_date(params.amz_date)) {
    return Error(ErrorCode::kInternal, "sigv4: region, service and amz_date are required");
  }
  if (find_header(req.headers, "host") == nullptr) {
    return Error(ErrorCode::kInternal, "sigv4: request has no Host header");
  }
  return ok_status();
}

void remove_signing_headers(HeaderList& headers) {
  std::erase_if(headers, [](const auto& h) {
    const std::string n = lower(h.first);
    return n == kAuthorizationHeader || n == kDateHeader || n == kTokenHeader ||
           n == kContentShaHeader;
  });
}

}  // namespace

std::string amz_date_from_unix(int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buf, n);
}

std::string credential_scope(const SigningParams& params) {
  return params.amz_date.substr(0, 8) + "/" + params.region + "/" + params.service + "/" +
         std::string(kTerminator);
}

std::string canonical_request(const SigV4Request& req, const SigningParams& params,
                              std::string* signed_headers_out) {
  const auto headers = signed_header_map(req.headers);
  std::string canonical_headers;
  std::string signed_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers.append(name).append(":").append(value).append("\n");
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers.append(name);
  }
  const auto sha = headers.find(std::string(kContentShaHeader));
  const std::string payload_hash = sha != headers.end() ? sha->second : sha256_hex(req.body);

  std::string out = req.method;
  out.append("\n").append(canonical_uri(req.path, params));
  out.append("\n").append(canonical_query(req.query));
  out.append("\n").append(canonical_headers);
  out.append("\n").append(signed_headers);
  out.append("\n").append(payload_hash);
  if (signed_headers_out != nullptr) *signed_headers_out = std::move(signed_headers);
  return out;
}

std::string string_to_sign(const std::string& canonical_request, const SigningParams& params) {
  std::string out(kAlgorithm);
  out.append("\n").append(params.amz_date);
  out.append("\n").append(credential_scope(params));
  out.append("\n").append(sha256_hex(canonical_request));
  return out;
}

std::string signature(const Sensitive& secret_key, const std::string& string_to_sign,
                      const SigningParams& params) {
  Sensitive seed(std::string("AWS4").append(secret_key.view()));
  const Sensitive k_date(hmac_sha256(seed.view(), params.amz_date.substr(0, 8)));
  const Sensitive k_region(hmac_sha256(k_date.view(), params.region));
  const Sensitive k_service(hmac_sha256(k_region.view(), params.service));
  const Sensitive k_signing(hmac_sha256(k_service.view(), kTerminator));
  return hmac_sha256_hex(k_signing.view(), string_to_sign);
}

std::string authorization_header(const std::string& access_key_id,
                                 const std::string& signed_headers, const std::string& signature,
                                 const SigningParams& params) {
  std::string out(kAlgorithm);
  out.append(" Credential=").append(access_key_id).append("/").append(credential_scope(params));
  out.append(", SignedHeaders=").append(signed_headers);
  out.append(", Signature=").append(signature);
  return out;
}

Result<HeaderList> sign(SigV4Request& req, const Credentials& creds, const SigningParams& params) {
  ESD_RETURN_IF_ERROR(check_inputs(req, creds, params));
  remove_signing_headers(req.headers);
  HeaderList added;
  added.emplace_back("X-Amz-Date", params.amz_date);
  if (!creds.session_token.empty()) {
    added.emplace_back("X-Amz-Security-Token", std::string(creds.session_token.view()));
  }
  if (params.sign_body_sha_header) {
    added.emplace_back(std::string(kContentShaHeader), sha256_hex(req.body));
  }
  req.headers.insert(req.headers.end(), added.begin(), added.end());

  std::string signed_headers;
  const std::string creq = canonical_request(req, params, &signed_headers);
  const std::string sig = signature(creds.secret_access_key, string_to_sign(creq, params), params);
  added.emplace_back("Authorization",
                     authorization_header(creds.access_key_id, signed_headers, sig, params));
  req.headers.push_back(added.back());
  return added;
}

}  // namespace esd::providers::aws
