// The Parameter Store SecretClient (aws_ps_client.h): shared single reads, dataFrom.find, and
// ESO's value shaping; plain reads go through PsBatcher (aws_ps_batch.h).
#include "providers/aws/aws_ps_client.h"

#include <re2/re2.h>
#include <uv.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "daemon/loop/deferrer.h"
#include "daemon/loop/uv_handle.h"
#include "providers/aws/aws_client_util.h"
#include "providers/aws/aws_find_job.h"
#include "providers/aws/aws_ps_batch.h"
#include "providers/aws/aws_ps_values.h"
#include "providers/aws/aws_sm_api.h"
#include "providers/aws/aws_sm_values.h"

namespace esd::providers::aws {
namespace {

using nlohmann::json;
using FetchDone = std::function<void(Result<Fetched>)>;
// A guard against a service that never stops paging.
Result<PsValuePtr> to_value(SmReply r, std::string_view name,
                            Result<PsValue> (*parse)(const Sensitive&)) {
  if (!r.body) {
    if (r.aws.status != 0) return classify_ps_error(r.aws, name);
    return std::move(r.body).error();
  }
  auto v = parse(*r.body);
  if (!v) return std::move(v).error();
  return PsValuePtr(std::make_shared<const PsValue>(std::move(*v)));
}

Result<PsValue> parse_tags_value(const Sensitive& body) {
  auto tags = parse_tag_list(body);
  if (!tags) return std::move(tags).error();
  PsValue v;
  v.value = std::move(*tags);
  return v;
}

// One dataFrom.find: pages of GetParametersByPath, or of DescribeParameters whose names are
// then read through the batcher.
struct FindJob : FindCollector {
  using FindCollector::FindCollector;
  std::weak_ptr<SmApi> api;
  std::weak_ptr<PsBatcher> batcher;
  FindRef find;
};
using JobPtr = std::shared_ptr<FindJob>;

void describe_page(const JobPtr& job, const std::string& token);

void read_value(const JobPtr& job, const std::string& name) {
  auto batcher = job->batcher.lock();
  if (!batcher) return;
  job->read_started();
  batcher->get(name, 0, [job, name](Result<PsValuePtr> r) {
    job->read_done(name, r ? Result<Sensitive>((*r)->value.clone()) : std::move(r).error());
  });
}

void on_describe(const JobPtr& job, SmReply reply) {
  if (job->finished()) return;
  if (!reply.body) return job->fail(std::move(reply.body).error());
  auto page = parse_describe_page(*reply.body);
  if (!page) return job->fail(std::move(page).error());
  for (const auto& name : page->names) {
    if (job->wanted(name)) read_value(job, name);
  }
  if (!page->next_token.empty()) return describe_page(job, page->next_token);
  job->listed();
}

void describe_page(const JobPtr& job, const std::string& token) {
  auto api = job->api.lock();
  if (!api || !job->next_page()) return;
  const bool by_name = job->find.tags.empty();  // the by-path fallback always filters by path
  const json filters = parameter_filters(job->find, by_name);
  api->call("DescribeParameters", describe_parameters_body(filters, token),
            [job](SmReply r) { on_describe(job, std::move(r)); });
}

void path_page(const JobPtr& job, const std::string& token);

void on_path(const JobPtr& job, SmReply reply) {
  if (job->finished()) return;
  if (!reply.body) {
    // ESO's fallback: listing is allowed where reading by path is not.
    if (reply.aws.code == "AccessDeniedException") return describe_page(job, "");
    return job->fail(std::move(reply.body).error());
  }
  auto page = parse_parameters_page(*reply.body);
  if (!page) return job->fail(std::move(page).error());
  for (auto& v : page->values) {
    if (job->wanted(v.name)) job->out.insert_or_assign(v.name, std::move(v.value));
  }
  if (!page->next_token.empty()) return path_page(job, page->next_token);
  job->listed();
}

void path_page(const JobPtr& job, const std::string& token) {
  auto api = job->api.lock();
  if (!api || !job->next_page()) return;
  api->call("GetParametersByPath", get_parameters_by_path_body(job->find.path, token),
            [job](SmReply r) { on_path(job, std::move(r)); });
}

void find_parameters(const std::shared_ptr<SmApi>& api, const std::shared_ptr<PsBatcher>& batcher,
                     FindRef find, MapDone done) {
  auto job = make_find_job<FindJob>(api, find, "Parameter Store", std::move(done));
  if (!job) return;
  job->api = api;
  job->batcher = batcher;
  job->find = std::move(find);
  if (job->find.tags.empty()) return path_page(job, "");
  describe_page(job, "");
}

// The client's state, shared with continuations through weak_ptrs.
class PsCore : public std::enable_shared_from_this<PsCore> {
 public:
  PsCore(AwsSpec spec, std::shared_ptr<CredentialProvider> creds, std::shared_ptr<SmApi> api,
         std::shared_ptr<PsBatcher> batcher)
      : spec_(std::move(spec)),
        creds_(std::move(creds)),
        api_(std::move(api)),
        batcher_(std::move(batcher)) {}
  ~PsCore() { close(); }

