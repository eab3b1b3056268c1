// CredentialProvider (aws_credentials.h): the first credentials (IRSA, secretRef, default chain),
// the role chain through STS, per-layer caching until shortly before expiry, single-flight
// refreshes, invalidate() and close().
#include "providers/aws/aws_credentials.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "daemon/common/log.h"
#include "daemon/loop/deferrer.h"
#include "providers/aws/aws_default_chain.h"
#include "providers/aws/aws_sts.h"
#include "providers/aws/aws_transfers.h"

namespace esd::providers::aws {
namespace {

constexpr std::string_view kComponent = "aws";
constexpr int64_t kStaticRecheckMs = 10'000;  // secretRef keys re-read at most this often
constexpr int64_t kMaxMarginMs = 5 * 60'000;  // refresh 5 min (or a tenth) before expiry
constexpr int64_t kTokenExpirationS = 600;    // IRSA TokenRequest lifetime
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr std::string_view kRoleArnAnnotation = "eks.amazonaws.com/role-arn";
constexpr std::string_view kAudienceAnnotation = "eks.amazonaws.com/audience";
constexpr std::string_view kDefaultAudience = "sts.amazonaws.com";

using CredsResult = Result<std::shared_ptr<const Credentials>>;

int64_t refresh_time(int64_t now_ms, int64_t expires_ms) {
  if (expires_ms < 0) return kNever;
  const int64_t lifetime = std::max<int64_t>(0, expires_ms - now_ms);
  return expires_ms - std::min(kMaxMarginMs, lifetime / 10);
}

// A reference that cannot be read is a credentials problem, never "the secret does not exist"
// (kNotFound would drive the ExternalSecret's deletionPolicy).
Error ref_error(const Error& e, const std::string& what) {
  ErrorCode code = e.code;
  if (code == ErrorCode::kNotFound || code == ErrorCode::kInvalidRef) code = ErrorCode::kAuth;
  Error out(code, "cannot read " + what + ": " + e.message, e.native);
  out.retry_after_ms = e.retry_after_ms;
  return out;
}

Sensitive trimmed(const Sensitive& s) {
  std::string_view v = s.view();
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front())) != 0) v.remove_prefix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back())) != 0) v.remove_suffix(1);
  return Sensitive(v);
}

struct Layer {
  std::shared_ptr<const Credentials> creds;
  int64_t refresh_at_ms = 0;
};

// The three secretRef reads, joined.
struct KeyJoin {
  std::optional<Result<Sensitive>> slots[3];
  int pending = 0;
  TimedDone done;
};

class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(AwsSpec spec, CredentialDeps deps);
  void get(CredsDone done);
  void invalidate();
  void close();

 private:
  int64_t now() const { return deps_.ctx.clock->now_ms(); }
  size_t top() const { return roles_.size(); }
  bool fresh(size_t i) const { return layers_[i] && now() < layers_[i]->refresh_at_ms; }
  std::string sa_label() const;
  AssumeRoleInput role_input(size_t layer) const;

  void start_refresh();
  void fetch_first(TimedDone done);
  void fetch_irsa(TimedDone done);
  void irsa_token(const std::map<std::string, std::string>& annotations, TimedDone done);
  void fetch_secret_ref(TimedDone done);
  void read_key(const std::shared_ptr<KeyJoin>& join, int slot, const KeySel& sel,
                const std::string& label);
  void keys_read(KeyJoin& join);
  void build_from(size_t layer, std::shared_ptr<const Credentials> prev, uint64_t gen);
  void store(size_t layer, const TimedCredentials& t, uint64_t gen);
  void finish(CredsResult r);
  void deliver(std::vector<CredsDone> waiters, const CredsResult& r);

  AwsSpec spec_;
  CredentialDeps deps_;
  std::shared_ptr<AwsTransfers> transfers_;
  std::shared_ptr<StsClient> sts_;
  std::vector<std::string> roles_;            // layer i ≥ 1 assumes roles_[i - 1]
  std::vector<std::optional<Layer>> layers_;  // 0: first credentials, then one per role
  std::vector<CredsDone> waiters_;
  uint64_t generation_ = 0;  // bumped by invalidate(): older refreshes are not cached
  bool refreshing_ = false;
  bool in_get_ = false;
  bool closed_ = false;
};

