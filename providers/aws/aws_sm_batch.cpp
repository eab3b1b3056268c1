// SmBatcher (aws_sm_batch.h): queue, BatchGetSecretValue and its fallback, recent values and
// ride-along prefetch.
#include "providers/aws/aws_sm_batch.h"

#include <algorithm>
#include <utility>

#include "daemon/common/log.h"
#include "daemon/loop/deferrer.h"

namespace esd::providers::aws {
namespace {

constexpr std::string_view kComponent = "aws";
// A periodic ExternalSecret passes max_age = refresh / 5 (reconcile.cpp).
constexpr int64_t kIntervalsPerMaxAge = 5;

bool denies_batch(const AwsError& e) {
  return e.code == "AccessDeniedException" || e.code == "UnknownOperationException";
}

}  // namespace

SmBatcher::SmBatcher(std::shared_ptr<SmApi> api, BatchOptions options)
    : api_(std::move(api)),
      options_(options),
      gather_(api_->ctx().loop, options.max_ids, options.gather_ms,
              [this](std::vector<std::string> ids) { send_batch(std::move(ids)); }) {}

std::shared_ptr<SmBatcher> SmBatcher::create(std::shared_ptr<SmApi> api, BatchOptions options) {
  std::shared_ptr<SmBatcher> b(new SmBatcher(std::move(api), options));
  b->weak_ = b;
  return b;
}

SmBatcher::~SmBatcher() { close(); }

int64_t SmBatcher::now() const { return api_->ctx().clock->now_ms(); }

size_t SmBatcher::cached() const {
  size_t n = 0;
  for (const auto& [id, e] : entries_) n += e.value ? 1 : 0;
  return n;
}

bool SmBatcher::batch_denied() const { return denied_until_ms_ > now(); }

void SmBatcher::get(const std::string& id, int64_t max_age_ms, ValueDone done) {
  if (closed_) return;
  const int64_t t = now();
  sweep(t, false);
  note_request(id, max_age_ms, t);
  if (max_age_ms > 0) {
    auto it = entries_.find(id);
    if (it != entries_.end() && it->second.value && t - it->second.fetched_ms <= max_age_ms) {
      api_->ctx().deferrer->post([w = weak_, v = it->second.value, done = std::move(done)] {
        auto self = w.lock();
        if (!self || self->closed_) return;
        done(v);
      });
      return;
    }
  }
  Pending& p = pending_[id];
  p.waiters.push_back(std::move(done));
  if (p.sent || p.waiters.size() > 1) return;  // shares the queued or in-flight fetch
  gather_.push(id);
}

// Only periodic requests (max_age_ms > 0) make an id known; a forced one refreshes its time.
void SmBatcher::note_request(const std::string& id, int64_t max_age_ms, int64_t now_ms) {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    if (max_age_ms <= 0) return;
    if (entries_.size() >= options_.max_known) sweep(now_ms, true);
    if (entries_.size() >= options_.max_known) evict_oldest();
    it = entries_.emplace(id, Entry{}).first;
  }
  Entry& e = it->second;
  e.last_request_ms = now_ms;
  if (max_age_ms > 0) {
    e.last_max_age_ms = max_age_ms;
    e.keep_ms = std::max(e.keep_ms, max_age_ms);
  }
}

void SmBatcher::evict_oldest() {
  auto oldest = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (oldest == entries_.end() || it->second.last_request_ms < oldest->second.last_request_ms) {
      oldest = it;
    }
  }
  if (oldest != entries_.end()) entries_.erase(oldest);
}

