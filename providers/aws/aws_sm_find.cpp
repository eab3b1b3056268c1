// find_secrets (aws_sm_find.h): ListSecrets / BatchGetSecretValue paging for dataFrom.find.
#include "providers/aws/aws_sm_find.h"

#include <re2/re2.h>

#include <string>
#include <utility>

#include "daemon/loop/deferrer.h"
#include "providers/aws/aws_sm_values.h"

namespace esd::providers::aws {
namespace {

// A guard against a service that never stops paging (100 or 20 secrets per page).
constexpr int kMaxPages = 10'000;

struct FindJob {
  std::weak_ptr<SmApi> api;
  std::weak_ptr<SmBatcher> batcher;
  std::unique_ptr<RE2> re;
  nlohmann::json filters;  // empty array for name.regexp alone
  SecretMap out;
  size_t pending = 0;  // value reads in flight
  int pages = 0;
  bool listed = false;  // the last page was read
  bool finished = false;
  MapDone done;

  bool wanted(const std::string& name) const { return !re || RE2::PartialMatch(name, *re); }
  bool next_page() {
    if (++pages <= kMaxPages) return true;
    fail(Error(ErrorCode::kTransient, "find: too many result pages from Secrets Manager"));
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

void list_page(const JobPtr& job, const std::string& token);

void read_value(const JobPtr& job, const std::string& name) {
  auto batcher = job->batcher.lock();
  if (!batcher) return;
  ++job->pending;
  batcher->get(name, 0, [job, name](Result<ValuePtr> r) {
    if (job->finished) return;
    --job->pending;
    if (r) {
      job->out.insert_or_assign(name, (*r)->data.clone());
    } else if (r.error().code != ErrorCode::kNotFound) {  // NotFound: deleted since the listing
      return job->fail(std::move(r).error());
    }
    job->complete();
  });
}

void on_list(const JobPtr& job, SmReply reply) {
  if (job->finished) return;
  if (!reply.body) return job->fail(std::move(reply.body).error());
  auto page = parse_list_reply(*reply.body);
  if (!page) return job->fail(std::move(page).error());
  for (const auto& name : page->names) {
    if (job->wanted(name)) read_value(job, name);
  }
  if (!page->next_token.empty()) return list_page(job, page->next_token);
  job->listed = true;
  job->complete();
}

void list_page(const JobPtr& job, const std::string& token) {
  auto api = job->api.lock();
  if (!api || !job->next_page()) return;
  api->call("ListSecrets", list_secrets_body(job->filters, token),
            [job](SmReply r) { on_list(job, std::move(r)); });
}

void batch_page(const JobPtr& job, const std::string& token);

void on_batch_page(const JobPtr& job, SmReply reply) {
  if (job->finished) return;
  if (!reply.body) {
    const std::string& code = reply.aws.code;
    if (code == "AccessDeniedException" || code == "UnknownOperationException") {
      if (auto batcher = job->batcher.lock()) batcher->note_batch_denied();
      return list_page(job, "");  // the same filters through ListSecrets + GetSecretValue
    }
    return job->fail(std::move(reply.body).error());
  }
  auto page = parse_batch_reply(*reply.body);
  if (!page) return job->fail(std::move(page).error());
  for (auto& v : page->values) {
    if (job->wanted(v.name)) job->out.insert_or_assign(v.name, std::move(v.data));
  }
  for (const auto& e : page->errors) {
    Error err = classify_aws_error(e.error, e.secret_id);
    if (err.code != ErrorCode::kNotFound) return job->fail(std::move(err));
  }
  if (!page->next_token.empty()) return batch_page(job, page->next_token);
  job->listed = true;
  job->complete();
}

void batch_page(const JobPtr& job, const std::string& token) {
  auto api = job->api.lock();
  if (!api || !job->next_page()) return;
  api->call("BatchGetSecretValue", batch_filters_body(job->filters, token),
            [job](SmReply r) { on_batch_page(job, std::move(r)); });
}

void fail_later(const std::shared_ptr<SmApi>& api, MapDone done, Error e) {
  api->ctx().deferrer->post([w = std::weak_ptr<SmApi>(api), done = std::move(done),
                             e = std::move(e)]() mutable {
    auto api = w.lock();
    if (!api || api->closed()) return;
    done(std::move(e));
  });
}

}  // namespace

void find_secrets(const std::shared_ptr<SmApi>& api, const std::shared_ptr<SmBatcher>& batcher,
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
      return fail_later(api, std::move(job->done),
                        Error(ErrorCode::kInvalidRef, "invalid find.name.regexp: " + job->re->error()));
    }
  }
  job->filters = find_filters(find);
  if (job->filters.empty()) return list_page(job, "");
  batch_page(job, "");
}

}  // namespace esd::providers::aws