  bool closed() const { return closed_; }
  const AwsSpec& spec() const { return spec_; }
  const std::shared_ptr<SmApi>& api() const { return api_; }
  const std::shared_ptr<PsBatcher>& batcher() const { return batcher_; }
  CredentialProvider& creds() { return *creds_; }
  Deferrer& deferrer() const { return *api_->ctx().deferrer; }

  // One remoteRef: its raw value from the right source, then the property rule.
  void fetch(const RemoteRef& ref, FetchDone done) {
    const std::string key = spec_.prefix + ref.key;
    auto shape = [key, property = ref.property, done = std::move(done)](Result<PsValuePtr> r) {
      if (!r) return done(std::move(r).error());
      auto v = select_property((*r)->value, property, key);
      if (!v) return done(std::move(v).error());
      done(Fetched{std::move(*v), (*r)->version});
    };
    if (ref.metadata_policy == MetadataPolicy::kFetch) {
      return shared_read("ListTagsForResource", key, list_tags_body(key), &parse_tags_value,
                         std::move(shape));
    }
    const std::string name = parameter_name(spec_, ref);
    if (is_plain_parameter(ref)) return batcher_->get(name, ref.max_age_ms, std::move(shape));
    shared_read("GetParameter", name, get_parameter_body(name), &parse_get_parameter,
                std::move(shape));
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
  using Parse = Result<PsValue> (*)(const Sensitive&);

  // Identical calls in flight share one HTTP call: key (op, name).
  void shared_read(const std::string& op, const std::string& name, std::string body, Parse parse,
                   PsDone done) {
    const std::string key = op + '\n' + name;
    auto& waiters = inflight_[key];
    waiters.push_back(std::move(done));
    if (waiters.size() > 1) return;
    api_->call(op, std::move(body), [w = weak_from_this(), key, name, parse](SmReply r) {
      auto self = w.lock();
      if (!self || self->closed_) return;
      Result<PsValuePtr> result = to_value(std::move(r), name, parse);
      auto it = self->inflight_.find(key);
      if (it == self->inflight_.end()) return;
      std::vector<PsDone> all = std::move(it->second);
      self->inflight_.erase(it);
      for (auto& d : all) {
        if (self->closed_) return;
        d(result);
      }
    });
  }

  AwsSpec spec_;
  std::shared_ptr<CredentialProvider> creds_;
  std::shared_ptr<SmApi> api_;
  std::shared_ptr<PsBatcher> batcher_;
  std::map<std::string, std::vector<PsDone>> inflight_;
  bool closed_ = false;
};

using CorePtr = std::shared_ptr<PsCore>;

struct Collect {
  std::vector<std::optional<Result<Fetched>>> results;
  size_t pending = 0;
  GetDone done;
};

class PsClient final : public SecretClient {
 public:
  explicit PsClient(CorePtr core) : core_(std::move(core)) {}
  ~PsClient() override { close(); }

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
    const std::string key = core_->spec().prefix + ref.key;
    core_->fetch(ref, [key, done = std::move(done)](Result<Fetched> r) {
      if (!r) return done(std::move(r).error());
      done(explode_value(r->value, key));
    });
  }

  void get_all_secrets(FindRef find, MapDone done) override {
    if (core_->closed()) return;
    find_parameters(core_->api(), core_->batcher(), std::move(find), std::move(done));
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
};

}  // namespace

Result<std::unique_ptr<SecretClient>> make_ps_client(AwsSpec spec, ProviderContext ctx,
                                                     std::shared_ptr<CredentialProvider> creds,
                                                     std::string endpoint,
                                                     PsClientOptions options) {
  auto setup = json_api_setup(spec, std::move(ctx), creds, std::move(endpoint), options);
  if (!setup) return std::move(setup).error();
  setup->target_prefix = "AmazonSSM.";
  setup->signing_service = "ssm";
  setup->metric_provider = std::string(kPsMetricProvider);
  auto api = SmApi::create(std::move(*setup));
  auto batcher = std::make_shared<PsBatcher>(api, options);
  auto core = std::make_shared<PsCore>(std::move(spec), std::move(creds), std::move(api),
                                       std::move(batcher));
  return std::unique_ptr<SecretClient>(std::make_unique<PsClient>(std::move(core)));
}

}  // namespace esd::providers::aws
