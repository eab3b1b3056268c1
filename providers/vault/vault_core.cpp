#include "providers/vault/vault_core.h"

#include <algorithm>
#include <utility>

#include "daemon/common/log.h"
#include "daemon/loop/uv_handle.h"
#include "providers/vault/vault_auth.h"
#include "providers/vault/vault_kv.h"

namespace esd::providers::vault {
namespace {

constexpr std::string_view kComponent = "vault";

bool is_https(const VaultSpec& spec) { return spec.server.rfind("https://", 0) == 0; }

bool has_tls_refs(const VaultSpec& spec) {
  return is_https(spec) && (spec.has_ca_provider || spec.tls_cert.set() ||
                            spec.auth.method == AuthMethod::kCert);
}

}  // namespace

struct VaultCore::Op {
  uint64_t id = 0;
  VaultCore* core = nullptr;  // for the retry timer trampoline
  Call call;
  ResponseDone done;
  int attempt = 0;
  bool relogged = false;
  std::optional<CurrentToken> token;
  std::optional<Sensitive> rejected;     // a token lookup-self called invalid
  std::optional<HttpResponse> forbidden;  // the 403 kept while lookup-self runs
  TransferId transfer = 0;
  UvHandle<uv_timer_t> timer;
  bool timer_ready = false;
  bool sent = false;  // a request went out (only then is the call counted in the metrics)
};

VaultCore::VaultCore(VaultSpec spec, ProviderContext ctx, ClientOptions options)
    : spec_(std::move(spec)), ctx_(std::move(ctx)), options_(options) {}

VaultCore::~VaultCore() { close(); }

void VaultCore::init() {
  weak_ = weak_from_this();
  TokenManager::Hooks hooks;
  hooks.login = [this](TokenManager::GrantDone done) { login(std::move(done)); };
  hooks.renew = [this](const Sensitive& token, TokenManager::GrantDone done) {
    renew(token, std::move(done));
  };
  TokenOptions topts;
  topts.is_static = spec_.auth.method == AuthMethod::kToken;
  topts.renew_fraction = options_.renew_fraction;
  topts.static_recheck_ms = options_.static_recheck_ms;
  tokens_ = std::make_unique<TokenManager>(ctx_.loop, std::move(hooks), topts);
}

void VaultCore::send(Call call, ResponseDone done) {
  if (closed_) return;
  auto op = std::make_shared<Op>();
  op->id = ++next_op_;
  op->core = this;
  op->call = std::move(call);
  op->done = std::move(done);
  ops_[op->id] = op;
  run(op);
}

void VaultCore::read_shared(const std::string& path, const std::string& query,
                            std::string_view metric, SharedDone done) {
  if (closed_) return;
  const std::string key = path + "?" + query;
  auto& waiters = inflight_[key];
  waiters.push_back(std::move(done));
  if (waiters.size() > 1) return;
  Call c;
  c.path = path;
  c.query = query;
  c.metric = metric;
  send(std::move(c), [w = weak_, key](Result<HttpResponse> r) {
    auto self = w.lock();
    if (!self || self->closed_) return;
    auto it = self->inflight_.find(key);
    if (it == self->inflight_.end()) return;
    std::vector<SharedDone> all = std::move(it->second);
    self->inflight_.erase(it);
    for (auto& d : all) {
      if (self->closed_) return;
      d(r);
    }
  });
}

void VaultCore::run(const OpPtr& op) {
  prepare_tls([w = weak_, id = op->id](Status s) {
    auto self = w.lock();
    if (!self || self->closed_) return;
    auto it = self->ops_.find(id);
    if (it == self->ops_.end()) return;
    OpPtr op = it->second;
    if (!s) return self->finish(op, std::move(s).error());
    self->with_token(op);
  });
}

void VaultCore::with_token(const OpPtr& op) {
  if (op->call.auth != CallAuth::kToken || spec_.auth.method == AuthMethod::kNone) {
    return dispatch(op);
  }
  tokens_->get([w = weak_, id = op->id](Result<CurrentToken> t) {
    auto self = w.lock();
    if (!self || self->closed_) return;
    auto it = self->ops_.find(id);
    if (it == self->ops_.end()) return;
    OpPtr op = it->second;
    if (!t) return self->finish(op, std::move(t).error());
    if (op->rejected && *op->rejected == t->token) {
      return self->finish(op, Error(ErrorCode::kAuth, "Vault token is invalid or expired", 403));
    }
    op->token = std::move(*t);
    self->dispatch(op);
  });
}

HttpRequest VaultCore::build(const Call& call, const Sensitive* token) const {
  HttpRequest req;
  req.method = call.method;
  req.url = spec_.server + "/v1/" + call.path + (call.query.empty() ? "" : "?" + call.query);
  req.timeout_ms = options_.request_timeout_ms;
  req.tls = tls_;
  req.headers.emplace_back("X-Vault-Request", "true");
  if (token != nullptr && !token->empty()) {
    req.headers.emplace_back("X-Vault-Token", std::string(token->view()));
  }
  const bool login_ns = call.auth != CallAuth::kToken && spec_.auth.has_ns;
  const std::string& ns = login_ns ? spec_.auth.ns : spec_.ns;
  if (!ns.empty()) req.headers.emplace_back("X-Vault-Namespace", ns);
  // ESO: either flag turns on read-your-writes (X-Vault-Index); forwarding inconsistent reads
  // to the active node needs both.
  if (spec_.forward_inconsistent && spec_.read_your_writes) {
    req.headers.emplace_back("X-Vault-Inconsistent", "forward-active-node");
  }
  if (tracks_index() && !vault_index_.empty()) {
    req.headers.emplace_back("X-Vault-Index", vault_index_);
  }
  for (const auto& h : spec_.headers) req.headers.push_back(h);
  if (!call.body.empty()) {
    req.body = call.body.clone();
    req.headers.emplace_back("Content-Type", "application/json");
  }
  return req;
}

void VaultCore::dispatch(const OpPtr& op) {
  const Sensitive* token = nullptr;
  if (op->call.auth == CallAuth::kGiven) token = &op->call.given_token;
  if (op->call.auth == CallAuth::kToken && op->token) token = &op->token->token;
  op->sent = true;
  op->transfer = ctx_.http->start(build(op->call, token),
                                  [w = weak_, id = op->id](Result<HttpResponse> r) {
                                    auto self = w.lock();
                                    if (!self || self->closed_) return;
                                    self->on_response(id, std::move(r));
                                  });
}

void VaultCore::on_response(uint64_t id, Result<HttpResponse> r) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  OpPtr op = it->second;
  op->transfer = 0;
  if (!r) {
    if (has_tls_refs(spec_)) tls_stale_ = true;
    if (maybe_retry(op, r.error())) return;
    return finish(op, std::move(r));
  }
  if (tracks_index()) {
    if (std::string idx = r->header("x-vault-index"); !idx.empty()) vault_index_ = std::move(idx);
  }
  const long st = r->status;
  const bool token_call = op->call.auth == CallAuth::kToken && op->token.has_value();
  if (st == 403 && token_call && !op->relogged) {
    op->forbidden = std::move(*r);
    return on_forbidden(op);
  }
  if ((st == 412 || st == 429 || st >= 500) && maybe_retry(op, classify_status(*r, ""))) return;
  finish(op, std::move(r));
}

