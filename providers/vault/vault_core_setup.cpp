// VaultCore's setup steps: TLS material (caProvider, client certificate and key) and the
// TokenManager's hooks (login through the configured method, renew-self). See vault_core.h.
#include <utility>

#include "daemon/common/log.h"
#include "providers/vault/vault_auth.h"
#include "providers/vault/vault_core.h"

namespace esd::providers::vault {
namespace {

constexpr std::string_view kComponent = "vault";

bool https(const VaultSpec& spec) { return spec.server.rfind("https://", 0) == 0; }

// The client certificate for every request: tls.certSecretRef, or cert auth's clientCert (as
// ESO, whose cert login installs the certificate on the client's transport).
const SecretSel* cert_sel(const VaultSpec& spec) {
  if (spec.tls_cert.set()) return &spec.tls_cert;
  if (spec.auth.method == AuthMethod::kCert) return &spec.auth.client_cert;
  return nullptr;
}

const SecretSel* key_sel(const VaultSpec& spec) {
  if (spec.tls_key.set()) return &spec.tls_key;
  if (spec.auth.method == AuthMethod::kCert) return &spec.auth.secret;
  return nullptr;
}

// As ESO: caBundle, when set, is the whole trust; caProvider is read only without it.
bool uses_ca_provider(const VaultSpec& spec) { return spec.has_ca_provider && spec.ca_pem.empty(); }

}  // namespace

void VaultCore::prepare_tls(std::function<void(Status)> done) {
  if (!tls_stale_) return done(ok_status());
  const bool refs = uses_ca_provider(spec_) || cert_sel(spec_) != nullptr;
  if (!https(spec_) || !refs) {
    auto opts = std::make_shared<TlsOptions>();
    opts->ca_pem = spec_.ca_pem;
    tls_ = std::move(opts);
    tls_stale_ = false;
    return done(ok_status());
  }
  tls_waiters_.push_back(std::move(done));
  if (tls_loading_) return;
  tls_loading_ = true;
  auto opts = std::make_shared<TlsOptions>();
  opts->ca_pem = spec_.ca_pem;
  load_tls_step(std::move(opts), 0);
}

// Step 0: caProvider; 1: client certificate; 2: client key; then done.
void VaultCore::load_tls_step(std::shared_ptr<TlsOptions> opts, size_t step) {
  auto next = [w = weak_, opts, step](Status s) {
    auto self = w.lock();
    if (!self || self->closed_) return;
    if (!s) return self->tls_loaded(std::move(s), opts);
    self->load_tls_step(opts, step + 1);
  };
  const SecretSel* sel = step == 1 ? cert_sel(spec_) : step == 2 ? key_sel(spec_) : nullptr;
  if (step == 0 && uses_ca_provider(spec_)) {
    const CaProvider& cp = spec_.ca_provider;
    auto add = [opts, next](std::string_view pem) {
      if (!opts->ca_pem.empty()) opts->ca_pem += "\n";
      opts->ca_pem += pem;
      next(ok_status());
    };
    if (cp.secret) {
      return read_secret_ref(ctx_.refs, SecretSel{cp.name, cp.key, cp.ns}, "caProvider",
                             [add, next](Result<Sensitive> v) {
                               if (!v) return next(std::move(v).error());
                               add(v->view());
                             });
    }
    if (!ctx_.refs.read_configmap_key) return next(Error(ErrorCode::kInternal, "no reader"));
    return ctx_.refs.read_configmap_key(
        cp.ns, cp.name, cp.key, [add, next, name = cp.name](Result<std::string> v) {
          if (!v) {
            return next(Error(ErrorCode::kInvalidConfig,
                              "cannot read caProvider ConfigMap \"" + name + "\": " +
                                  v.error().message));
          }
          add(*v);
        });
  }
  if (step >= 3) return tls_loaded(ok_status(), std::move(opts));
  if (sel == nullptr) return load_tls_step(std::move(opts), step + 1);
  const char* what = step == 1 ? "the client certificate" : "the client key";
  read_secret_ref(ctx_.refs, *sel, what, [opts, next, step](Result<Sensitive> v) {
    if (!v) return next(std::move(v).error());
    if (step == 1) {
      opts->client_cert_pem = std::string(v->view());
    } else {
      opts->client_key_pem = std::move(*v);
    }
    next(ok_status());
  });
}

void VaultCore::tls_loaded(Status s, std::shared_ptr<TlsOptions> opts) {
  tls_loading_ = false;
  if (s) {
    tls_ = std::move(opts);
    tls_stale_ = false;
  }
  auto waiters = std::move(tls_waiters_);
  tls_waiters_.clear();
  for (auto& w : waiters) {
    if (closed_) return;
    w(s);
  }
}

void VaultCore::login(TokenManager::GrantDone done) {
  const std::string method(method_name(spec_.auth.method));
  gather_login(spec_.auth, ctx_.refs, ctx_.tokens,
               [w = weak_, done, method](Result<LoginRequest> req) {
    auto self = w.lock();
    if (!self || self->closed_) return;
    if (!req) return done(std::move(req).error());
    if (self->spec_.auth.method == AuthMethod::kToken) {
      return done(TokenGrant{std::move(req->body), 0, false});
    }
    Call c;
    c.method = "POST";
    c.path = req->path;
    c.body = std::move(req->body);
    c.metric = "Login";
    c.auth = CallAuth::kLogin;
    self->send(std::move(c), [w, done, method](Result<HttpResponse> r) {
      auto self = w.lock();
      if (!self || self->closed_) return;
      Result<TokenGrant> g =
          r ? parse_auth_response(*r, "vault login (" + method + ")") : Result<TokenGrant>(r.error());
      if (g) {
        log::info(kComponent, "vault_login",
                  {{"store", self->ctx_.store_name}, {"method", method}, {"ttl_s", g->ttl_s}});
      } else {
        log::warn(kComponent, "vault_login_failed",
                  {{"store", self->ctx_.store_name}, {"method", method}, {"error", g.error()}});
      }
      done(std::move(g));
    });
  });
}

void VaultCore::renew(const Sensitive& token, TokenManager::GrantDone done) {
  Call c;
  c.method = "POST";
  c.path = "auth/token/renew-self";
  c.body = Sensitive(std::string("{}"));
  c.metric = "RenewSelf";
  c.auth = CallAuth::kGiven;
  c.given_token = token.clone();
  send(std::move(c), [w = weak_, done](Result<HttpResponse> r) {
    auto self = w.lock();
    if (!self || self->closed_) return;
    if (!r) return done(std::move(r).error());
    done(parse_auth_response(*r, "vault token renewal"));
  });
}

}  // namespace esd::providers::vault
