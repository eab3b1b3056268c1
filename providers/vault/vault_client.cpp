#include "providers/vault/vault_client.h"

#include <re2/re2.h>

#include <optional>
#include <utility>
#include <vector>

#include "daemon/loop/deferrer.h"
#include "providers/vault/vault_kv.h"

namespace esd::providers::vault {
namespace {

using CorePtr = std::shared_ptr<VaultCore>;
using FetchDone = std::function<void(Result<Fetched>)>;

Error read_error(const Error& e) {
  Error out(e.code, "cannot read secret data from Vault: " + e.message, e.native);
  out.retry_after_ms = e.retry_after_ms;
  return out;
}

void fetch_metadata(const CorePtr& core, const RemoteRef& ref, FetchDone done) {
  auto path = metadata_path(core->spec(), ref.key);
  if (!path) return done(std::move(path).error());
  core->read_shared(*path, "", "ReadSecretData",
                    [p = *path, property = ref.property, done](const Result<HttpResponse>& r) {
                      if (!r) return done(read_error(r.error()));
                      auto m = parse_metadata(*r, p);
                      if (!m) return done(std::move(m).error());
                      auto v = metadata_value(*m, property);
                      if (!v) return done(std::move(v).error());
                      done(Fetched{std::move(*v), ""});
                    });
}

// One remoteRef: a shared read of its path and version, then ESO's value rules.
void fetch_value(const CorePtr& core, const RemoteRef& ref, FetchDone done) {
  if (ref.metadata_policy == MetadataPolicy::kFetch) return fetch_metadata(core, ref, done);
  auto query = version_query(core->spec(), ref.version);
  if (!query) return done(std::move(query).error());
  const std::string path = data_path(core->spec(), ref.key);
  const KvVersion kv = core->spec().version;
  core->read_shared(path, *query, "ReadSecretData",
                    [path, kv, property = ref.property, done](const Result<HttpResponse>& r) {
                      if (!r) return done(read_error(r.error()));
                      auto s = parse_read(*r, kv, path);
                      if (!s) return done(std::move(s).error());
                      auto v = secret_value(s->data, property);
                      if (!v) return done(std::move(v).error());
                      done(Fetched{std::move(*v), s->version});
                    });
}

struct Batch {
  std::vector<std::optional<Result<Fetched>>> results;
  size_t pending = 0;
  GetDone done;
};

void start_batch(const CorePtr& core, std::vector<RemoteRef> refs, GetDone done) {
  auto batch = std::make_shared<Batch>();
  batch->results.resize(refs.size());
  batch->pending = refs.size();
  batch->done = std::move(done);
  if (refs.empty()) return batch->done({});
  for (size_t i = 0; i < refs.size(); ++i) {
    fetch_value(core, refs[i], [batch, i](Result<Fetched> r) {
      batch->results[i] = std::move(r);
      if (--batch->pending > 0) return;
      std::vector<Result<Fetched>> out;
      out.reserve(batch->results.size());
      for (auto& res : batch->results) out.push_back(std::move(*res));
      batch->done(std::move(out));
    });
  }
}

// dataFrom.find: recursive LIST, then the matching secrets' values (ESO's GetAllSecrets).
struct FindJob {
  std::weak_ptr<VaultCore> core;
  FindRef find;
  std::unique_ptr<RE2> re;
  std::vector<std::string> candidates;
  size_t pending = 0;
  bool finished = false;
  SecretMap out;
  MapDone done;

