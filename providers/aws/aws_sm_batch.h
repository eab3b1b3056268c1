// SmBatcher: the AWSCURRENT values of one Secrets Manager store client, fetched as few times as
// the callers' freshness allows (issue #4, "must be frugal"). Design:
//  - Queue: requests go into a per-client queue keyed by SecretId. It flushes gather_ms (50 ms)
//    after the first request queued (a uv timer) or at once when 20 distinct ids are queued. A flush sends BatchGetSecretValue {SecretIdList} per 20 ids; SecretValues
//    entries answer the ids they match (Name, ARN or partial ARN, as sent), Errors entries map
//    like single calls, an id in neither is kTransient.
//  - Batch denied: AccessDeniedException / UnknownOperationException on the whole call switches
//    this client to one GetSecretValue per distinct id for an hour (warn "aws_batch_denied" once).
//  - Sharing: a request for an id already queued or in flight waits for that fetch.
//  - Recent values: each value is kept (Sensitive, with its fetch time from ctx.clock) while it
//    is younger than the largest max_age_ms seen for its id; a request with max_age_ms > 0 is
//    answered from a value at most that old, on a later loop turn (Deferrer). max_age_ms 0 never
//    reads the cache. Errors (NotFound included) are never kept.
//  - Ride-alongs: ids requested with max_age_ms > 0 are "known" with their last request time and
//    max_age (a periodic ExternalSecret passes refresh/5, so its next request is due around
//    last + 5*max_age, +-10%). A batch that goes out with fewer than 20 ids is filled with known
//    ids that are not fresh, not queued or in flight, and due within their max_age, earliest
//    first; their values only fill the cache. A ride-along never adds a call. Known ids are
//    forgotten after 2x their expected interval without a request; at most 10,000 are kept.
// Owned through a shared_ptr by the SecretsManager client; loop thread only. `done` runs exactly
// once, never from inside get(); after close() never.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "providers/aws/aws_gather.h"
#include "providers/aws/aws_sm_api.h"
#include "providers/aws/aws_sm_values.h"

namespace esd::providers::aws {

using ValueDone = std::function<void(Result<ValuePtr>)>;

struct BatchOptions {
  size_t max_ids = 20;                  // BatchGetSecretValue's SecretIdList limit
  // How long a batch that is not full waits for more ids (loop time). Syncs of one store start
  // as slots free up, a few at a time; a short wait lets them share a call.
  int64_t gather_ms = 50;
  int64_t denied_retry_ms = 3'600'000;  // try the batch API again after this long
  size_t max_known = 10'000;
  int64_t sweep_every_ms = 1'000;  // expiry scans at most this often (clock time)
};

class SmBatcher : public std::enable_shared_from_this<SmBatcher> {
 public:
  static std::shared_ptr<SmBatcher> create(std::shared_ptr<SmApi> api, BatchOptions options = {});
  ~SmBatcher();
  SmBatcher(const SmBatcher&) = delete;
  SmBatcher& operator=(const SmBatcher&) = delete;

  // The AWSCURRENT value of `id` (a name or ARN, prefix applied). max_age_ms > 0 accepts a value
  // fetched at most that long ago and marks the id as known for ride-alongs.
  void get(const std::string& id, int64_t max_age_ms, ValueDone done);
  // Another caller (find) saw the batch API denied: use GetSecretValue for a while.
  void note_batch_denied();
  // Drops every queued request and kept value; closes the timer. No callback follows.
  void close();

  size_t cached() const;  // ids with a kept value
  size_t known() const { return entries_.size(); }
  bool batch_denied() const;

 private:
  struct Entry {
    ValuePtr value;
    int64_t fetched_ms = 0;
    int64_t last_request_ms = 0;
    int64_t last_max_age_ms = 0;
    int64_t keep_ms = 0;  // the largest max_age_ms seen
  };
  struct Pending {
    std::vector<ValueDone> waiters;  // empty for a ride-along
    bool sent = false;
  };
  using Answer = std::pair<std::vector<ValueDone>, Result<ValuePtr>>;

  SmBatcher(std::shared_ptr<SmApi> api, BatchOptions options);
  int64_t now() const;
  void note_request(const std::string& id, int64_t max_age_ms, int64_t now_ms);
  void evict_oldest();
  void sweep(int64_t now_ms, bool force);
  void send_batch(std::vector<std::string> ids);
  void add_ride_alongs(std::vector<std::string>& ids, int64_t now_ms);
  void send_single(const std::string& id);
  void on_batch(const std::vector<std::string>& ids, SmReply reply);
  void on_single(const std::string& id, SmReply reply);
  void fall_back(const std::vector<std::string>& ids);
  Answer settle(const std::string& id, Result<ValuePtr> result);
  void deliver(std::vector<Answer> answers);

  std::shared_ptr<SmApi> api_;
  BatchOptions options_;
  std::weak_ptr<SmBatcher> weak_;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, Pending> pending_;
  GatherQueue gather_;  // after api_ and options_: built from them
  int64_t denied_until_ms_ = 0;
  bool denied_logged_ = false;
  int64_t last_sweep_ms_ = 0;
  bool closed_ = false;
};

}  // namespace esd::providers::aws
