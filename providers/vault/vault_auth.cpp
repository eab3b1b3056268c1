#include "providers/vault/vault_auth.h"

#include <openssl/crypto.h>

#include <memory>
#include <utility>

#include <nlohmann/json.hpp>

#include "providers/vault/vault_kv.h"

namespace esd::providers::vault {
namespace {

using nlohmann::json;

// Serializes a body and wipes the credential copies nlohmann held.
Sensitive seal_body(json& body) {
  Sensitive out(body.dump());
  for (auto& [k, v] : body.items()) {
    if (!v.is_string()) continue;
    auto& s = v.get_ref<std::string&>();
    OPENSSL_cleanse(s.data(), s.size());
  }
  return out;
}

std::string secret_string(const Sensitive& s) { return std::string(s.view()); }

Error wrap_ref_error(const Error& e, const std::string& what) {
  ErrorCode code = e.code;
  if (code == ErrorCode::kNotFound || code == ErrorCode::kInvalidRef) code = ErrorCode::kAuth;
  Error out(code, "cannot read " + what + ": " + e.message, e.native);
  out.retry_after_ms = e.retry_after_ms;
  return out;
}

using Done = std::function<void(Result<LoginRequest>)>;

// Finishes a login whose secret has been read: builds the request from the spec.
void finish(const AuthSpec& auth, std::string role_id, Result<Sensitive> secret, const Done& done) {
  if (!secret) return done(std::move(secret).error());
  LoginInputs in{std::move(*secret), std::move(role_id)};
  if (auth.method == AuthMethod::kToken) {
    return done(LoginRequest{"", std::move(in.secret)});
  }
  done(build_login(auth, in));
}

void gather_jwt(const AuthSpec& auth, const RefReader& refs, const TokenSource& tokens,
                Done done) {
  const std::string label = auth.method == AuthMethod::kJwt ? "auth.jwt" : "auth.kubernetes";
  switch (auth.jwt_source) {
    case JwtSource::kSecret:
      read_secret_ref(refs, auth.secret, label + ".secretRef",
                      [auth, done](Result<Sensitive> s) { finish(auth, "", std::move(s), done); });
      return;
    case JwtSource::kServiceAccount: {
      if (!tokens.request_token) {
        return done(Error(ErrorCode::kInternal, "no TokenRequest source for Vault auth"));
      }
      const std::string sa = auth.sa.name;
      tokens.request_token(auth.sa.ns, auth.sa.name, auth.sa.audiences, auth.sa_expiration_s,
                           [auth, done, sa](Result<Sensitive> t) {
                             if (!t) {
                               return done(wrap_ref_error(
                                   t.error(), "a token for service account \"" + sa + "\""));
                             }
                             finish(auth, "", std::move(t), done);
                           });
      return;
    }
    case JwtSource::kOwnToken: {
      if (!tokens.own_token) {
        return done(Error(ErrorCode::kInternal, "no service-account token source for Vault auth"));
      }
      auto own = tokens.own_token();
      if (!own) return done(wrap_ref_error(own.error(), "the daemon's service-account token"));
      return finish(auth, "", std::move(own), done);
    }
  }
}

void gather_approle(const AuthSpec& auth, const RefReader& refs, Done done) {
  auto with_role = [auth, refs, done](std::string role_id) {
    read_secret_ref(refs, auth.secret, "auth.appRole.secretRef",
                    [auth, done, role_id](Result<Sensitive> s) {
                      finish(auth, role_id, std::move(s), done);
                    });
  };
  if (!auth.role_id.empty()) return with_role(auth.role_id);
  read_secret_ref(refs, auth.role_ref, "auth.appRole.roleRef",
                  [with_role, done](Result<Sensitive> r) {
                    if (!r) return done(std::move(r).error());
                    with_role(secret_string(*r));
                  });
}

}  // namespace

std::string_view method_name(AuthMethod m) {
  switch (m) {
    case AuthMethod::kNone: return "none";
    case AuthMethod::kToken: return "token";
    case AuthMethod::kAppRole: return "approle";
    case AuthMethod::kKubernetes: return "kubernetes";
    case AuthMethod::kLdap: return "ldap";
    case AuthMethod::kUserPass: return "userpass";
    case AuthMethod::kJwt: return "jwt";
    case AuthMethod::kCert: return "cert";
  }
  return "unknown";
}

LoginRequest build_login(const AuthSpec& auth, const LoginInputs& in) {
  const std::string base = "auth/" + escape_path(auth.mount) + "/login";
  json body = json::object();
  std::string path = base;
  switch (auth.method) {
    case AuthMethod::kAppRole:
      body["role_id"] = in.role_id;
      body["secret_id"] = secret_string(in.secret);
      break;
    case AuthMethod::kKubernetes:
    case AuthMethod::kJwt:
      body["role"] = auth.role;
      body["jwt"] = secret_string(in.secret);
      break;
    case AuthMethod::kLdap:
    case AuthMethod::kUserPass:
      path = base + "/" + escape_path(auth.username);
      body["password"] = secret_string(in.secret);
      break;
    case AuthMethod::kCert:
      if (!auth.role.empty()) body["name"] = auth.role;
      break;
    default:
      break;
  }
  return LoginRequest{path, seal_body(body)};
}

Result<TokenGrant> parse_auth_response(const HttpResponse& resp, std::string_view what) {
  const long st = resp.status;
  if (st < 200 || st >= 300) {
    Error e = classify_status(resp, what);
    if (st == 400 || st == 401 || st == 403) e.code = ErrorCode::kAuth;
    return e;
  }
  const json doc = json::parse(resp.body.view(), nullptr, false);
  const Error bad(ErrorCode::kAuth, std::string(what) + ": response has no auth token", st);
  if (doc.is_discarded() || !doc.is_object()) return bad;
  const auto auth = doc.find("auth");
  if (auth == doc.end() || !auth->is_object()) return bad;
  const auto token = auth->find("client_token");
  if (token == auth->end() || !token->is_string() || token->get_ref<const std::string&>().empty()) {
    return bad;
  }
  TokenGrant g;
  g.token = Sensitive(token->get<std::string>());
  const auto ttl = auth->find("lease_duration");
  if (ttl != auth->end() && ttl->is_number_integer() && ttl->get<int64_t>() > 0) {
    g.ttl_s = ttl->get<int64_t>();
  }
  const auto renewable = auth->find("renewable");
  g.renewable = renewable != auth->end() && renewable->is_boolean() && renewable->get<bool>();
  return g;
}

void read_secret_ref(const RefReader& refs, const SecretSel& sel, const std::string& what,
                     std::function<void(Result<Sensitive>)> done) {
  if (!refs.read_secret_key) {
    return done(Error(ErrorCode::kInternal, "no Secret reader for Vault auth"));
  }
  const std::string label = what + " (secret \"" + sel.name + "\", key \"" + sel.key + "\")";
  refs.read_secret_key(sel.ns, sel.name, sel.key, [label, done](Result<Sensitive> v) {
    if (!v) return done(wrap_ref_error(v.error(), label));
    done(std::move(v));
  });
}

void gather_login(const AuthSpec& auth, const RefReader& refs, const TokenSource& tokens,
                  std::function<void(Result<LoginRequest>)> done) {
  switch (auth.method) {
    case AuthMethod::kToken:
      read_secret_ref(refs, auth.secret, "auth.tokenSecretRef",
                      [auth, done](Result<Sensitive> s) { finish(auth, "", std::move(s), done); });
      return;
    case AuthMethod::kAppRole:
      return gather_approle(auth, refs, std::move(done));
    case AuthMethod::kKubernetes:
    case AuthMethod::kJwt:
      return gather_jwt(auth, refs, tokens, std::move(done));
    case AuthMethod::kLdap:
    case AuthMethod::kUserPass:
      read_secret_ref(refs, auth.secret, "auth password secretRef",
                      [auth, done](Result<Sensitive> s) { finish(auth, "", std::move(s), done); });
      return;
    case AuthMethod::kCert:
      // The client certificate travels in the TLS options; the body only names the role.
      return finish(auth, "", Sensitive(), done);
    case AuthMethod::kNone:
      return done(Error(ErrorCode::kInternal, "no Vault auth method configured"));
  }
}

}  // namespace esd::providers::vault
