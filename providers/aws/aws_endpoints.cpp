// Endpoint resolution for the AWS provider (rules in aws_endpoints.h): region endpoints, the
// SDKs' AWS_ENDPOINT_URL* overrides and ESO's own variables. Pure string work, no I/O.
#include "providers/aws/aws_endpoints.h"

#include <algorithm>
#include <cctype>

namespace esd::providers::aws {
namespace {

struct ServiceVars {
  const char* sdk_var;  // AWS_ENDPOINT_URL_<SERVICE>
  const char* eso_var;  // ESO's AWS_<SERVICE>_ENDPOINT
  const char* prefix;   // host prefix of the regional endpoint
};

constexpr ServiceVars kSecretsManager{"AWS_ENDPOINT_URL_SECRETS_MANAGER",
                                      "AWS_SECRETSMANAGER_ENDPOINT", "secretsmanager"};
constexpr ServiceVars kSsm{"AWS_ENDPOINT_URL_SSM", "AWS_SSM_ENDPOINT", "ssm"};
constexpr ServiceVars kSts{"AWS_ENDPOINT_URL_STS", "AWS_STS_ENDPOINT", "sts"};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool valid_region(const std::string& region) {
  if (region.empty() || region.size() > 64) return false;
  return std::all_of(region.begin(), region.end(), [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::string strip_trailing_slashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// "scheme://" length when the URL is http(s) with a non-empty host, else 0.
size_t authority_start(const std::string& url) {
  const std::string l = lower(url.substr(0, 8));
  size_t start = 0;
  if (l.rfind("https://", 0) == 0) {
    start = 8;
  } else if (l.rfind("http://", 0) == 0) {
    start = 7;
  }
  if (start == 0 || start >= url.size()) return 0;
  const char first = url[start];
  return first == '/' || first == '?' || first == '#' ? 0 : start;
}

Result<std::string> override_url(const std::string& var, const std::string& value) {
  std::string url = strip_trailing_slashes(value);
  if (authority_start(url) == 0) {
    return Error(ErrorCode::kInvalidConfig, var + " is not an http(s) URL");
  }
  return url;
}

Result<std::string> resolve_one(const ServiceVars& s, const std::string& region,
                                const EnvLookup& env) {
  const bool ignore_sdk = lower(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) == "true";
  if (!ignore_sdk) {
    if (std::string v = env(s.sdk_var); !v.empty()) return override_url(s.sdk_var, v);
  }
  if (std::string v = env(s.eso_var); !v.empty()) return override_url(s.eso_var, v);
  if (!ignore_sdk) {
    if (std::string v = env("AWS_ENDPOINT_URL"); !v.empty()) {
      return override_url("AWS_ENDPOINT_URL", v);
    }
  }
  const std::string suffix = region.rfind("cn-", 0) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
  return "https://" + std::string(s.prefix) + "." + region + "." + suffix;
}

}  // namespace

Result<Endpoints> resolve_endpoints(const std::string& region, const EnvLookup& env) {
  if (!valid_region(region)) {
    return Error(ErrorCode::kInvalidConfig,
                 "invalid AWS region \"" + region + "\": must match [a-z0-9-]+");
  }
  const EnvLookup lookup = env ? env : EnvLookup([](const std::string&) { return std::string(); });
  auto sm = resolve_one(kSecretsManager, region, lookup);
  if (!sm) return std::move(sm).error();
  auto ssm = resolve_one(kSsm, region, lookup);
  if (!ssm) return std::move(ssm).error();
  auto sts = resolve_one(kSts, region, lookup);
  if (!sts) return std::move(sts).error();
  return Endpoints{std::move(*sm), std::move(*ssm), std::move(*sts)};
}

std::string host_of(const std::string& url) {
  const size_t start = authority_start(url);
  if (start == 0) return {};
  const bool https = lower(url.substr(0, 5)) == "https";
  size_t end = url.find_first_of("/?#", start);
  std::string authority =
      url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (const size_t at = authority.rfind('@'); at != std::string::npos) {
    authority.erase(0, at + 1);
  }
  // The default port is not part of the Host header curl (and every SDK) sends.
  const std::string default_port = https ? ":443" : ":80";
  const size_t close_bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  const bool has_port =
      colon != std::string::npos && (close_bracket == std::string::npos || colon > close_bracket);
  if (has_port && authority.substr(colon) == default_port) authority.erase(colon);
  return authority;
}

}  // namespace esd::providers::aws