  void fail(Error e) {
    if (finished) return;
    finished = true;
    done(std::move(e));
  }
  void complete() {
    if (finished || pending > 0) return;
    finished = true;
    done(std::move(out));
  }
};
using JobPtr = std::shared_ptr<FindJob>;

void select_candidates(const CorePtr& core, const JobPtr& job);

void list_dir(const CorePtr& core, const JobPtr& job, const std::string& dir) {
  auto path = list_path(core->spec(), dir);
  if (!path) return job->fail(std::move(path).error());
  ++job->pending;
  core->read_shared(*path, "list=true", "ListSecrets",
                    [job, dir, p = *path](const Result<HttpResponse>& r) {
                      auto core = job->core.lock();
                      if (!core || job->finished) return;
                      --job->pending;
                      auto keys = r ? parse_list(*r, p) : Result<std::vector<std::string>>(r.error());
                      if (!keys) return job->fail(std::move(keys).error());
                      for (const auto& k : *keys) {
                        if (!k.empty() && k.back() == '/') {
                          list_dir(core, job, dir + k);
                        } else {
                          job->candidates.push_back(dir + k);
                        }
                        if (job->finished) return;
                      }
                      if (job->pending == 0) select_candidates(core, job);
                    });
}

void add_value(const CorePtr& core, const JobPtr& job, const std::string& name) {
  ++job->pending;
  RemoteRef ref;
  ref.key = name;
  fetch_value(core, ref, [job, name](Result<Fetched> r) {
    if (job->finished) return;
    --job->pending;
    if (r) {
      job->out.insert_or_assign(name, std::move(r->value));
    } else if (r.error().code != ErrorCode::kNotFound) {
      return job->fail(std::move(r).error());
    }
    job->complete();
  });
}

void add_if_tagged(const CorePtr& core, const JobPtr& job, const std::string& name) {
  auto path = metadata_path(core->spec(), name);
  if (!path) return job->fail(std::move(path).error());
  ++job->pending;
  core->read_shared(*path, "", "ReadSecretData",
                    [job, name, p = *path](const Result<HttpResponse>& r) {
                      auto core = job->core.lock();
                      if (!core || job->finished) return;
                      --job->pending;
                      auto m = r ? parse_metadata(*r, p) : Result<Metadata>(r.error());
                      if (!m) return job->fail(std::move(m).error());
                      if (tags_match(*m, job->find.tags)) add_value(core, job, name);
                      job->complete();
                    });
}

void select_candidates(const CorePtr& core, const JobPtr& job) {
  const bool by_name = !job->find.name_regexp.empty();
  ++job->pending;  // held while starting, so that synchronous answers cannot complete early
  for (const auto& name : job->candidates) {
    if (job->finished) return;
    if (by_name) {
      if (RE2::PartialMatch(name, *job->re)) add_value(core, job, name);
    } else if (job->find.tags.empty()) {
      add_value(core, job, name);
    } else {
      add_if_tagged(core, job, name);
    }
  }
  --job->pending;
  job->complete();
}

void start_find(const CorePtr& core, FindRef find, MapDone done) {
  auto job = std::make_shared<FindJob>();
  job->core = core;
  job->done = std::move(done);
  if (core->spec().version == KvVersion::kV1 && !find.tags.empty()) {
    return job->fail(Error(ErrorCode::kInvalidRef,
                           "cannot perform find by tag operations with kv version v1"));
  }
  if (!find.name_regexp.empty()) {
    RE2::Options opts;
    opts.set_log_errors(false);
    job->re = std::make_unique<RE2>(find.name_regexp, opts);
    if (!job->re->ok()) {
      return job->fail(Error(ErrorCode::kInvalidRef, "invalid find.name.regexp: " + job->re->error()));
    }
  }
  const std::string dir = find.path.empty() ? "" : find.path + "/";
  job->find = std::move(find);
  list_dir(core, job, dir);
}

class VaultClient final : public SecretClient {
 public:
  explicit VaultClient(CorePtr core) : core_(std::move(core)) {}
  ~VaultClient() override { close(); }

  void get_secrets(std::vector<RemoteRef> refs, GetDone done) override {
    post([refs = std::move(refs), done = std::move(done)](const CorePtr& c) mutable {
      start_batch(c, std::move(refs), std::move(done));
    });
  }

  void get_secret_map(RemoteRef ref, MapDone done) override {
    post([ref = std::move(ref), done = std::move(done)](const CorePtr& c) {
      fetch_value(c, ref, [done](Result<Fetched> r) {
        if (!r) return done(std::move(r).error());
        done(value_to_map(r->value));
      });
    });
  }

  void get_all_secrets(FindRef find, MapDone done) override {
    post([find = std::move(find), done = std::move(done)](const CorePtr& c) mutable {
      start_find(c, std::move(find), std::move(done));
    });
  }

  // ESO's Vault Validate() logs in: here, an authenticated lookup-self (which logs in first
  // when the auth method needs it, and keeps the token for the syncs that follow).
  void validate(std::function<void(Result<bool>)> done) override {
    post([done = std::move(done)](const CorePtr& c) {
      Call call;
      call.path = "auth/token/lookup-self";
      call.metric = "LookupSelf";
      call.auth = CallAuth::kToken;
      c->send(std::move(call), [done](Result<HttpResponse> r) {
        if (!r) return done(std::move(r).error());
        done(true);
      });
    });
  }

  void close() override { core_->close(); }

 private:
  // Runs `fn` on a later loop turn if the client is still open then.
  template <typename Fn>
  void post(Fn fn) {
    if (core_->closed()) return;
    core_->ctx().deferrer->post(
        [w = std::weak_ptr<VaultCore>(core_), fn = std::move(fn)]() mutable {
          auto core = w.lock();
          if (!core || core->closed()) return;
          fn(core);
        });
  }

  CorePtr core_;
};

}  // namespace

Result<std::unique_ptr<SecretClient>> make_vault_client(VaultSpec spec, ProviderContext ctx,
                                                        ClientOptions options) {
  if (ctx.loop == nullptr || ctx.http == nullptr || ctx.deferrer == nullptr) {
    return Error(ErrorCode::kInternal, "vault provider needs a loop, an HTTP client and a deferrer");
  }
  auto core = std::make_shared<VaultCore>(std::move(spec), std::move(ctx), options);
  core->init();
  return std::unique_ptr<SecretClient>(std::make_unique<VaultClient>(std::move(core)));
}

}  // namespace esd::providers::vault
