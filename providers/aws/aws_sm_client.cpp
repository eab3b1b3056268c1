// The Secrets Manager SecretClient (aws_sm_client.h): routes each remoteRef to the batcher, a
// shared GetSecretValue or a shared DescribeSecret, then shapes values the ESO way.
#include "providers/aws/aws_sm_client.h"

#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "daemon/loop/deferrer.h"
#include "providers/aws/aws_client_util.h"
#include "providers/aws/aws_sm_api.h"
#include "providers/aws/aws_sm_find.h"
#include "providers/aws/aws_sm_values.h"

namespace esd::providers::aws {
namespace {

using FetchDone = std::function<void(Result<Fetched>)>;

class SmCore : public std::enable_shared_from_this<SmCore> {
 public:
  SmCore(AwsSpec spec, std::shared_ptr<CredentialProvider> creds, std::shared_ptr<SmApi> api,
         std::shared_ptr<SmBatcher> batcher)
      : spec_(std::move(spec)),
        creds_(std::move(creds)),
        api_(std::move(api)),
        batcher_(std::move(batcher)) {}
  ~SmCore() { close(); }

  bool closed() const { return closed_; }
  const std::shared_ptr<SmApi>& api() const { return api_; }
  const std::shared_ptr<SmBatcher>& batcher() const { return batcher_; }
  CredentialProvider& creds() { return *creds_; }
  Deferrer& deferrer() const { return *api_->ctx().deferrer; }

  // One remoteRef: its raw value from the right source, then the property rule.
  void fetch(const RemoteRef& ref, FetchDone done) {
    const std::string id = secret_id(spec_, ref.key);
    auto shape = [id, property = ref.property, done = std::move(done)](Result<ValuePtr> r) {
      if (!r) return done(std::move(r).error());
      auto v = select_property((*r)->data, property, id);
      if (!v) return done(std::move(v).error());
      done(Fetched{std::move(*v), (*r)->version_id});
    };
    if (ref.metadata_policy == MetadataPolicy::kFetch) {
      return shared_read("DescribeSecret", id, "metadata", describe_secret_body(id), shape);
    }
    if (is_plain(ref)) return batcher_->get(id, ref.max_age_ms, shape);
    shared_read("GetSecretValue", id, ref.version, get_secret_value_body(id, ref.version), shape);
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    inflight_.clear();
    batcher_->close();
    api_->close();
    creds_->close();
  }

 private:
  // Identical calls in flight share one HTTP call: key (op, id, version or "metadata").
  void shared_read(const std::string& op, const std::string& id, const std::string& variant,
                   std::string body, ValueDone done) {
    const std::string key = op + '\n' + id + '\n' + variant;
    auto& waiters = inflight_[key];
    waiters.push_back(std::move(done));
    if (waiters.size() > 1) return;
    api_->call(op, std::move(body), [w = weak_from_this(), key, id, op](SmReply r) {
      auto self = w.lock();
      if (!self || self->closed_) return;
      Result<ValuePtr> result = to_value(op, id, std::move(r));
      auto it = self->inflight_.find(key);
      if (it == self->inflight_.end()) return;
      std::vector<ValueDone> all = std::move(it->second);
      self->inflight_.erase(it);
      for (auto& d : all) {
        if (self->closed_) return;
        d(result);
      }
    });
  }

  static Result<ValuePtr> to_value(const std::string& op, const std::string& id, SmReply r) {
    if (!r.body) {
      if (r.aws.status != 0) return classify_aws_error(r.aws, id);
      return std::move(r.body).error();
    }
    if (op == "DescribeSecret") {
      auto tags = parse_describe_tags(*r.body);
      if (!tags) return std::move(tags).error();
      auto v = std::make_shared<SmValue>();
      v->name = id;
      v->data = std::move(*tags);
      return ValuePtr(std::move(v));
    }
    auto v = parse_get_secret_value(*r.body);
    if (!v) return std::move(v).error();
    return ValuePtr(std::make_shared<const SmValue>(std::move(*v)));
  }

  AwsSpec spec_;
  std::shared_ptr<CredentialProvider> creds_;
  std::shared_ptr<SmApi> api_;
  std::shared_ptr<SmBatcher> batcher_;
  std::map<std::string, std::vector<ValueDone>> inflight_;
  bool closed_ = false;
};

using CorePtr = std::shared_ptr<SmCore>;

struct Collect {
  std::vector<std::optional<Result<Fetched>>> results;
  size_t pending = 0;
  GetDone done;
};

class SmClient final : public SecretClient {
 public:
  SmClient(CorePtr core, AwsSpec spec) : core_(std::move(core)), spec_(std::move(spec)) {}
  ~SmClient() override { close(); }

  void get_secrets(std::vector<RemoteRef> refs, GetDone done) override {
    if (core_->closed()) return;
    if (refs.empty()) {
      return later([done = std::move(done)] { done({}); });
    }
    auto c = std::make_shared<Collect>();
    c->results.resize(refs.size());
    c->pending = refs.size();
    c->done = std::move(done);
    for (size_t i = 0; i < refs.size(); ++i) {
      core_->fetch(refs[i], [c, i](Result<Fetched> r) {
        c->results[i] = std::move(r);
        if (--c->pending > 0) return;
        std::vector<Result<Fetched>> out;
        out.reserve(c->results.size());
        for (auto& res : c->results) out.push_back(std::move(*res));
        c->done(std::move(out));
      });
    }
  }

  void get_secret_map(RemoteRef ref, MapDone done) override {
    if (core_->closed()) return;
    const std::string id = secret_id(spec_, ref.key);
    core_->fetch(ref, [id, done = std::move(done)](Result<Fetched> r) {
      if (!r) return done(std::move(r).error());
      done(explode_value(r->value, id));
    });
  }

  void get_all_secrets(FindRef find, MapDone done) override {
    if (core_->closed()) return;
    find_secrets(core_->api(), core_->batcher(), std::move(find), std::move(done));
  }

  // ESO's AWS Validate() checks that credentials can be obtained, nothing more.
  void validate(std::function<void(Result<bool>)> done) override {
    validate_credentials(core_, std::move(done));
  }

  void close() override { core_->close(); }

 private:
  template <typename Fn>
  void later(Fn fn) {
    post_unless_closed(core_, std::move(fn));
  }

  CorePtr core_;
  AwsSpec spec_;
};

}  // namespace

Result<std::unique_ptr<SecretClient>> make_sm_client(AwsSpec spec, ProviderContext ctx,
                                                     std::shared_ptr<CredentialProvider> creds,
                                                     std::string endpoint,
                                                     SmClientOptions options) {
  auto setup = json_api_setup(spec, std::move(ctx), creds, std::move(endpoint), options);
  if (!setup) return std::move(setup).error();
  auto api = SmApi::create(std::move(*setup));
  auto batcher = SmBatcher::create(api, options.batch);
  auto core = std::make_shared<SmCore>(spec, std::move(creds), std::move(api), std::move(batcher));
  return std::unique_ptr<SecretClient>(std::make_unique<SmClient>(std::move(core), std::move(spec)));
}

}  // namespace esd::providers::aws
