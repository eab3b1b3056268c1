#include "providers/vault/vault_token.h"

#include <utility>

#include "daemon/common/log.h"

namespace esd::providers::vault {
namespace {
constexpr std::string_view kComponent = "vault";
}  // namespace

TokenManager::TokenManager(uv_loop_t* loop, Hooks hooks, TokenOptions options)
    : loop_(loop), hooks_(std::move(hooks)), options_(options) {
  if (uv_timer_init(loop_, timer_.get()) == 0) {
    timer_.mark_initialized();
    timer_.get()->data = this;
  }
}

TokenManager::~TokenManager() { close(); }

void TokenManager::close() {
  closed_ = true;
  waiters_.clear();
  timer_.close();
}

std::optional<Sensitive> TokenManager::take_revocable() {
  if (options_.is_static || !token_) return std::nullopt;
  std::optional<Sensitive> out = std::move(token_);
  token_.reset();
  return out;
}

bool TokenManager::usable() const {
  if (!token_) return false;
  const uint64_t now = uv_now(loop_);
  if (options_.is_static) {
    return now < fetched_at_ + static_cast<uint64_t>(options_.static_recheck_ms);
  }
  return stale_at_ == 0 || now < stale_at_;
}

void TokenManager::get(TokenDone done) {
  if (closed_) return;
  if (usable()) return done(CurrentToken{token_->clone(), generation_});
  waiters_.push_back(std::move(done));
  if (!logging_in_) start_login();
}

void TokenManager::invalidate(uint64_t generation) {
  if (generation != generation_ || !token_) return;
  drop();
}

void TokenManager::drop() {
  token_.reset();
  stale_at_ = 0;
  if (timer_.get() != nullptr) uv_timer_stop(timer_.get());
}

void TokenManager::start_login() {
  logging_in_ = true;
  hooks_.login([this](Result<TokenGrant> grant) { on_login(std::move(grant)); });
}

void TokenManager::on_login(Result<TokenGrant> grant) {
  if (closed_) return;
  logging_in_ = false;
  if (!grant) return deliver(&grant);
  const bool same = token_ && *token_ == grant->token;
  if (!same) ++generation_;
  token_ = std::move(grant->token);
  fetched_at_ = uv_now(loop_);
  if (!options_.is_static) schedule(grant->renewable ? grant->ttl_s * 1000 : -grant->ttl_s * 1000);
  deliver(nullptr);
}

// Hands the outcome to every waiter; a waiter may close us, so stop as soon as that happens.
void TokenManager::deliver(const Result<TokenGrant>* failure) {
  std::vector<TokenDone> waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) {
    if (closed_) return;
    if (failure != nullptr) {
      w(failure->error());
    } else if (token_) {
      w(CurrentToken{token_->clone(), generation_});
    } else {
      w(Error(ErrorCode::kAuth, "vault token was invalidated during login"));
    }
  }
}

// ttl_ms > 0: renewable, renew at the fraction; < 0: not renewable, stale at the fraction of
// |ttl|; 0: no expiry, nothing to do.
void TokenManager::schedule(int64_t ttl_ms) {
  if (timer_.get() != nullptr) uv_timer_stop(timer_.get());
  stale_at_ = 0;
  ttl_ms_ = ttl_ms < 0 ? -ttl_ms : ttl_ms;
  granted_at_ = uv_now(loop_);
  if (ttl_ms == 0) return;
  const auto at = static_cast<uint64_t>(static_cast<double>(ttl_ms_) * options_.renew_fraction);
  if (ttl_ms < 0 || timer_.get() == nullptr) {
    stale_at_ = uv_now(loop_) + at;
    return;
  }
  uv_timer_start(timer_.get(), &TokenManager::on_timer, at, 0);
}

void TokenManager::on_timer(uv_timer_t* t) noexcept {
  static_cast<TokenManager*>(t->data)->renew();
}

void TokenManager::renew() {
  if (closed_ || !token_ || renewing_) return;
  renewing_ = true;
  const int64_t remaining = ttl_ms_ - static_cast<int64_t>(uv_now(loop_) - granted_at_);
  const uint64_t gen = generation_;
  hooks_.renew(*token_, [this, remaining, gen](Result<TokenGrant> grant) {
    renewing_ = false;
    if (closed_ || gen != generation_) return;
    on_renewed(std::move(grant), remaining);
  });
}

// A renewal that does not really extend the token (max TTL reached) ends renewals: the token is
// used until the fraction of what is left, then the next caller logs in.
void TokenManager::on_renewed(Result<TokenGrant> grant, int64_t remaining_ms) {
  if (!grant) {
    log::warn(kComponent, "vault_token_renew_failed", {{"error", grant.error()}});
    return drop();
  }
  const int64_t ttl_ms = grant->ttl_s * 1000;
  if (!grant->token.empty() && !(grant->token == *token_)) {
    token_ = std::move(grant->token);
    ++generation_;
  }
  if (ttl_ms <= 0) return schedule(0);
  // Worth renewing again only if this renewal gained at least half a renewal interval.
  const double interval = static_cast<double>(ttl_ms_) * options_.renew_fraction;
  const bool extended = static_cast<double>(ttl_ms - remaining_ms) >= interval / 2;
  schedule(extended ? ttl_ms : -ttl_ms);
}

}  // namespace esd::providers::vault
