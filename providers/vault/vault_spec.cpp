#include "providers/vault/vault_spec.h"

#include <cmath>
#include <optional>

#include "daemon/common/crypto.h"

namespace esd::providers::vault {
namespace {

using nlohmann::json;

Error invalid(const std::string& msg) { return Error(ErrorCode::kInvalidConfig, msg); }

const json* member(const json& obj, const char* name) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

// An optional string member; kInvalidConfig if present with another type.
Result<std::string> opt_string(const json& obj, const char* name, const std::string& where,
                               std::string fallback = {}) {
  const json* v = member(obj, name);
  if (v == nullptr) return fallback;
  if (!v->is_string()) return invalid(where + "." + name + " must be a string");
  return v->get<std::string>();
}

Result<bool> opt_bool(const json& obj, const char* name, const std::string& where) {
  const json* v = member(obj, name);
  if (v == nullptr) return false;
  if (!v->is_boolean()) return invalid(where + "." + name + " must be a boolean");
  return v->get<bool>();
}

std::string trim_slashes(std::string s) {
  while (!s.empty() && s.front() == '/') s.erase(0, 1);
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// A SecretKeySelector at obj[name]; `required` fails when absent, default_key fills an empty key.
Result<SecretSel> secret_sel(const json& obj, const char* name, const std::string& where,
                             bool required, const char* default_key = "") {
  const std::string at = where + "." + name;
  const json* v = member(obj, name);
  if (v == nullptr) {
    if (required) return invalid(at + " is required");
    return SecretSel{};
  }
  if (!v->is_object()) return invalid(at + " must be an object");
  SecretSel s;
  auto n = opt_string(*v, "name", at);
  auto k = opt_string(*v, "key", at, default_key);
  auto ns = opt_string(*v, "namespace", at);
  if (!n) return std::move(n).error();
  if (!k) return std::move(k).error();
  if (!ns) return std::move(ns).error();
  s.name = *n;
  s.key = k->empty() ? default_key : *k;
  s.ns = *ns;
  if (s.name.empty()) return invalid(at + ".name is required");
  if (s.key.empty()) return invalid(at + ".key is required");
  return s;
}

Result<std::vector<std::string>> string_list(const json& obj, const char* name,
                                             const std::string& where) {
  std::vector<std::string> out;
  const json* v = member(obj, name);
  if (v == nullptr) return out;
  if (!v->is_array()) return invalid(where + "." + name + " must be a list of strings");
  for (const auto& item : *v) {
    if (!item.is_string()) return invalid(where + "." + name + " must be a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<SaSel> sa_sel(const json& obj, const std::string& at) {
  if (!obj.is_object()) return invalid(at + " must be an object");
  SaSel s;
  auto n = opt_string(obj, "name", at);
  auto ns = opt_string(obj, "namespace", at);
  auto aud = string_list(obj, "audiences", at);
  if (!n) return std::move(n).error();
  if (!ns) return std::move(ns).error();
  if (!aud) return std::move(aud).error();
  if (n->empty()) return invalid(at + ".name is required");
  s.name = *n;
  s.ns = *ns;
  s.audiences = std::move(*aud);
  return s;
}

// Reads `pathField` (with a default) into a.mount.
Status read_mount(const json& m, const char* field, const char* fallback, const std::string& at,
                  AuthSpec& a) {
  auto p = opt_string(m, field, at, fallback);
  if (!p) return std::move(p).error();
  a.mount = trim_slashes(p->empty() ? fallback : *p);
  return ok_status();
}

Status parse_approle(const json& m, AuthSpec& a) {
  const std::string at = "spec.provider.vault.auth.appRole";
  ESD_RETURN_IF_ERROR(read_mount(m, "path", "approle", at, a));
  auto id = opt_string(m, "roleId", at);
  if (!id) return std::move(id).error();
  a.role_id = *id;
  if (a.role_id.empty()) {
    auto ref = secret_sel(m, "roleRef", at, false);
    if (!ref) return std::move(ref).error();
    if (!ref->set()) return invalid(at + ": either roleId or roleRef must be set");
    a.role_ref = std::move(*ref);
  }
  auto sec = secret_sel(m, "secretRef", at, true);
  if (!sec) return std::move(sec).error();
  a.secret = std::move(*sec);
  return ok_status();
}

Status parse_kubernetes(const json& m, AuthSpec& a) {
  const std::string at = "spec.provider.vault.auth.kubernetes";
  ESD_RETURN_IF_ERROR(read_mount(m, "mountPath", "kubernetes", at, a));
  auto role = opt_string(m, "role", at);
  if (!role) return std::move(role).error();
  if (role->empty()) return invalid(at + ".role is required");
  a.role = *role;
  a.jwt_source = JwtSource::kOwnToken;
  if (const json* sa = member(m, "serviceAccountRef")) {
    auto s = sa_sel(*sa, at + ".serviceAccountRef");
    if (!s) return std::move(s).error();
    a.sa = std::move(*s);
    a.jwt_source = JwtSource::kServiceAccount;
    return ok_status();
  }
  auto sec = secret_sel(m, "secretRef", at, false, "token");
  if (!sec) return std::move(sec).error();
  if (sec->set()) {
    a.secret = std::move(*sec);
    a.jwt_source = JwtSource::kSecret;
  }
  return ok_status();
}

Status parse_user_login(const json& m, const char* fallback, const std::string& at, AuthSpec& a) {
  ESD_RETURN_IF_ERROR(read_mount(m, "path", fallback, at, a));
  auto user = opt_string(m, "username", at);
  if (!user) return std::move(user).error();
  if (user->empty()) return invalid(at + ".username is required");
  a.username = *user;
  auto sec = secret_sel(m, "secretRef", at, true);
  if (!sec) return std::move(sec).error();
  a.secret = std::move(*sec);
  return ok_status();
}

Status parse_jwt_sa(const json& k, const std::string& at, AuthSpec& a) {
  const json* sa = member(k, "serviceAccountRef");
  if (sa == nullptr) return invalid(at + ".serviceAccountRef is required");
  auto s = sa_sel(*sa, at + ".serviceAccountRef");
  if (!s) return std::move(s).error();
  auto extra = string_list(k, "audiences", at);
  if (!extra) return std::move(extra).error();
  if (member(k, "audiences") == nullptr) extra->push_back("vault");
  for (auto& aud : *extra) s->audiences.push_back(std::move(aud));
  if (const json* e = member(k, "expirationSeconds")) {
    if (!e->is_number_integer() || e->get<int64_t>() < 600) {
      return invalid(at + ".expirationSeconds must be an integer of at least 600");
    }
    a.sa_expiration_s = e->get<int64_t>();
  }
  a.sa = std::move(*s);
  a.jwt_source = JwtSource::kServiceAccount;
  return ok_status();
}

Status parse_jwt(const json& m, AuthSpec& a) {
  const std::string at = "spec.provider.vault.auth.jwt";
  ESD_RETURN_IF_ERROR(read_mount(m, "path", "jwt", at, a));
  auto role = opt_string(m, "role", at);
  if (!role) return std::move(role).error();
  a.role = *role;
  auto sec = secret_sel(m, "secretRef", at, false);
  if (!sec) return std::move(sec).error();
  if (sec->set()) {
    a.secret = std::move(*sec);
    a.jwt_source = JwtSource::kSecret;
    return ok_status();
  }
  if (const json* k = member(m, "kubernetesServiceAccountToken")) {
    return parse_jwt_sa(*k, at + ".kubernetesServiceAccountToken", a);
  }
  return invalid(at + ": neither secretRef nor kubernetesServiceAccountToken is set");
}

Status parse_cert(const json& m, AuthSpec& a) {
  const std::string at = "spec.provider.vault.auth.cert";
  ESD_RETURN_IF_ERROR(read_mount(m, "path", "cert", at, a));
  auto role = opt_string(m, "vaultRole", at);
  if (!role) return std::move(role).error();
  a.role = *role;
  auto cert = secret_sel(m, "clientCert", at, true);
  if (!cert) return std::move(cert).error();
  auto key = secret_sel(m, "secretRef", at, true);
  if (!key) return std::move(key).error();
  a.client_cert = std::move(*cert);
  a.secret = std::move(*key);
  return ok_status();
}

// The first configured method wins, in ESO's order (auth.go setAuth).
Status parse_method(const json& auth, AuthSpec& a) {
  const std::string at = "spec.provider.vault.auth";
  if (member(auth, "tokenSecretRef") != nullptr) {
    auto s = secret_sel(auth, "tokenSecretRef", at, true);
    if (!s) return std::move(s).error();
    a.method = AuthMethod::kToken;
    a.secret = std::move(*s);
    return ok_status();
  }
  struct Row {
    const char* field;
    AuthMethod method;
  };
  static constexpr Row kRows[] = {{"appRole", AuthMethod::kAppRole},
                                  {"kubernetes", AuthMethod::kKubernetes},
                                  {"ldap", AuthMethod::kLdap},
                                  {"userPass", AuthMethod::kUserPass},
                                  {"jwt", AuthMethod::kJwt},
                                  {"cert", AuthMethod::kCert}};
  for (const Row& row : kRows) {
    const json* m = member(auth, row.field);
    if (m == nullptr) continue;
    if (!m->is_object()) return invalid(at + "." + row.field + " must be an object");
    a.method = row.method;
    switch (row.method) {
      case AuthMethod::kAppRole: return parse_approle(*m, a);
      case AuthMethod::kKubernetes: return parse_kubernetes(*m, a);
      case AuthMethod::kLdap: return parse_user_login(*m, "ldap", at + ".ldap", a);
      case AuthMethod::kUserPass: return parse_user_login(*m, "userpass", at + ".userPass", a);
      case AuthMethod::kJwt: return parse_jwt(*m, a);
      default: return parse_cert(*m, a);
    }
  }
  for (const char* unsupported : {"iam", "gcp"}) {
    if (member(auth, unsupported) != nullptr) {
      return invalid(at + "." + unsupported + " is not supported yet");
    }
  }
  return invalid("cannot initialize Vault client: no valid auth method specified");
}

Status parse_auth(const json& spec, AuthSpec& a) {
  const json* auth = member(spec, "auth");
  if (auth == nullptr) return ok_status();  // no token: e.g. behind a Vault Agent
  if (!auth->is_object()) return invalid("spec.provider.vault.auth must be an object");
  if (const json* ns = member(*auth, "namespace")) {
    if (!ns->is_string()) return invalid("spec.provider.vault.auth.namespace must be a string");
    a.ns = ns->get<std::string>();
    a.has_ns = true;
  }
  return parse_method(*auth, a);
}

Status parse_ca(const json& spec, VaultSpec& out) {
  const std::string at = "spec.provider.vault";
  auto bundle = opt_string(spec, "caBundle", at);
  if (!bundle) return std::move(bundle).error();
  if (!bundle->empty()) {
    auto pem = base64_decode(*bundle);
    if (!pem) return invalid(at + ".caBundle is not valid base64");
    out.ca_pem = std::move(*pem);
  }
  const json* cp = member(spec, "caProvider");
  if (cp == nullptr) return ok_status();
  if (!cp->is_object()) return invalid(at + ".caProvider must be an object");
  auto type = opt_string(*cp, "type", at + ".caProvider");
  if (!type) return std::move(type).error();
  if (*type != "Secret" && *type != "ConfigMap") {
    return invalid(at + ".caProvider.type must be Secret or ConfigMap");
  }
  auto sel = secret_sel(spec, "caProvider", at, true);
  if (!sel) return std::move(sel).error();
  out.has_ca_provider = true;
  out.ca_provider = CaProvider{*type == "Secret", sel->name, sel->key, sel->ns};
  return ok_status();
}

Status parse_tls(const json& spec, VaultSpec& out) {
  const json* tls = member(spec, "tls");
  if (tls == nullptr) return ok_status();
  const std::string at = "spec.provider.vault.tls";
  if (!tls->is_object()) return invalid(at + " must be an object");
  auto cert = secret_sel(*tls, "certSecretRef", at, false, "tls.crt");
  auto key = secret_sel(*tls, "keySecretRef", at, false, "tls.key");
  if (!cert) return std::move(cert).error();
  if (!key) return std::move(key).error();
  if (cert->set() != key->set()) {
    return invalid("when provided, both tls.certSecretRef and tls.keySecretRef should be provided");
  }
  out.tls_cert = std::move(*cert);
  out.tls_key = std::move(*key);
  return ok_status();
}

Status parse_headers(const json& spec, VaultSpec& out) {
  const json* h = member(spec, "headers");
  if (h == nullptr) return ok_status();
  if (!h->is_object()) return invalid("spec.provider.vault.headers must be a map of strings");
  for (const auto& [k, v] : h->items()) {
    if (!v.is_string()) return invalid("spec.provider.vault.headers must be a map of strings");
    out.headers.emplace_back(k, v.get<std::string>());
  }
  return ok_status();
}

// ESO: retrySettings set without maxRetries means 0 retries; retryInterval is a fixed wait.
Status parse_retry(const json& spec, VaultSpec& out) {
  const json* r = member(spec, "retrySettings");
  if (r == nullptr) return ok_status();
  const std::string at = "retrySettings";
  if (!r->is_object()) return invalid(at + " must be an object");
  out.retry.max_retries = 0;
  if (const json* m = member(*r, "maxRetries")) {
    if (!m->is_number_integer() || m->get<int64_t>() < 0 || m->get<int64_t>() > 100) {
      return invalid(at + ".maxRetries must be an integer between 0 and 100");
    }
    out.retry.max_retries = static_cast<int>(m->get<int64_t>());
  }
  auto interval = opt_string(*r, "retryInterval", at);
  if (!interval) return std::move(interval).error();
  if (!interval->empty()) {
    auto ms = parse_duration_ms(*interval);
    if (!ms) return invalid(at + ".retryInterval is not a valid duration");
    out.retry.interval_ms = *ms;
  }
  return ok_status();
}

Status parse_basics(const json& spec, VaultSpec& out) {
  const std::string at = "spec.provider.vault";
  auto server = opt_string(spec, "server", at);
  if (!server) return std::move(server).error();
  out.server = *server;
  while (!out.server.empty() && out.server.back() == '/') out.server.pop_back();
  if (out.server.empty()) return invalid(at + ".server is required");
  if (out.server.rfind("http://", 0) != 0 && out.server.rfind("https://", 0) != 0) {
    return invalid(at + ".server must be an http(s) URL");
  }
  if (const json* p = member(spec, "path")) {
    if (!p->is_string()) return invalid(at + ".path must be a string");
    out.mount = trim_slashes(p->get<std::string>());
    out.has_mount = !out.mount.empty();
  }
  auto version = opt_string(spec, "version", at, "v2");
  if (!version) return std::move(version).error();
  if (*version != "v1" && *version != "v2") return invalid(at + ".version must be v1 or v2");
  out.version = *version == "v1" ? KvVersion::kV1 : KvVersion::kV2;
  auto ns = opt_string(spec, "namespace", at);
  auto ryw = opt_bool(spec, "readYourWrites", at);
  auto fwd = opt_bool(spec, "forwardInconsistent", at);
  if (!ns) return std::move(ns).error();
  if (!ryw) return std::move(ryw).error();
  if (!fwd) return std::move(fwd).error();
  out.ns = *ns;
  out.read_your_writes = *ryw;
  out.forward_inconsistent = *fwd;
  return ok_status();
}

}  // namespace

Result<VaultSpec> parse_vault_spec(const json& spec) {
  if (!spec.is_object()) return invalid("spec.provider.vault must be an object");
  VaultSpec out;
  ESD_RETURN_IF_ERROR(parse_basics(spec, out));
  ESD_RETURN_IF_ERROR(parse_ca(spec, out));
  ESD_RETURN_IF_ERROR(parse_tls(spec, out));
  ESD_RETURN_IF_ERROR(parse_headers(spec, out));
  ESD_RETURN_IF_ERROR(parse_retry(spec, out));
  ESD_RETURN_IF_ERROR(parse_auth(spec, out.auth));
  return out;
}

Result<int64_t> parse_duration_ms(std::string_view text) {
  const Error bad(ErrorCode::kInvalidConfig, "invalid duration");
  if (text == "0") return int64_t{0};
  if (text.empty()) return bad;
  struct Unit {
    std::string_view name;
    double ms;
  };
  static constexpr Unit kUnits[] = {{"ns", 1e-6}, {"us", 1e-3}, {"µs", 1e-3}, {"ms", 1.0},
                                    {"s", 1e3},   {"m", 6e4},   {"h", 3.6e6}};
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (i == start) return bad;
    const double value = std::strtod(std::string(text.substr(start, i - start)).c_str(), nullptr);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(i, u.name.size()) == u.name &&
          (unit == nullptr || u.name.size() > unit->name.size())) {
        unit = &u;
      }
    }
    if (unit == nullptr) return bad;
    i += unit->name.size();
    total += value * unit->ms;
  }
  if (!std::isfinite(total) || total > 9.0e15) return bad;
  return static_cast<int64_t>(std::llround(total));
}

}  // namespace esd::providers::vault
