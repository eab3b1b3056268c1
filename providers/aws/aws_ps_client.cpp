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
#include "providers/aws/aws_ps_batch.h"
#include "providers/aws/aws_ps_values.h"
#include "providers/aws/aws_sm_api.h"
#include "providers/aws/aws_sm_values.h"

namespace esd::providers::aws {
namespace {

using nlohmann::json;
using FetchDone = std::function<void(Result<Fetched>)>;
// A guard against a service that never stops paging.
constexpr int kMaxPages = 10'000;

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
struct FindJob {
  std::weak_ptr<SmApi> api;
  std::weak_ptr<PsBatcher> batcher;
  std::unique_ptr<RE2> re;
  FindRef find;
  SecretMap out;
  size_t pending = 0;  // value reads in flight
  int pages = 0;
  bool listed = false;
  bool finished = false;
  MapDone done;

  bool wanted(const std::string& name) const { return !re || RE2::PartialMatch(name, *re); }
  bool next_page() {
    if (++pages <= kMaxPages) return true;
    fail(Error(ErrorCode::kTransient, "find: too many result pages from Parameter Store"));
    return false;
  }
  void fail(Error e) {
    if (finished) return;
    finished = true;
    done(std::move(e));
  }
  void complete() {
    if (finished || !listed || pending > 0) return;
    finished = true;
    done(std::move(out));
  }
};
using JobPtr = std::shared_ptr<FindJob>;

void describe_page(const JobPtr& job, const std::string& token);

void read_value(const JobPtr& job, const std::string& name) {
  auto batcher = job->batcher.lock();
  if (!batcher) return;
  ++job->pending;
  batcher->get(name, 0, [job, name](Result<PsValuePtr> r) {
    if (job->finished) return;
    --job->pending;
    if (r) {
      job->out.insert_or_assign(name, (*r)->value.clone());
    } else if (r.error().code != ErrorCode::kNotFound) {  // NotFound: deleted since the listing
      return job->fail(std::move(r).error());
    }
    job->complete();
  });
}

void on_describe(const JobPtr& job, SmReply reply) {
  if (job->finished) return;
  if (!reply.body) return job->fail(std::move(reply.body).error());
  auto page = parse_describe_page(*reply.body);
  if (!page) return job->fail(std::move(page).error());
  for (const auto& name : page->names) {
    if (job->wanted(name)) read_value(job, name);
  }
  if (!page->next_token.empty()) return describe_page(job, page->next_token);
  job->listed = true;
  job->complete();
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
  if (job->finished) return;
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
  job->listed = true;
  job->complete();
}

void path_page(const JobPtr& job, const std::string& token) {
  auto api = job->api.lock();
  if (!api || !job->next_page()) return;
  api->call("GetParametersByPath", get_parameters_by_path_body(job->find.path, token),
            [job](SmReply r) { on_path(job, std::move(r)); });
}

void fail_later(const std::shared_ptr<SmApi>& api, MapDone done, Error e) {
  api->ctx().deferrer->post(
      [w = std::weak_ptr<SmApi>(api), done = std::move(done), e = std::move(e)]() mutable {
        auto api = w.lock();
        if (!api || api->closed()) return;
        done(std::move(e));
      });
}

void find_parameters(const std::shared_ptr<SmApi>& api, const std::shared_ptr<PsBatcher>& batcher,
                     FindRef find, MapDone done) {
  if (find.name_regexp.empty() && find.path.empty() && find.tags.empty()) {
    return fail_later(api, std::move(done),
                      Error(ErrorCode::kInvalidConfig, "unexpected find operator"));
  }
  auto job = std::make_shared<FindJob>();
  job->api = api;
  job->batcher = batcher;
  job->done = std::move(done);
  if (!find.name_regexp.empty()) {
    RE2::Options opts;
    opts.set_log_errors(false);
    job->re = std::make_unique<RE2>(find.name_regexp, opts);
    if (!job->re->ok()) {
      return fail_later(
          api, std::move(job->done),
          Error(ErrorCode::kInvalidRef, "invalid find.name.regexp: " + job->re->error()));
    }
  }
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
    if (core_->closed()) return;
    core_->creds().get([w = std::weak_ptr<PsCore>(core_),
                        done = std::move(done)](Result<std::shared_ptr<const Credentials>> c) {
      auto core = w.lock();
      if (!core || core->closed()) return;
      if (!c) return done(std::move(c).error());
      done(true);
    });
  }

  void close() override { core_->close(); }

 private:
  template <typename Fn>
  void later(Fn fn) {
    core_->deferrer().post([w = std::weak_ptr<PsCore>(core_), fn = std::move(fn)]() mutable {
      auto core = w.lock();
      if (!core || core->closed()) return;
      fn();
    });
  }

  CorePtr core_;
};

}  // namespace

Result<std::unique_ptr<SecretClient>> make_ps_client(AwsSpec spec, ProviderContext ctx,
                                                     std::shared_ptr<CredentialProvider> creds,
                                                     std::string endpoint,
                                                     PsClientOptions options) {
  if (ctx.loop == nullptr || ctx.http == nullptr || ctx.deferrer == nullptr || !creds) {
    return Error(ErrorCode::kInternal,
                 "aws provider needs a loop, an HTTP client, a deferrer and credentials");
  }
  SmSetup setup;
  setup.ctx = std::move(ctx);
  setup.creds = creds;
  setup.endpoint = std::move(endpoint);
  while (!setup.endpoint.empty() && setup.endpoint.back() == '/') setup.endpoint.pop_back();
  setup.region = spec.region;
  setup.options.max_retries = spec.max_retries < 0 ? 2 : spec.max_retries;
  setup.options.retry_interval_ms = spec.retry_interval_ms;
  setup.options.backoff_base_ms = options.backoff_base_ms;
  setup.options.backoff_cap_ms = options.backoff_cap_ms;
  setup.options.request_timeout_ms = options.request_timeout_ms;
  setup.target_prefix = "AmazonSSM.";
  setup.signing_service = "ssm";
  setup.metric_provider = std::string(kPsMetricProvider);
  auto api = SmApi::create(std::move(setup));
  auto batcher = std::make_shared<PsBatcher>(api, options);
  auto core = std::make_shared<PsCore>(std::move(spec), std::move(creds), std::move(api),
                                       std::move(batcher));
  return std::unique_ptr<SecretClient>(std::make_unique<PsClient>(std::move(core)));
}

}  // namespace esd::providers::aws