Core::Core(AwsSpec spec, CredentialDeps deps) : spec_(std::move(spec)), deps_(std::move(deps)) {
  transfers_ = std::make_shared<AwsTransfers>(deps_.ctx.http);
  sts_ = std::make_shared<StsClient>(transfers_, deps_.ctx.clock, deps_.ctx.count_call,
                                     deps_.endpoints.sts, spec_.region);
  roles_ = spec_.additional_roles;
  if (!spec_.role.empty()) roles_.push_back(spec_.role);
  layers_.resize(roles_.size() + 1);
}

void Core::get(CredsDone done) {
  if (closed_) return;
  if (fresh(top())) {
    deps_.ctx.deferrer->post(
        [w = weak_from_this(), creds = layers_[top()]->creds, done = std::move(done)] {
          auto self = w.lock();
          if (self && !self->closed_) done(creds);
        });
    return;
  }
  waiters_.push_back(std::move(done));
  if (refreshing_) return;
  refreshing_ = true;
  in_get_ = true;
  start_refresh();
  in_get_ = false;
}

void Core::invalidate() {
  ++generation_;
  for (auto& layer : layers_) layer.reset();
}

void Core::close() {
  if (closed_) return;
  closed_ = true;
  transfers_->cancel_all();
  waiters_.clear();
  for (auto& layer : layers_) layer.reset();
}

void Core::start_refresh() {
  const uint64_t gen = generation_;
  for (size_t i = top(); i-- > 0;) {
    if (fresh(i)) return build_from(i + 1, layers_[i]->creds, gen);
  }
  fetch_first([w = weak_from_this(), gen](Result<TimedCredentials> r) {
    auto self = w.lock();
    if (!self || self->closed_) return;
    if (!r) return self->finish(std::move(r).error());
    self->store(0, *r, gen);
    self->build_from(1, r->creds, gen);
  });
}

void Core::fetch_first(TimedDone done) {
  switch (spec_.auth.kind) {
    case AuthKind::kServiceAccount:
      return fetch_irsa(std::move(done));
    case AuthKind::kSecretRef:
      return fetch_secret_ref(std::move(done));
    case AuthKind::kDefaultChain: {
      ChainDeps chain{deps_.env, transfers_, sts_, {}};
      return resolve_default_chain(chain, std::move(done));
    }
  }
}

std::string Core::sa_label() const {
  std::string ns = spec_.auth.sa_ns;
  if (ns.empty())
    ns = deps_.ctx.es_namespace.empty() ? deps_.ctx.store_namespace : deps_.ctx.es_namespace;
  return ns + "/" + spec_.auth.sa_name;
}

void Core::fetch_irsa(TimedDone done) {
  const RefReader& refs = deps_.ctx.refs;
  if (!refs.read_sa_annotations || !deps_.ctx.tokens.request_token) {
    return done(Error(ErrorCode::kInternal, "no ServiceAccount access for AWS IRSA"));
  }
  refs.read_sa_annotations(
      spec_.auth.sa_ns, spec_.auth.sa_name,
      [w = weak_from_this(),
       done = std::move(done)](Result<std::map<std::string, std::string>> r) mutable {
        auto self = w.lock();
        if (!self || self->closed_) return;
        if (!r) return done(ref_error(r.error(), "serviceaccount " + self->sa_label()));
        self->irsa_token(*r, std::move(done));
      });
}