void SmBatcher::sweep(int64_t now_ms, bool force) {
  if (!force && now_ms >= last_sweep_ms_ && now_ms - last_sweep_ms_ < options_.sweep_every_ms) {
    return;
  }
  last_sweep_ms_ = now_ms;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (e.value && now_ms - e.fetched_ms > e.keep_ms) e.value.reset();
    const int64_t expected_interval = kIntervalsPerMaxAge * e.last_max_age_ms;
    if (now_ms - e.last_request_ms > 2 * expected_interval) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

void SmBatcher::send_batch(std::vector<std::string> ids) {
  if (batch_denied()) {
    for (const auto& id : ids) send_single(id);
    return;
  }
  const size_t requested = ids.size();
  add_ride_alongs(ids, now());
  log::debug(kComponent, "aws_batch_sent",
             {{"store", api_->ctx().store_name}, {"ids", ids.size()},
              {"ride_alongs", ids.size() - requested}});
  for (const auto& id : ids) pending_[id].sent = true;
  std::string body = batch_ids_body(ids);
  api_->call("BatchGetSecretValue", std::move(body), [w = weak_, ids](SmReply r) {
    auto self = w.lock();
    if (!self || self->closed_) return;
    self->on_batch(ids, std::move(r));
  });
}

// Known ids due within their max_age (either side of now), not fresh, not queued or in flight.
void SmBatcher::add_ride_alongs(std::vector<std::string>& ids, int64_t now_ms) {
  if (ids.size() >= options_.max_ids) return;
  std::vector<std::pair<int64_t, const std::string*>> cands;
  for (const auto& [id, e] : entries_) {
    if (e.last_max_age_ms <= 0 || pending_.count(id) != 0) continue;
    if (e.value && now_ms - e.fetched_ms <= e.last_max_age_ms) continue;
    const int64_t due = e.last_request_ms + kIntervalsPerMaxAge * e.last_max_age_ms;
    if (due - now_ms > e.last_max_age_ms || now_ms - due > e.last_max_age_ms) continue;
    cands.emplace_back(due, &id);
  }
  const size_t take = std::min(options_.max_ids - ids.size(), cands.size());
  std::partial_sort(cands.begin(), cands.begin() + static_cast<ptrdiff_t>(take), cands.end(),
                    [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first < b.first : *a.second < *b.second;
                    });
  for (size_t i = 0; i < take; ++i) ids.push_back(*cands[i].second);
}

void SmBatcher::send_single(const std::string& id) {
  pending_[id].sent = true;
  api_->call("GetSecretValue", get_secret_value_body(id, ""), [w = weak_, id](SmReply r) {
    auto self = w.lock();
    if (!self || self->closed_) return;
    self->on_single(id, std::move(r));
  });
}

void SmBatcher::on_batch(const std::vector<std::string>& ids, SmReply reply) {
  if (!reply.body && denies_batch(reply.aws)) return fall_back(ids);
  std::vector<Answer> answers;
  auto parsed = reply.body ? parse_batch_reply(*reply.body) : Result<BatchReply>(reply.body.error());
  if (!parsed) {
    for (const auto& id : ids) answers.push_back(settle(id, parsed.error()));
    return deliver(std::move(answers));
  }
  std::vector<bool> answered(ids.size(), false);
  for (auto& v : parsed->values) {
    ValuePtr value = std::make_shared<const SmValue>(std::move(v));
    for (size_t i = 0; i < ids.size(); ++i) {
      if (answered[i] || !matches_id(*value, ids[i])) continue;
      answered[i] = true;
      answers.push_back(settle(ids[i], value));
    }
  }
  for (const auto& e : parsed->errors) {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (answered[i] || ids[i] != e.secret_id) continue;
      answered[i] = true;
      answers.push_back(settle(ids[i], classify_aws_error(e.error, ids[i])));
    }
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (answered[i]) continue;
    answers.push_back(settle(ids[i], Error(ErrorCode::kTransient,
                                           "secret " + ids[i] +
                                               " missing from BatchGetSecretValue reply")));
  }
  deliver(std::move(answers));
}

void SmBatcher::on_single(const std::string& id, SmReply reply) {
  Result<ValuePtr> result = Error(ErrorCode::kInternal, "no value");
  if (!reply.body) {
    result = reply.aws.status != 0 ? classify_aws_error(reply.aws, id) : reply.body.error();
  } else if (auto v = parse_get_secret_value(*reply.body); !v) {
    result = std::move(v).error();
  } else {
    result = ValuePtr(std::make_shared<const SmValue>(std::move(*v)));
  }
  std::vector<Answer> answers;
  answers.push_back(settle(id, std::move(result)));
  deliver(std::move(answers));
}

// The batch API is denied for this caller: serve the ids with waiters one by one (ride-alongs
// are dropped, they must not add calls) and stay on GetSecretValue for a while.
void SmBatcher::fall_back(const std::vector<std::string>& ids) {
  note_batch_denied();
  for (const auto& id : ids) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    if (it->second.waiters.empty()) {
      pending_.erase(it);
      continue;
    }
    send_single(id);
  }
}

void SmBatcher::note_batch_denied() {
  denied_until_ms_ = now() + options_.denied_retry_ms;
  if (denied_logged_) return;
  denied_logged_ = true;
  log::warn(kComponent, "aws_batch_denied",
            {{"store", api_->ctx().store_name}, {"fallback", "GetSecretValue"}});
}

// Ends the pending fetch of `id`; keeps a value when the id is known.
SmBatcher::Answer SmBatcher::settle(const std::string& id, Result<ValuePtr> result) {
  std::vector<ValueDone> waiters;
  if (auto it = pending_.find(id); it != pending_.end()) {
    waiters = std::move(it->second.waiters);
    pending_.erase(it);
  }
  if (result) {
    auto e = entries_.find(id);
    if (e != entries_.end() && e->second.keep_ms > 0) {
      e->second.value = *result;
      e->second.fetched_ms = now();
    }
  }
  return Answer(std::move(waiters), std::move(result));
}

// Callbacks last: a waiter may start new requests, close the client or drop it.
void SmBatcher::deliver(std::vector<Answer> answers) {
  auto keep = weak_.lock();
  for (auto& [waiters, result] : answers) {
    for (auto& w : waiters) {
      if (closed_) return;
      w(result);
    }
  }
}

void SmBatcher::close() {
  if (closed_) return;
  closed_ = true;
  gather_.close();
  pending_.clear();
  entries_.clear();
}

}  // namespace esd::providers::aws
