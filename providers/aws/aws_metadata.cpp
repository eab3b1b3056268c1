// Container credentials and IMDSv2 (aws_metadata.h): URL rules, token files, the JSON reply
// and the three IMDSv2 steps.
#include "providers/aws/aws_metadata.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "providers/aws/aws_endpoints.h"

namespace esd::providers::aws {
namespace {

using nlohmann::json;

constexpr size_t kMaxTokenFile = 64 << 10;
constexpr std::string_view kImdsTokenPath = "/latest/api/token";
constexpr std::string_view kImdsRolesPath = "/latest/meta-data/iam/security-credentials/";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The bare host of a URL: no port, no IPv6 brackets, lower-case.
std::string bare_host(const std::string& url) {
  std::string host = host_of(url);
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return lower(host.substr(1, close == std::string::npos ? std::string::npos : close - 1));
  }
  return lower(host.substr(0, host.find(':')));
}

bool same_ipv6(const std::string& a, const char* b) {
  unsigned char x[16], y[16];
  return inet_pton(AF_INET6, a.c_str(), x) == 1 && inet_pton(AF_INET6, b, y) == 1 &&
         std::memcmp(x, y, sizeof(x)) == 0;
}

bool container_host_allowed(const std::string& url) {
  if (is_loopback_url(url)) return true;
  const std::string host = bare_host(url);
  return host == "169.254.170.2" || host == "169.254.170.23" || same_ipv6(host, "fd00:ec2::23");
}

// Wipes every string value of a parsed reply (they hold keys and tokens).
void wipe_strings(json& j) {
  if (j.is_string()) {
    auto& s = j.get_ref<std::string&>();
    OPENSSL_cleanse(s.data(), s.size());
  } else if (j.is_object() || j.is_array()) {
    for (auto& v : j) wipe_strings(v);
  }
}

std::string string_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool has_crlf(std::string_view s) {
  return s.find('\r') != std::string_view::npos || s.find('\n') != std::string_view::npos;
}

// Classification of a metadata endpoint's non-200 status.
ErrorCode status_code(long status) {
  if (status >= 500) return ErrorCode::kTransient;
  if (status == 429) return ErrorCode::kRateLimited;
  if (status == 400 || status == 401 || status == 403) return ErrorCode::kAuth;
  if (status == 404) return ErrorCode::kInvalidConfig;
  return ErrorCode::kTransient;
}

Error container_http_error(const std::string& host, const HttpResponse& r,
                           const Sensitive& authorization) {
  std::string text = "container credentials " + host + ": HTTP " + std::to_string(r.status);
  json body = json::parse(r.body.view(), nullptr, false);
  if (body.is_object()) {
    const std::string code = string_field(body, "code");
    const std::string message = string_field(body, "message");
    const std::vector<std::string_view> secrets{authorization.view()};
    if (!code.empty()) text += ": " + scrub_message(code, secrets);
    if (!message.empty()) text += ": " + scrub_message(message, secrets);
    wipe_strings(body);
  }
  return Error(status_code(r.status), text, static_cast<int>(r.status));
}

HttpRequest metadata_request(std::string method, std::string url, MetadataTimeouts t) {
  HttpRequest req;
  req.method = std::move(method);
  req.url = std::move(url);
  req.connect_timeout_ms = t.connect_ms;
  req.timeout_ms = t.total_ms;
  req.max_response_bytes = 64 << 10;
  req.allow_http_metadata = true;
  return req;
}

}  // namespace

Result<Sensitive> read_token_file(const std::string& path, std::string_view what) {
  const std::string label = std::string(what);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return Error(ErrorCode::kAuth, "cannot read " + label + ": " + std::strerror(errno));
  }
  std::string data(kMaxTokenFile + 1, '\0');
  const size_t n = std::fread(data.data(), 1, data.size(), f);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  Sensitive out(data.substr(0, std::min(n, kMaxTokenFile)));
  OPENSSL_cleanse(data.data(), data.size());
  if (failed) return Error(ErrorCode::kAuth, "cannot read " + label + ": read error");
  if (n > kMaxTokenFile) return Error(ErrorCode::kAuth, label + " is larger than 64 KiB");
  if (out.empty()) return Error(ErrorCode::kAuth, label + " is empty");
  return out;
}

