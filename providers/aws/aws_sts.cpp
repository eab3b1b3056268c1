// STS AssumeRole / AssumeRoleWithWebIdentity (aws_sts.h): form bodies, SigV4 for AssumeRole,
// the few XML elements we read, and error classification.
#include "providers/aws/aws_sts.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <utility>

#include "providers/aws/aws_endpoints.h"

namespace esd::providers::aws {
namespace {

constexpr std::string_view kVersion = "2011-06-15";
constexpr std::string_view kFormType = "application/x-www-form-urlencoded; charset=utf-8";
constexpr size_t kMaxMessage = 300;

// Appends "&name=value" (value escaped) without leaving unwiped copies of it behind.
void add_param(std::string& body, std::string_view name, std::string_view value) {
  body.push_back('&');
  body.append(name);
  body.push_back('=');
  std::string escaped = form_escape(value);
  body.append(escaped);
  OPENSSL_cleanse(escaped.data(), escaped.size());
}

std::string action_head(std::string_view action) {
  std::string body;
  body.reserve(1024);  // no reallocation (and stale copies) for ordinary bodies
  body.append("Action=").append(action).append("&Version=").append(kVersion);
  return body;
}

// The path of an endpoint URL ("" when it has none): requests go to <endpoint>/, and SigV4
// signs the path that is really sent.
std::string path_of(const std::string& endpoint) {
  const size_t scheme = endpoint.find("://");
  if (scheme == std::string::npos) return "";
  const size_t slash = endpoint.find('/', scheme + 3);
  if (slash == std::string::npos) return "";
  return endpoint.substr(slash, endpoint.find_first_of("?#", slash) - slash);
}

// The content of the first <name ...>...</name> in `xml`.
std::optional<std::string_view> element(std::string_view xml, std::string_view name) {
  size_t pos = 0;
  while ((pos = xml.find(name, pos)) != std::string_view::npos) {
    const size_t after = pos + name.size();
    if (pos == 0 || xml[pos - 1] != '<' || after >= xml.size()) {
      pos = after;
      continue;
    }
    if (xml[after] == '/' && after + 1 < xml.size() && xml[after + 1] == '>')
      return xml.substr(0, 0);
    if (xml[after] != '>' && xml[after] != ' ') {
      pos = after;
      continue;
    }
    const size_t open_end = xml.find('>', after);
    if (open_end == std::string_view::npos) return std::nullopt;
    const std::string close = "</" + std::string(name) + ">";
    const size_t end = xml.find(close, open_end + 1);
    if (end == std::string_view::npos) return std::nullopt;
    return xml.substr(open_end + 1, end - open_end - 1);
  }
  return std::nullopt;
}

void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x110000) {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// The text an entity name ("amp", "#65", "#x41") stands for; nullopt when it is not one.
std::optional<std::string> entity(std::string_view name) {
  static constexpr std::pair<std::string_view, char> kNamed[] = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
  for (const auto& [n, c] : kNamed) {
    if (name == n) {
      return std::string(1, c);
    }
  }
  if (name.size() < 2 || name[0] != '#') {
    return std::nullopt;
  }
  const bool hex = name[1] == 'x' || name[1] == 'X';
  const std::string digits(name.substr(hex ? 2 : 1));
  char* end = nullptr;
  const unsigned long cp = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
  if (digits.empty() || end == nullptr || *end != '\0') {
    return std::nullopt;
  }
  std::string out;
  append_utf8(out, cp);
  return out;
}

// Decodes the XML character references: the five named ones and &#N; / &#xH;.
std::string xml_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const size_t semi = s[i] == '&' ? s.find(';', i) : std::string_view::npos;
    std::optional<std::string> decoded;
    if (semi != std::string_view::npos && semi - i <= 10) {
      decoded = entity(s.substr(i + 1, semi - i - 1));
    }
    if (!decoded) {
      out.push_back(s[i]);
      continue;
    }
    out.append(*decoded);
    i = semi;
  }
  return out;
}

std::string trim(std::string s) {
  const auto not_space = [](unsigned char c) { return std::isspace(c) == 0; };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

bool is_any(std::string_view code, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), code) != list.end();
}

}  // namespace

std::string scrub_message(std::string msg, const std::vector<std::string_view>& secrets) {
  for (std::string_view secret : secrets) {
    if (secret.size() < 4) continue;
    for (size_t p = msg.find(secret); p != std::string::npos; p = msg.find(secret, p)) {
      msg.replace(p, secret.size(), "[redacted]");
    }
  }
  std::replace_if(
      msg.begin(), msg.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  if (msg.size() > kMaxMessage) msg = msg.substr(0, kMaxMessage) + "...";
  return msg;
}

std::string form_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0F]);
    }
  }
  return out;
}