void Core::irsa_token(const std::map<std::string, std::string>& annotations, TimedDone done) {
  auto role = annotations.find(std::string(kRoleArnAnnotation));
  if (role == annotations.end() || role->second.empty()) {
    return done(Error(ErrorCode::kInvalidConfig, "serviceaccount " + sa_label() + " has no " +
                                                     std::string(kRoleArnAnnotation) +
                                                     " annotation"));
  }
  std::vector<std::string> audiences;
  auto aud = annotations.find(std::string(kAudienceAnnotation));
  audiences.push_back(aud != annotations.end() && !aud->second.empty()
                          ? aud->second
                          : std::string(kDefaultAudience));
  for (const auto& a : spec_.auth.sa_audiences) audiences.push_back(a);
  deps_.ctx.tokens.request_token(
      spec_.auth.sa_ns, spec_.auth.sa_name, std::move(audiences), kTokenExpirationS,
      [w = weak_from_this(), role_arn = role->second,
       done = std::move(done)](Result<Sensitive> token) mutable {
        auto self = w.lock();
        if (!self || self->closed_) return;
        if (!token) {
          return done(ref_error(token.error(), "a token for serviceaccount " + self->sa_label()));
        }
        self->sts_->assume_role_with_web_identity(role_arn, std::string(kSessionName),
                                                  std::move(*token), std::move(done));
      });
}

void Core::fetch_secret_ref(TimedDone done) {
  if (!deps_.ctx.refs.read_secret_key) {
    return done(Error(ErrorCode::kInternal, "no Secret reader for AWS auth.secretRef"));
  }
  const AuthSpec& a = spec_.auth;
  auto join = std::make_shared<KeyJoin>();
  join->done = std::move(done);
  join->pending = a.session_token.set() ? 3 : 2;
  // Count every read before starting any: a reader may answer from inside the call.
  read_key(join, 0, a.access_key_id, "auth.secretRef.accessKeyIDSecretRef");
  read_key(join, 1, a.secret_access_key, "auth.secretRef.secretAccessKeySecretRef");
  if (a.session_token.set())
    read_key(join, 2, a.session_token, "auth.secretRef.sessionTokenSecretRef");
}

void Core::read_key(const std::shared_ptr<KeyJoin>& join, int slot, const KeySel& sel,
                    const std::string& label) {
  const std::string what = label + " (secret " + sel.name + ", key " + sel.key + ")";
  deps_.ctx.refs.read_secret_key(
      sel.ns, sel.name, sel.key, [w = weak_from_this(), join, slot, what](Result<Sensitive> r) {
        auto self = w.lock();
        if (!self || self->closed_ || join->slots[slot]) return;
        if (!r) {
          join->slots[slot] = ref_error(r.error(), what);
        } else if (trimmed(*r).empty()) {
          join->slots[slot] = Result<Sensitive>(Error(ErrorCode::kAuth, what + " is empty"));
        } else {
          join->slots[slot] = trimmed(*r);
        }
        if (--join->pending == 0) self->keys_read(*join);
      });
}

void Core::keys_read(KeyJoin& join) {
  for (auto& slot : join.slots) {
    if (slot && !*slot) return join.done(slot->error());
  }
  auto creds = std::make_shared<Credentials>();
  creds->access_key_id = std::string(join.slots[0]->value().view());
  creds->secret_access_key = std::move(join.slots[1]->value());
  if (join.slots[2]) creds->session_token = std::move(join.slots[2]->value());
  join.done(TimedCredentials{std::move(creds), -1});
}

AssumeRoleInput Core::role_input(size_t layer) const {
  AssumeRoleInput in;
  in.role_arn = roles_[layer - 1];
  const bool is_role = !spec_.role.empty() && layer == roles_.size();
  if (!is_role) return in;
  in.external_id = spec_.external_id;
  in.tags = spec_.session_tags;
  in.transitive_tag_keys = spec_.transitive_tag_keys;
  if (spec_.session_tags_policy != SessionTagsPolicy::kNone) {
    const ProviderContext& c = deps_.ctx;
    in.tags.emplace_back("esoNamespace",
                         c.es_namespace.empty() ? c.store_namespace : c.es_namespace);
    in.tags.emplace_back("esoStoreName", c.store_name);
    in.tags.emplace_back("esoStoreKind", c.store_kind);
  }
  if (spec_.session_tags_policy == SessionTagsPolicy::kCustom) {
    for (const auto& [k, v] : spec_.custom_session_tags) in.tags.emplace_back(k, v);
  }
  return in;
}

