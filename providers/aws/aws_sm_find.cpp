// find_secrets (aws_sm_find.h): ListSecrets / BatchGetSecretValue paging for dataFrom.find.
#include "providers/aws/aws_sm_find.h"

#include <re2/re2.h>

#include <string>
#include <utility>

#include "daemon/loop/deferrer.h"
#include "providers/aws/aws_find_job.h"
#include "providers/aws/aws_sm_values.h"

namespace esd::providers::aws {
namespace {

struct FindJob : FindCollector {
  using FindCollector::FindCollector;
  std::weak_ptr<SmApi> api;
  std::weak_ptr<SmBatcher> batcher;
  nlohmann::json filters;  // empty array for name.regexp alone
};
using JobPtr = std::shared_ptr<FindJob>;

void list_page(const JobPtr& job, const std::string& token);

void read_value(const JobPtr& job, const std::string& name) {
  auto batcher = job->batcher.lock();
  if (!batcher) return;
  job->read_started();
  batcher->get(name, 0, [job, name](Result<ValuePtr> r) {
    job->read_done(name, r ? Result<Sensitive>((*r)->data.clone()) : std::move(r).error());
  });
}

void on_list(const JobPtr& job, SmReply reply) {
  if (job->finished()) return;
  if (!reply.body) return job->fail(std::move(reply.body).error());
  auto page = parse_list_reply(*reply.body);
  if (!page) return job->fail(std::move(page).error());
  for (const auto& name : page->names) {
    if (job->wanted(name)) read_value(job, name);
  }
  if (!page->next_token.empty()) return list_page(job, page->next_token);
  job->listed();
}

void list_page(const JobPtr& job, const std::string& token) {
  auto api = job->api.lock();
  if (!api || !job->next_page()) return;
  api->call("ListSecrets", list_secrets_body(job->filters, token),
            [job](SmReply r) { on_list(job, std::move(r)); });
}

void batch_page(const JobPtr& job, const std::string& token);

void on_batch_page(const JobPtr& job, SmReply reply) {
  if (job->finished()) return;
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
  job->listed();
}

void batch_page(const JobPtr& job, const std::string& token) {
  auto api = job->api.lock();
  if (!api || !job->next_page()) return;
  api->call("BatchGetSecretValue", batch_filters_body(job->filters, token),
            [job](SmReply r) { on_batch_page(job, std::move(r)); });
}

}  // namespace

void find_secrets(const std::shared_ptr<SmApi>& api, const std::shared_ptr<SmBatcher>& batcher,
                  FindRef find, MapDone done) {
  auto job = make_find_job<FindJob>(api, find, "Secrets Manager", std::move(done));
  if (!job) return;
  job->api = api;
  job->batcher = batcher;
  job->filters = find_filters(find);
  if (job->filters.empty()) return list_page(job, "");
  batch_page(job, "");
}

}  // namespace esd::providers::aws
