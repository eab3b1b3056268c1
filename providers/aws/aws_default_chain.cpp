// The SDK default credential chain (aws_default_chain.h): source selection, environment keys,
// the web identity token file, and dispatch to container credentials / IMDSv2.
#include "providers/aws/aws_default_chain.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace esd::providers::aws {
namespace {

constexpr std::string_view kTried =
    "no AWS credentials: tried the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), web "
    "identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN), container credentials "
    "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, AWS_CONTAINER_CREDENTIALS_FULL_URI)";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

Error no_credentials(const std::string& why) {
  return Error(ErrorCode::kInvalidConfig, std::string(kTried) + ", " + why);
}

void web_identity(const ChainDeps& deps, TimedDone done) {
  auto token =
      read_token_file(deps.env("AWS_WEB_IDENTITY_TOKEN_FILE"), "AWS_WEB_IDENTITY_TOKEN_FILE");
  if (!token) return done(std::move(token).error());
  std::string session = deps.env("AWS_ROLE_SESSION_NAME");
  if (session.empty()) session = std::string(kSessionName);
  deps.sts->assume_role_with_web_identity(deps.env("AWS_ROLE_ARN"), session, std::move(*token),
                                          std::move(done));
}

void container(const ChainDeps& deps, TimedDone done) {
  auto url = container_credentials_url(deps.env);
  if (!url) return done(std::move(url).error());
  auto authorization = container_authorization(deps.env);
  if (!authorization) return done(std::move(authorization).error());
  fetch_container_credentials(deps.transfers, **url, std::move(*authorization), std::move(done),
                              deps.metadata_timeouts);
}

void imds(const ChainDeps& deps, TimedDone done) {
  fetch_imds_credentials(
      deps.transfers, imds_endpoint(deps.env),
      [done = std::move(done)](Result<TimedCredentials> r) {
        if (!r && r.error().code == ErrorCode::kInvalidConfig) {
          return done(no_credentials(r.error().message));
        }
        done(std::move(r));
      },
      deps.metadata_timeouts);
}

}  // namespace

Result<ChainSource> select_chain_source(const EnvLookup& env) {
  const bool has_key = !env("AWS_ACCESS_KEY_ID").empty();
  const bool has_secret = !env("AWS_SECRET_ACCESS_KEY").empty();
  if (has_key && has_secret) return ChainSource::kEnvironment;
  if (has_key || has_secret) {
    return Error(ErrorCode::kInvalidConfig,
                 has_key ? "AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY"
                         : "AWS_SECRET_ACCESS_KEY is set without AWS_ACCESS_KEY_ID");
  }
  if (!env("AWS_WEB_IDENTITY_TOKEN_FILE").empty() && !env("AWS_ROLE_ARN").empty()) {
    return ChainSource::kWebIdentity;
  }
  if (!env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").empty() ||
      !env("AWS_CONTAINER_CREDENTIALS_FULL_URI").empty()) {
    return ChainSource::kContainer;
  }
  if (lower(env("AWS_EC2_METADATA_DISABLED")) == "true") {
    return no_credentials("IMDS disabled by AWS_EC2_METADATA_DISABLED");
  }
  return ChainSource::kImds;
}

Result<TimedCredentials> environment_credentials(const EnvLookup& env) {
  auto creds = std::make_shared<Credentials>();
  creds->access_key_id = env("AWS_ACCESS_KEY_ID");
  creds->secret_access_key = Sensitive(env("AWS_SECRET_ACCESS_KEY"));
  creds->session_token = Sensitive(env("AWS_SESSION_TOKEN"));
  if (creds->access_key_id.empty() || creds->secret_access_key.empty()) {
    return Error(ErrorCode::kInvalidConfig, "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY not set");
  }
  int64_t expires = -1;
  if (const std::string exp = env("AWS_CREDENTIAL_EXPIRATION"); !exp.empty()) {
    expires = parse_rfc3339(exp);
    if (expires < 0) {
      return Error(ErrorCode::kInvalidConfig, "AWS_CREDENTIAL_EXPIRATION is not an RFC 3339 time");
    }
  }
  return TimedCredentials{std::move(creds), expires};
}

void resolve_default_chain(const ChainDeps& deps, TimedDone done) {
  auto source = select_chain_source(deps.env);
  if (!source) return done(std::move(source).error());
  switch (*source) {
    case ChainSource::kEnvironment:
      return done(environment_credentials(deps.env));
    case ChainSource::kWebIdentity:
      return web_identity(deps, std::move(done));
    case ChainSource::kContainer:
      return container(deps, std::move(done));
    case ChainSource::kImds:
      return imds(deps, std::move(done));
  }
}

}  // namespace esd::providers::aws