Result<std::optional<std::string>> container_credentials_url(const EnvLookup& env) {
  std::string rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  if (!rel.empty()) {
    if (rel.front() != '/') rel.insert(rel.begin(), '/');
    return std::optional<std::string>("http://169.254.170.2" + rel);
  }
  std::string full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (full.empty()) return std::optional<std::string>();
  const std::string scheme = lower(full.substr(0, full.find("://")));
  if ((scheme != "http" && scheme != "https") || bare_host(full).empty()) {
    return Error(ErrorCode::kInvalidConfig,
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI is not an http(s) URL");
  }
  if (scheme == "http" && !container_host_allowed(full)) {
    return Error(ErrorCode::kInvalidConfig,
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is only allowed to loopback, "
                 "169.254.170.2, 169.254.170.23 and fd00:ec2::23 (host " +
                     bare_host(full) + ")");
  }
  return std::optional<std::string>(std::move(full));
}

Result<Sensitive> container_authorization(const EnvLookup& env) {
  Sensitive value;
  if (const std::string file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); !file.empty()) {
    auto read = read_token_file(file, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (!read) return std::move(read).error();
    value = std::move(*read);
  } else {
    value = Sensitive(env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
  }
  if (has_crlf(value.view())) {
    return Error(ErrorCode::kInvalidConfig,
                 "the container authorization token contains a line break (CR or LF)");
  }
  return value;
}

Result<TimedCredentials> parse_metadata_credentials(std::string_view body,
                                                    std::string_view source) {
  const std::string what(source);
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return Error(ErrorCode::kTransient, what + ": reply is not a JSON object");
  const std::string code = string_field(j, "Code");
  auto creds = std::make_shared<Credentials>();
  creds->access_key_id = string_field(j, "AccessKeyId");
  creds->secret_access_key = Sensitive(string_field(j, "SecretAccessKey"));
  creds->session_token = Sensitive(string_field(j, "Token"));
  const std::string expiration = string_field(j, "Expiration");
  wipe_strings(j);
  if (!code.empty() && code != "Success") {
    return Error(ErrorCode::kAuth, what + ": " + scrub_message(code, {}));
  }
  if (creds->access_key_id.empty() || creds->secret_access_key.empty()) {
    return Error(ErrorCode::kTransient, what + ": reply without AccessKeyId/SecretAccessKey");
  }
  const int64_t expires = parse_rfc3339(expiration);
  if (expires < 0) return Error(ErrorCode::kTransient, what + ": reply without a valid Expiration");
  return TimedCredentials{std::move(creds), expires};
}

void fetch_container_credentials(const std::shared_ptr<AwsTransfers>& transfers,
                                 const std::string& url, Sensitive authorization, TimedDone done,
                                 MetadataTimeouts timeouts) {
  HttpRequest req = metadata_request("GET", url, timeouts);
  req.headers.emplace_back("Accept", "application/json");
  if (!authorization.empty()) {
    req.headers.emplace_back("Authorization", std::string(authorization.view()));
  }
  auto auth = std::make_shared<Sensitive>(std::move(authorization));
  transfers->start(std::move(req), [host = bare_host(url), auth,
                                    done = std::move(done)](Result<HttpResponse> r) {
    if (!r) {
      Error e = std::move(r).error();
      e.message = "container credentials " + host + ": " + e.message;
      return done(std::move(e));
    }
    if (r->status != 200) return done(container_http_error(host, *r, *auth));
    done(parse_metadata_credentials(r->body.view(), "container credentials " + host));
  });
}

std::string imds_endpoint(const EnvLookup& env) {
  std::string endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (endpoint.empty()) {
    endpoint = lower(env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")) == "ipv6"
                   ? "http://[fd00:ec2::254]"
                   : "http://169.254.169.254";
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  return endpoint;
}

namespace {

// One IMDSv2 credential fetch: token, role, credentials.
struct ImdsFetch {
  std::weak_ptr<AwsTransfers> transfers;
  std::string endpoint;
  MetadataTimeouts timeouts;
  TimedDone done;
  Sensitive token;

  std::string label() const { return "IMDSv2 " + bare_host(endpoint); }
  void start(HttpRequest req, HttpClient::Done next) {
    if (auto t = transfers.lock()) t->start(std::move(req), std::move(next));
  }
  HttpRequest get(std::string_view path) const {
    HttpRequest req = metadata_request("GET", endpoint + std::string(path), timeouts);
    req.headers.emplace_back("X-aws-ec2-metadata-token", std::string(token.view()));
    return req;
  }
  Error fail(long status, std::string_view step) const {
    const ErrorCode code = status >= 500 ? ErrorCode::kTransient : ErrorCode::kInvalidConfig;
    return Error(code,
                 label() + ": " + std::string(step) + " (HTTP " + std::to_string(status) + ")",
                 static_cast<int>(status));
  }
};

void imds_credentials(const std::shared_ptr<ImdsFetch>& f, const std::string& role) {
  f->start(f->get(std::string(kImdsRolesPath) + role), [f](Result<HttpResponse> r) {
    if (!r) return f->done(Error(ErrorCode::kTransient, f->label() + ": " + r.error().message));
    if (r->status != 200) return f->done(f->fail(r->status, "no credentials for the role"));
    f->done(parse_metadata_credentials(r->body.view(), f->label()));
  });
}

void imds_role(const std::shared_ptr<ImdsFetch>& f) {
  f->start(f->get(kImdsRolesPath), [f](Result<HttpResponse> r) {
    if (!r) return f->done(Error(ErrorCode::kTransient, f->label() + ": " + r.error().message));
    if (r->status != 200) return f->done(f->fail(r->status, "no IAM role attached"));
    const std::string_view body = r->body.view();
    std::string role(body.substr(0, body.find_first_of("\r\n")));
    while (!role.empty() && std::isspace(static_cast<unsigned char>(role.back()))) role.pop_back();
    const bool bad = role.find_first_of("/?#% \t") != std::string::npos;
    if (role.empty() || bad) {
      return f->done(Error(ErrorCode::kInvalidConfig, f->label() + ": no IAM role attached"));
    }
    imds_credentials(f, role);
  });
}

}  // namespace

void fetch_imds_credentials(const std::shared_ptr<AwsTransfers>& transfers,
                            const std::string& endpoint, TimedDone done,
                            MetadataTimeouts timeouts) {
  auto f = std::make_shared<ImdsFetch>();
  f->transfers = transfers;
  f->endpoint = endpoint;
  f->timeouts = timeouts;
  f->done = std::move(done);
  HttpRequest req = metadata_request("PUT", endpoint + std::string(kImdsTokenPath), timeouts);
  req.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", "21600");
  transfers->start(std::move(req), [f](Result<HttpResponse> r) {
    if (!r) {
      // Nothing answers: not on EC2 (or IMDS blocked). Nothing to get credentials from.
      return f->done(Error(ErrorCode::kInvalidConfig,
                           f->label() + ": not reachable (" + r.error().message + ")"));
    }
    if (r->status != 200 || r->body.empty()) {
      return f->done(f->fail(r->status, "token request refused"));
    }
    f->token = std::move(r->body);
    imds_role(f);
  });
}

}  // namespace esd::providers::aws