bool VaultCore::maybe_retry(const OpPtr& op, const Error& e) {
  if (!retryable(e) || op->attempt >= spec_.retry.max_retries) return false;
  int64_t wait = spec_.retry.interval_ms;
  if (wait < 0) wait = op->attempt == 0 ? options_.backoff_base_ms : options_.backoff_base_ms * 3 / 2;
  if (e.retry_after_ms > 0) {
    if (e.retry_after_ms > options_.max_retry_after_ms) return false;
    wait = std::max(wait, e.retry_after_ms);
  }
  if (!op->timer_ready) {
    if (uv_timer_init(ctx_.loop, op->timer.get()) != 0) return false;
    op->timer.mark_initialized();
    op->timer.get()->data = op.get();
    op->timer_ready = true;
  }
  ++op->attempt;
  log::debug(kComponent, "vault_request_retry",
             {{"store", ctx_.store_name}, {"attempt", op->attempt}, {"error", e}});
  uv_timer_start(op->timer.get(), &VaultCore::on_retry_timer, static_cast<uint64_t>(wait), 0);
  return true;
}

void VaultCore::on_retry_timer(uv_timer_t* t) noexcept {
  auto* op = static_cast<Op*>(t->data);
  VaultCore* core = op->core;
  auto it = core->ops_.find(op->id);
  if (it != core->ops_.end()) core->run(it->second);
}

