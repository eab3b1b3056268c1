// TokenManager: the one Vault token of a client. Logins are single-flight (callers that arrive
// while one runs wait for it); a renewable token is renewed with renew-self at `renew_fraction`
// of its TTL by a uv timer; a failed renewal drops the token so the next caller logs in again. A
// static token (tokenSecretRef) is re-read at most once per `static_recheck_ms` of loop time and
// never renewed. Owned by the VaultClient's core, on the loop thread. get() may call back from
// inside the call; after close() nothing is called back and the timer is closed.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"
#include "daemon/loop/uv_handle.h"
#include "providers/vault/vault_auth.h"

namespace esd::providers::vault {

struct TokenOptions {
  bool is_static = false;
  double renew_fraction = 2.0 / 3.0;
  int64_t static_recheck_ms = 1000;
};

// The token handed to a request, with its generation (to report it invalid later).
struct CurrentToken {
  Sensitive token;
  uint64_t generation = 0;
};

class TokenManager {
 public:
  using GrantDone = std::function<void(Result<TokenGrant>)>;
  struct Hooks {
    std::function<void(GrantDone)> login;                         // static read or login
    std::function<void(const Sensitive& token, GrantDone)> renew;  // renew-self
  };
  using TokenDone = std::function<void(Result<CurrentToken>)>;

  TokenManager(uv_loop_t* loop, Hooks hooks, TokenOptions options);
  ~TokenManager();
  TokenManager(const TokenManager&) = delete;
  TokenManager& operator=(const TokenManager&) = delete;

  // The current token, or the result of the (possibly shared) login that fetches one.
  void get(TokenDone done);
  // A request says the token of `generation` is invalid: forget it (no-op if already replaced).
  void invalidate(uint64_t generation);
  void close();

  uint64_t generation() const { return generation_; }
  bool has_token() const { return token_.has_value(); }
  // For close(): the token to revoke, if it came from a login (never a static one).
  std::optional<Sensitive> take_revocable();

 private:
  static void on_timer(uv_timer_t* t) noexcept;
  bool usable() const;
  void start_login();
  void on_login(Result<TokenGrant> grant);
  void deliver(const Result<TokenGrant>* failure);
  void schedule(int64_t ttl_ms);
  void renew();
  void on_renewed(Result<TokenGrant> grant, int64_t remaining_ms);
  void drop();

  uv_loop_t* loop_;
  Hooks hooks_;
  TokenOptions options_;
  UvHandle<uv_timer_t> timer_;
  std::optional<Sensitive> token_;
  uint64_t generation_ = 0;
  uint64_t fetched_at_ = 0;    // loop time of the last static read
  uint64_t stale_at_ = 0;      // loop time after which a login is due (0 = never)
  uint64_t granted_at_ = 0;    // loop time the current TTL was granted
  int64_t ttl_ms_ = 0;         // TTL of the current token when last granted
  bool logging_in_ = false;
  bool renewing_ = false;
  bool closed_ = false;
  std::vector<TokenDone> waiters_;
};

}  // namespace esd::providers::vault