void Core::build_from(size_t layer, std::shared_ptr<const Credentials> prev, uint64_t gen) {
  if (layer > top()) return finish(std::move(prev));
  sts_->assume_role(*prev, role_input(layer),
                    [w = weak_from_this(), layer, gen](Result<TimedCredentials> r) {
                      auto self = w.lock();
                      if (!self || self->closed_) return;
                      if (!r) return self->finish(std::move(r).error());
                      self->store(layer, *r, gen);
                      self->build_from(layer + 1, r->creds, gen);
                    });
}

void Core::store(size_t layer, const TimedCredentials& t, uint64_t gen) {
  if (gen != generation_) return;  // invalidated meanwhile: deliver, but do not keep
  const int64_t now_ms = now();
  const bool static_keys = layer == 0 && spec_.auth.kind == AuthKind::kSecretRef;
  layers_[layer] =
      Layer{t.creds, static_keys ? now_ms + kStaticRecheckMs : refresh_time(now_ms, t.expires_ms)};
  log::debug(kComponent, "aws_credentials_refreshed",
             {{"store", deps_.ctx.store_name},
              {"layer", static_cast<int>(layer)},
              {"expires_in_s",
               t.expires_ms < 0 ? -1L : static_cast<long>((t.expires_ms - now_ms) / 1000)}});
}

void Core::finish(CredsResult r) {
  refreshing_ = false;
  std::vector<CredsDone> waiters = std::move(waiters_);
  waiters_.clear();
  if (!in_get_) return deliver(std::move(waiters), r);
  // Completed from inside get() (answers known at once): deliver on a later loop turn.
  deps_.ctx.deferrer->post([w = weak_from_this(), waiters = std::move(waiters), r]() mutable {
    auto self = w.lock();
    if (self && !self->closed_) self->deliver(std::move(waiters), r);
  });
}

void Core::deliver(std::vector<CredsDone> waiters, const CredsResult& r) {
  auto keep_alive = shared_from_this();  // a waiter may drop the provider
  for (auto& done : waiters) {
    if (closed_) return;
    done(r);
  }
}

class CachingCredentialProvider final : public CredentialProvider {
 public:
  explicit CachingCredentialProvider(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  ~CachingCredentialProvider() override { core_->close(); }
  void get(CredsDone done) override { core_->get(std::move(done)); }
  void invalidate() override { core_->invalidate(); }
  void close() override { core_->close(); }

 private:
  std::shared_ptr<Core> core_;
};

Status check_spec(const AwsSpec& spec, const CredentialDeps& deps) {
  const ProviderContext& c = deps.ctx;
  if (c.http == nullptr || c.deferrer == nullptr) {
    return Error(ErrorCode::kInternal, "AWS credentials need an HTTP client and a deferrer");
  }
  if (spec.auth.kind == AuthKind::kServiceAccount && spec.auth.sa_name.empty()) {
    return Error(ErrorCode::kInvalidConfig, "auth.jwt.serviceAccountRef.name is required");
  }
  if (spec.auth.kind == AuthKind::kSecretRef &&
      (!spec.auth.access_key_id.set() || !spec.auth.secret_access_key.set())) {
    return Error(ErrorCode::kInvalidConfig,
                 "auth.secretRef needs accessKeyIDSecretRef and secretAccessKeySecretRef");
  }
  for (const auto& role : spec.additional_roles) {
    if (role.empty()) return Error(ErrorCode::kInvalidConfig, "additionalRoles: empty role ARN");
  }
  if (deps.endpoints.sts.empty()) return Error(ErrorCode::kInvalidConfig, "no STS endpoint");
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<CredentialProvider>> make_credential_provider(const AwsSpec& spec,
                                                                     CredentialDeps deps) {
  ESD_RETURN_IF_ERROR(check_spec(spec, deps));
  static const SystemClock kSystemClock;
  if (deps.ctx.clock == nullptr) deps.ctx.clock = &kSystemClock;
  if (!deps.env) deps.env = process_env();
  auto core = std::make_shared<Core>(spec, std::move(deps));
  return std::unique_ptr<CredentialProvider>(
      std::make_unique<CachingCredentialProvider>(std::move(core)));
}

}  // namespace esd::providers::aws