// A 403 on a token call: lookup-self tells an invalid token (re-login, retry once) from a policy
// that denies the path (the 403 stands).
void VaultCore::on_forbidden(const OpPtr& op) {
  op->relogged = true;
  check_token(op->token->generation, op->token->token, [w = weak_, id = op->id](bool invalid) {
    auto self = w.lock();
    if (!self || self->closed_) return;
    auto it = self->ops_.find(id);
    if (it == self->ops_.end()) return;
    OpPtr op = it->second;
    if (!invalid) return self->finish(op, std::move(*op->forbidden));
    self->tokens_->invalidate(op->token->generation);
    op->rejected = op->token->token.clone();
    op->forbidden.reset();
    self->with_token(op);
  });
}

void VaultCore::check_token(uint64_t generation, const Sensitive& token,
                            std::function<void(bool)> done) {
  constexpr uint64_t kConfirmedForMs = 60'000;
  if (confirmed_generation_ == generation &&
      uv_now(ctx_.loop) - confirmed_at_ms_ < kConfirmedForMs) {
    return done(false);  // checked recently: this 403 is the policy's
  }
  auto& waiters = lookups_[generation];
  waiters.push_back(std::move(done));
  if (waiters.size() > 1) return;
  Call c;
  c.path = "auth/token/lookup-self";
  c.metric = "LookupSelf";
  c.auth = CallAuth::kGiven;
  c.given_token = token.clone();
  send(std::move(c), [w = weak_, generation](Result<HttpResponse> r) {
    auto self = w.lock();
    if (!self || self->closed_) return;
    const bool invalid = r && (r->status == 401 || r->status == 403);
    if (r && r->status < 400) {
      self->confirmed_generation_ = generation;
      self->confirmed_at_ms_ = uv_now(self->ctx_.loop);
    }
    auto all = std::move(self->lookups_[generation]);
    self->lookups_.erase(generation);
    for (auto& d : all) {
      if (self->closed_) return;
      d(invalid);
    }
  });
}

void VaultCore::finish(const OpPtr& op, Result<HttpResponse> r) {
  ops_.erase(op->id);
  op->timer.close();
  // A call that never went out (its login or TLS setup failed) is not counted: ESO counts only
  // the login then.
  if (ctx_.count_call && !op->call.metric.empty() && op->sent) {
    const bool ok = r && (r->status < 400 || r->status == 404);
    ctx_.count_call(kProviderLabel, op->call.metric, ok);
  }
  auto done = std::move(op->done);
  if (done) done(std::move(r));
}

void VaultCore::close() {
  if (closed_) return;
  closed_ = true;
  std::optional<Sensitive> revocable;
  if (tokens_) {
    revocable = tokens_->take_revocable();
    tokens_->close();
  }
  for (auto& [id, op] : ops_) {
    if (op->transfer != 0 && ctx_.http != nullptr) ctx_.http->cancel(op->transfer);
    op->timer.close();
  }
  ops_.clear();
  inflight_.clear();
  tls_waiters_.clear();
  lookups_.clear();
  if (!revocable || ctx_.http == nullptr) return;
  // Fire and forget: the login token is no longer needed by anyone.
  Call c;
  c.method = "POST";
  c.path = "auth/token/revoke-self";
  c.auth = CallAuth::kGiven;
  ctx_.http->start(build(c, &*revocable), [count = ctx_.count_call](Result<HttpResponse> r) {
    if (count) count(kProviderLabel, "RevokeSelf", r && r->status < 400);
  });
}

}  // namespace esd::providers::vault