Sensitive assume_role_form(const AssumeRoleInput& in) {
  std::string body = action_head("AssumeRole");
  add_param(body, "RoleArn", in.role_arn);
  add_param(body, "RoleSessionName", in.session_name);
  if (!in.external_id.empty()) add_param(body, "ExternalId", in.external_id);
  if (in.duration_s > 0) add_param(body, "DurationSeconds", std::to_string(in.duration_s));
  for (size_t i = 0; i < in.tags.size(); ++i) {
    const std::string member = "Tags.member." + std::to_string(i + 1);
    add_param(body, member + ".Key", in.tags[i].first);
    add_param(body, member + ".Value", in.tags[i].second);
  }
  for (size_t i = 0; i < in.transitive_tag_keys.size(); ++i) {
    add_param(body, "TransitiveTagKeys.member." + std::to_string(i + 1), in.transitive_tag_keys[i]);
  }
  return Sensitive(std::move(body));
}

Sensitive web_identity_form(const std::string& role_arn, const std::string& session_name,
                            const Sensitive& web_identity_token) {
  std::string body = action_head("AssumeRoleWithWebIdentity");
  body.reserve(web_identity_token.size() * 3 + 512);
  add_param(body, "RoleArn", role_arn);
  add_param(body, "RoleSessionName", session_name);
  add_param(body, "WebIdentityToken", web_identity_token.view());
  return Sensitive(std::move(body));
}

Result<TimedCredentials> parse_sts_credentials(std::string_view xml) {
  const Error malformed(ErrorCode::kTransient, "STS reply without credentials");
  auto block = element(xml, "Credentials");
  if (!block) return malformed;
  auto akid = element(*block, "AccessKeyId");
  auto secret = element(*block, "SecretAccessKey");
  auto token = element(*block, "SessionToken");
  auto expiration = element(*block, "Expiration");
  if (!akid || !secret || !token || !expiration) return malformed;
  const int64_t expires = parse_rfc3339(trim(xml_text(*expiration)));
  if (expires < 0) return Error(ErrorCode::kTransient, "STS reply with a malformed Expiration");
  auto creds = std::make_shared<Credentials>();
  creds->access_key_id = trim(xml_text(*akid));
  creds->secret_access_key = Sensitive(xml_text(*secret));
  creds->session_token = Sensitive(xml_text(*token));
  if (creds->access_key_id.empty() || creds->secret_access_key.empty()) return malformed;
  return TimedCredentials{std::move(creds), expires};
}

ErrorCode classify_sts_error(std::string_view code, long http_status) {
  if (code == "AccessDenied" || code == "RegionDisabledException") return ErrorCode::kPermission;
  if (is_any(code, {"InvalidIdentityToken", "ExpiredTokenException", "ExpiredToken",
                    "InvalidClientTokenId", "SignatureDoesNotMatch", "IDPRejectedClaim",
                    "MissingAuthenticationToken", "IncompleteSignature",
                    "UnrecognizedClientException", "InvalidSignatureException"})) {
    return ErrorCode::kAuth;
  }
  if (is_any(code, {"Throttling", "ThrottlingException", "RequestLimitExceeded",
                    "TooManyRequestsException"})) {
    return ErrorCode::kRateLimited;
  }
  if (is_any(code, {"ValidationError", "MalformedPolicyDocument", "PackedPolicyTooLarge",
                    "InvalidParameterValue", "InvalidAction"})) {
    return ErrorCode::kInvalidConfig;
  }
  if (is_any(code, {"IDPCommunicationError", "InternalFailure", "ServiceUnavailable",
                    "RequestTimeout", "RequestExpired"})) {
    return ErrorCode::kTransient;
  }
  if (http_status >= 500) return ErrorCode::kTransient;
  if (http_status == 429) return ErrorCode::kRateLimited;
  if (http_status == 401 || http_status == 403) return ErrorCode::kAuth;
  return ErrorCode::kInvalidConfig;
}

