// spec.provider.vault parsed into a plain struct (ESO's VaultProvider, eso-api.md §3.4). Parsing is
// pure and synchronous: it validates the shape and fills defaults; it never reads Secrets. The
// result is owned by the VaultClient and never changes (a store change means a new client).
// Messages name fields, never values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/common/result.h"

namespace esd::providers::vault {

enum class KvVersion { kV1, kV2 };

// ESO's SecretKeySelector: name, key, optional namespace ("" = resolved by the controller).
struct SecretSel {
  std::string name;
  std::string key;
  std::string ns;
  bool set() const { return !name.empty(); }
};

// ESO's ServiceAccountSelector.
struct SaSel {
  std::string name;
  std::string ns;
  std::vector<std::string> audiences;
};

// In ESO's order of precedence (auth.go): the first configured method wins.
enum class AuthMethod { kNone, kToken, kAppRole, kKubernetes, kLdap, kUserPass, kJwt, kCert };

// Where a kubernetes/jwt login gets its JWT.
enum class JwtSource { kSecret, kServiceAccount, kOwnToken };

struct AuthSpec {
  AuthMethod method = AuthMethod::kNone;
  std::string ns;  // auth.namespace (login requests); empty = the provider namespace
  bool has_ns = false;
  std::string mount;       // auth/<mount>/login
  std::string role;        // kubernetes/jwt role, cert vaultRole
  std::string role_id;     // appRole.roleId
  SecretSel role_ref;      // appRole.roleRef
  std::string username;    // userPass / ldap
  SecretSel secret;        // token, secret id, JWT, password, cert key
  SecretSel client_cert;   // cert.clientCert
  JwtSource jwt_source = JwtSource::kSecret;
  SaSel sa;                // serviceAccountRef (audiences already merged)
  int64_t sa_expiration_s = 600;
};

struct CaProvider {
  bool secret = true;  // type Secret (true) or ConfigMap
  std::string name;
  std::string key;
  std::string ns;
};

struct RetrySettings {
  int max_retries = 2;        // the Vault Go client's default
  int64_t interval_ms = -1;   // -1: backoff 1 s .. 1.5 s like the Vault client; else fixed
};

struct VaultSpec {
  std::string server;  // no trailing '/'
  std::string mount;   // spec `path`, no surrounding '/'
  bool has_mount = false;
  KvVersion version = KvVersion::kV2;
  std::string ns;      // X-Vault-Namespace
  std::string ca_pem;  // decoded caBundle
  bool has_ca_provider = false;
  CaProvider ca_provider;
  SecretSel tls_cert;  // tls.certSecretRef (default key tls.crt)
  SecretSel tls_key;   // tls.keySecretRef (default key tls.key)
  std::vector<std::pair<std::string, std::string>> headers;
  bool read_your_writes = false;
  bool forward_inconsistent = false;
  RetrySettings retry;
  AuthSpec auth;
};

// Validates and parses spec.provider.vault. kInvalidConfig with a field path on any error.
// Also reads `retrySettings` (maxRetries, retryInterval) from the same object when present: the
// controller may copy the store's spec.retrySettings there.
Result<VaultSpec> parse_vault_spec(const nlohmann::json& spec);

// Go's time.ParseDuration for non-negative values ("1s", "1m30s", "250ms", "1.5h"); in ms.
Result<int64_t> parse_duration_ms(std::string_view text);

}  // namespace esd::providers::vault
