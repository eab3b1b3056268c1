// The GetParameters batcher of the Parameter Store client (see aws_ps_batch.h).
#include "providers/aws/aws_ps_batch.h"

#include <algorithm>

#include "daemon/loop/deferrer.h"

namespace esd::providers::aws {

PsBatcher::PsBatcher(std::shared_ptr<SmApi> api, PsClientOptions options)
    : api_(std::move(api)),
      options_(options),
      gather_(api_->ctx().loop, options.max_names, options.gather_ms,
              [this](std::vector<std::string> names) { send(std::move(names)); }) {}

PsBatcher::~PsBatcher() {
  close();
}

void PsBatcher::get(const std::string& name, int64_t max_age_ms, PsDone done) {
  if (closed_) return;
  const int64_t now = api_->ctx().clock->now_ms();
  if (max_age_ms > 0) {
    Kept& k = remember(name, now);
    k.keep_ms = std::max(k.keep_ms, max_age_ms);
    if (k.value && now - k.fetched_ms <= max_age_ms) {
      api_->ctx().deferrer->post([w = weak_from_this(), v = k.value, done = std::move(done)] {
        auto self = w.lock();
        if (!self || self->closed_) return;
        done(v);
      });
      return;
    }
  }
  Pending& p = pending_[name];
  p.waiters.push_back(std::move(done));
  if (p.waiters.size() > 1) return;  // shares the queued or in-flight fetch
  gather_.push(name);
}

void PsBatcher::close() {
  if (closed_) return;
  closed_ = true;
  gather_.close();
  pending_.clear();
  kept_.clear();
}

PsBatcher::Kept& PsBatcher::remember(const std::string& name, int64_t now) {
  if (kept_.size() >= options_.max_kept && kept_.count(name) == 0) {
    for (auto it = kept_.begin(); it != kept_.end();) {
      const bool stale = !it->second.value || now - it->second.fetched_ms > it->second.keep_ms;
      it = stale ? kept_.erase(it) : std::next(it);
    }
    if (kept_.size() >= options_.max_kept) kept_.clear();
  }
  return kept_[name];
}

void PsBatcher::send(std::vector<std::string> names) {
  std::string body = get_parameters_body(names);
  api_->call("GetParameters", std::move(body), [w = weak_from_this(), names](SmReply r) {
    auto self = w.lock();
    if (!self || self->closed_) return;
    self->on_reply(names, std::move(r));
  });
}

void PsBatcher::on_reply(const std::vector<std::string>& names, SmReply reply) {
  std::vector<Answer> answers;
  Result<PsBatchReply> parsed = Error(ErrorCode::kInternal, "no reply");
  if (reply.body) parsed = parse_get_parameters(*reply.body);
  if (!reply.body || !parsed) {
    for (const auto& n : names) {
      Error e = !reply.body ? (reply.aws.status != 0 ? classify_ps_error(reply.aws, n)
                                                     : reply.body.error())
                            : parsed.error();
      answers.push_back(settle(n, std::move(e)));
    }
    return deliver(std::move(answers));
  }
  for (const auto& n : names) answers.push_back(settle(n, answer_for(n, *parsed)));
  deliver(std::move(answers));
}

Result<PsValuePtr> PsBatcher::answer_for(const std::string& name, const PsBatchReply& reply) {
  for (const auto& v : reply.values) {
    if (!answers_name(v, name)) continue;
    PsValue copy{v.name, v.arn, v.selector, v.version, v.value.clone()};
    return PsValuePtr(std::make_shared<const PsValue>(std::move(copy)));
  }
  if (std::find(reply.invalid.begin(), reply.invalid.end(), name) != reply.invalid.end()) {
    return parameter_not_found(name);
  }
  return Error(ErrorCode::kTransient, "parameter " + name + " missing from GetParameters reply");
}

PsBatcher::Answer PsBatcher::settle(const std::string& name, Result<PsValuePtr> result) {
  std::vector<PsDone> waiters;
  if (auto it = pending_.find(name); it != pending_.end()) {
    waiters = std::move(it->second.waiters);
    pending_.erase(it);
  }
  if (auto k = kept_.find(name); result && k != kept_.end() && k->second.keep_ms > 0) {
    k->second.value = *result;
    k->second.fetched_ms = api_->ctx().clock->now_ms();
  }
  return Answer(std::move(waiters), std::move(result));
}

void PsBatcher::deliver(std::vector<Answer> answers) {
  auto keep = shared_from_this();
  for (auto& [waiters, result] : answers) {
    for (auto& w : waiters) {
      if (closed_) return;
      w(result);
    }
  }
}

}  // namespace esd::providers::aws