Error sts_error(std::string_view action, const std::string& role_arn, long http_status,
                std::string_view body, const std::vector<std::string_view>& secrets) {
  std::string code;
  std::string message;
  if (auto err = element(body, "Error")) {
    if (auto c = element(*err, "Code")) code = trim(xml_text(*c));
    if (auto m = element(*err, "Message")) message = trim(xml_text(*m));
  }
  std::string text = "sts " + std::string(action) + " " + role_arn + ": ";
  if (code.empty()) {
    text += "HTTP " + std::to_string(http_status);
  } else {
    text += scrub_message(code, secrets);
    if (!message.empty()) text += ": " + scrub_message(message, secrets);
  }
  return Error(classify_sts_error(code, http_status), text, static_cast<int>(http_status));
}

StsClient::StsClient(std::shared_ptr<AwsTransfers> transfers, const Clock* clock,
                     CountCall count_call, std::string endpoint, std::string region)
    : transfers_(std::move(transfers)),
      clock_(clock),
      count_call_(std::move(count_call)),
      endpoint_(std::move(endpoint)),
      region_(std::move(region)) {}

HttpRequest StsClient::base_request(Sensitive body) const {
  HttpRequest req;
  req.method = "POST";
  req.url = endpoint_ + "/";
  req.body = std::move(body);
  req.timeout_ms = timeout_ms;
  req.connect_timeout_ms = connect_timeout_ms;
  req.max_response_bytes = 256 << 10;
  req.headers = {{"Host", host_of(endpoint_)},
                 {"Content-Type", std::string(kFormType)},
                 {"Accept", "text/xml"}};
  return req;
}

Result<HttpRequest> StsClient::build_assume_role(const Credentials& base,
                                                 const AssumeRoleInput& in) const {
  HttpRequest req = base_request(assume_role_form(in));
  SigV4Request sreq{"POST", path_of(endpoint_) + "/", "", req.headers, req.body.view()};
  const int64_t now_ms = clock_ != nullptr ? clock_->now_ms() : SystemClock().now_ms();
  SigningParams params;
  params.region = region_;
  params.service = "sts";
  params.amz_date = amz_date_from_unix(now_ms / 1000);
  auto signed_headers = sign(sreq, base, params);
  if (!signed_headers) {
    Error e = std::move(signed_headers).error();
    e.message = "sts AssumeRole " + in.role_arn + ": " + e.message;
    return e;
  }
  req.headers = std::move(sreq.headers);
  return req;
}

HttpRequest StsClient::build_web_identity(const std::string& role_arn,
                                          const std::string& session_name,
                                          const Sensitive& token) const {
  return base_request(web_identity_form(role_arn, session_name, token));
}

void StsClient::assume_role(const Credentials& base, const AssumeRoleInput& in, TimedDone done) {
  auto req = build_assume_role(base, in);
  if (!req) {
    // Not sent, so not counted; delivered through the transfers' loop like any reply.
    return done(std::move(req).error());
  }
  std::vector<Sensitive> secrets;
  secrets.push_back(base.secret_access_key.clone());
  secrets.push_back(base.session_token.clone());
  send(std::move(*req), "AssumeRole", in.role_arn, std::move(secrets), std::move(done));
}

void StsClient::assume_role_with_web_identity(const std::string& role_arn,
                                              const std::string& session_name, Sensitive token,
                                              TimedDone done) {
  HttpRequest req = build_web_identity(role_arn, session_name, token);
  std::vector<Sensitive> secrets;
  secrets.push_back(std::move(token));
  send(std::move(req), "AssumeRoleWithWebIdentity", role_arn, std::move(secrets), std::move(done));
}

void StsClient::send(HttpRequest req, std::string_view action, const std::string& role_arn,
                     std::vector<Sensitive> secrets, TimedDone done) {
  auto on_reply = [count = count_call_, action = std::string(action), role_arn,
                   secrets = std::make_shared<std::vector<Sensitive>>(std::move(secrets)),
                   done = std::move(done)](Result<HttpResponse> r) {
    const bool ok = r && r->status >= 200 && r->status < 300;
    if (count) count(kStsMetricProvider, action, ok);
    if (!r) {
      Error e = std::move(r).error();
      e.message = "sts " + action + " " + role_arn + ": " + e.message;
      return done(std::move(e));
    }
    if (!ok) {
      std::vector<std::string_view> views;
      for (const Sensitive& s : *secrets) views.push_back(s.view());
      return done(sts_error(action, role_arn, r->status, r->body.view(), views));
    }
    auto creds = parse_sts_credentials(r->body.view());
    if (!creds) {
      Error e = std::move(creds).error();
      e.message = "sts " + action + " " + role_arn + ": " + e.message;
      return done(std::move(e));
    }
    done(std::move(creds));
  };
  transfers_->start(std::move(req), std::move(on_reply));
}

}  // namespace esd::providers::aws
