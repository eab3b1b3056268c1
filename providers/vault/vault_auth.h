// Vault login: collecting a method's credentials (referenced Secrets, TokenRequest tokens, the
// daemon's own service-account token), building the login request, parsing `auth` blocks of
// login / renew-self responses. build_login and the parsers are pure; gather_login is
// asynchronous: `done` is called exactly once (possibly from inside the call when a reader
// answers synchronously), and it holds no pointer to the client. Credentials stay in Sensitive.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"
#include "daemon/http/http_client.h"
#include "providers/provider.h"
#include "providers/vault/vault_spec.h"

namespace esd::providers::vault {

// What a login needs besides the spec: the secret (secret id, password, JWT; empty for cert)
// and the AppRole role id.
struct LoginInputs {
  Sensitive secret;
  std::string role_id;
};

struct LoginRequest {
  std::string path;  // relative to /v1/, e.g. auth/approle/login
  Sensitive body;    // JSON, holds credentials
};

// The login request of a method (never kToken / kNone).
LoginRequest build_login(const AuthSpec& auth, const LoginInputs& in);

// A token from a login or renew-self response.
struct TokenGrant {
  Sensitive token;
  int64_t ttl_s = 0;        // auth.lease_duration; 0 = no expiry
  bool renewable = false;
};

// 2xx with an `auth` block carrying client_token → a grant. A login failure (400, 401, 403) is
// kAuth; 429 kRateLimited; 5xx kTransient. `what` prefixes messages ("vault login (approle)").
Result<TokenGrant> parse_auth_response(const HttpResponse& resp, std::string_view what);

// Reads the credentials of the configured method and builds its login request. For kToken the
// request body is the static token itself (path empty). Reader errors are wrapped: a missing
// Secret or key becomes kAuth (never kNotFound, which would drive deletionPolicy).
void gather_login(const AuthSpec& auth, const RefReader& refs, const TokenSource& tokens,
                  std::function<void(Result<LoginRequest>)> done);

// Reads one key of a referenced Secret, with the same error wrapping (`what` names the field).
void read_secret_ref(const RefReader& refs, const SecretSel& sel, const std::string& what,
                     std::function<void(Result<Sensitive>)> done);

// The method's name for logs and metrics labels ("approle", "kubernetes", ...).
std::string_view method_name(AuthMethod m);

}  // namespace esd::providers::vault
