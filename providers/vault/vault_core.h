// VaultCore: the request pipeline shared by everything a VaultClient does. One call goes:
// TLS material loaded (once; again after a transport failure) → token from the TokenManager →
// HTTP → retries of transient/429 failures on a uv timer → on 403, lookup-self decides whether
// the token is invalid (then one re-login and one retry) or the policy denies (kPermission).
// Identical concurrent reads share one HTTP call. Owned through a shared_ptr by the VaultClient;
// asynchronous continuations hold a weak_ptr. After close() no callback runs, every transfer is
// cancelled and every timer closed. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/http/http_client.h"
#include "providers/provider.h"
#include "providers/vault/vault_spec.h"
#include "providers/vault/vault_token.h"

namespace esd::providers::vault {

inline constexpr std::string_view kProviderLabel = "HashiCorp/Vault";

// Knobs for tests; the defaults are the production behaviour.
struct ClientOptions {
  double renew_fraction = 2.0 / 3.0;
  int64_t static_recheck_ms = 1000;  // tokenSecretRef re-read at most this often
  int64_t backoff_base_ms = 1000;    // Vault client: 1 s, then 1.5 s
  int64_t max_retry_after_ms = 10'000;  // longer Retry-After hints go back to the controller
  int64_t request_timeout_ms = 60'000;
};

enum class CallAuth { kToken, kLogin, kGiven };

struct Call {
  std::string method = "GET";
  std::string path;   // relative to /v1/, escaped
  std::string query;  // without '?'
  Sensitive body;
  std::string_view metric;  // ESO call name for count_call
  CallAuth auth = CallAuth::kToken;
  Sensitive given_token;  // kGiven (renew-self, lookup-self, revoke-self)
};

using ResponseDone = std::function<void(Result<HttpResponse>)>;
using SharedDone = std::function<void(const Result<HttpResponse>&)>;

class VaultCore : public std::enable_shared_from_this<VaultCore> {
 public:
  VaultCore(VaultSpec spec, ProviderContext ctx, ClientOptions options);
  ~VaultCore();
  VaultCore(const VaultCore&) = delete;
  VaultCore& operator=(const VaultCore&) = delete;
  void init();  // after construction through make_shared (needs weak_from_this)

  const VaultSpec& spec() const { return spec_; }
  const ProviderContext& ctx() const { return ctx_; }
  bool closed() const { return closed_; }

  // One API call with retries and the 403 rule; `done` runs exactly once unless closed.
  void send(Call call, ResponseDone done);
  // A GET shared with identical GETs in flight.
  void read_shared(const std::string& path, const std::string& query, std::string_view metric,
                   SharedDone done);
  // Stops everything; revokes a login token (fire and forget, not a static one).
  void close();

 private:
  struct Op;
  using OpPtr = std::shared_ptr<Op>;

  void run(const OpPtr& op);
  void with_token(const OpPtr& op);
  void dispatch(const OpPtr& op);
  void on_response(uint64_t id, Result<HttpResponse> r);
  bool maybe_retry(const OpPtr& op, const Error& e);
  void on_forbidden(const OpPtr& op);
  void finish(const OpPtr& op, Result<HttpResponse> r);
  static void on_retry_timer(uv_timer_t* t) noexcept;
  HttpRequest build(const Call& call, const Sensitive* token) const;
  bool tracks_index() const { return spec_.read_your_writes || spec_.forward_inconsistent; }

  void prepare_tls(std::function<void(Status)> done);
  void load_tls_step(std::shared_ptr<TlsOptions> opts, size_t step);
  void tls_loaded(Status s, std::shared_ptr<TlsOptions> opts);

  void login(TokenManager::GrantDone done);
  void renew(const Sensitive& token, TokenManager::GrantDone done);
  void check_token(uint64_t generation, const Sensitive& token, std::function<void(bool)> done);

  VaultSpec spec_;
  ProviderContext ctx_;
  ClientOptions options_;
  std::weak_ptr<VaultCore> weak_;
  std::unique_ptr<TokenManager> tokens_;
  std::map<uint64_t, OpPtr> ops_;
  uint64_t next_op_ = 0;
  std::map<std::string, std::vector<SharedDone>> inflight_;
  std::shared_ptr<const TlsOptions> tls_;
  bool tls_stale_ = true;
  bool tls_loading_ = false;
  std::vector<std::function<void(Status)>> tls_waiters_;
  std::map<uint64_t, std::vector<std::function<void(bool)>>> lookups_;
  // The token generation lookup-self last confirmed valid, and when (loop time): for a minute a
  // policy 403 with that token costs no further lookup-self.
  std::optional<uint64_t> confirmed_generation_;
  uint64_t confirmed_at_ms_ = 0;
  std::string vault_index_;  // last X-Vault-Index (readYourWrites)
  bool closed_ = false;
};

}  // namespace esd::providers::vault
