// spec.provider.aws parsed into a plain struct (ESO's AWSProvider, eso-api.md §3.1). Parsing is
// pure and synchronous: it validates the shape and fills defaults; it never reads Secrets or the
// environment. Owned by the store client and never changed (a store change means a new client).
// Messages name fields, never values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/common/result.h"

namespace esd::providers::aws {

enum class AwsService { kSecretsManager, kParameterStore };

// ESO's SecretKeySelector: name, key, optional namespace ("" = resolved by the controller).
struct KeySel {
  std::string name;
  std::string key;
  std::string ns;
  bool set() const { return !name.empty(); }
};

// Where the first credentials come from, in ESO's order (the first configured wins).
enum class AuthKind {
  kServiceAccount,  // auth.jwt.serviceAccountRef: IRSA (TokenRequest + AssumeRoleWithWebIdentity)
  kSecretRef,       // auth.secretRef: static keys (optional session token)
  kDefaultChain,    // nothing set: environment, web identity file, Pod Identity, IMDSv2
};

struct AuthSpec {
  AuthKind kind = AuthKind::kDefaultChain;
  // kServiceAccount (ESO's ServiceAccountSelector)
  std::string sa_name;
  std::string sa_ns;
  std::vector<std::string> sa_audiences;  // appended to the SA's eks.amazonaws.com/audience
  // kSecretRef
  KeySel access_key_id;
  KeySel secret_access_key;
  KeySel session_token;  // optional
};

enum class SessionTagsPolicy { kNone, kSimple, kCustom };

struct AwsSpec {
  AwsService service = AwsService::kSecretsManager;
  std::string region;                        // required
  std::string role;                          // AssumeRole after additionalRoles; "" = none
  std::vector<std::string> additional_roles; // assumed in order, before `role`
  std::string external_id;                   // for `role`
  std::vector<std::pair<std::string, std::string>> session_tags;  // for `role`
  std::vector<std::string> transitive_tag_keys;                    // for `role`
  SessionTagsPolicy session_tags_policy = SessionTagsPolicy::kNone;
  std::map<std::string, std::string> custom_session_tags;
  std::string prefix;  // prepended to every remote key
  int max_retries = -1;          // retrySettings.maxRetries; -1 = SDK standard (3 attempts)
  int64_t retry_interval_ms = -1;  // retrySettings.retryInterval; -1 = exponential with jitter
  AuthSpec auth;
};

// Validates and parses spec.provider.aws. kInvalidConfig with a field path on any error
// (missing service/region, unknown service, a role that is not an ARN, ...). Also reads
// `retrySettings` from the same object when present (the controller copies the store's
// spec.retrySettings there, as for Vault).
Result<AwsSpec> parse_aws_spec(const nlohmann::json& spec);

}  // namespace esd::providers::aws
