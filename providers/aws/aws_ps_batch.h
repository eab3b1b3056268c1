// PsBatcher: the plain (unversioned) Parameter Store reads of one store client. Requests queue
// per name and go out as GetParameters calls of up to 10 names, flushed gather_ms after the
// first one is queued or at once when full; every request for a name queued or in flight shares
// that fetch; values are kept for the largest max_age_ms callers accepted (errors never), and a
// request with max_age_ms > 0 is answered from a value at most that old (on a later turn).
// Owned through a shared_ptr by the Parameter Store client; loop thread only; `done` runs
// exactly once, never from inside get(); after close() never.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "providers/aws/aws_gather.h"
#include "providers/aws/aws_ps_client.h"
#include "providers/aws/aws_ps_values.h"
#include "providers/aws/aws_sm_api.h"

namespace esd::providers::aws {

using PsDone = std::function<void(Result<PsValuePtr>)>;

class PsBatcher : public std::enable_shared_from_this<PsBatcher> {
 public:
  PsBatcher(std::shared_ptr<SmApi> api, PsClientOptions options);
  ~PsBatcher();
  PsBatcher(const PsBatcher&) = delete;
  PsBatcher& operator=(const PsBatcher&) = delete;

  void get(const std::string& name, int64_t max_age_ms, PsDone done);
  void close();

 private:
  struct Kept {
    PsValuePtr value;
    int64_t fetched_ms = 0;
    int64_t keep_ms = 0;  // the largest max_age_ms seen
  };
  struct Pending {
    std::vector<PsDone> waiters;
  };
  using Answer = std::pair<std::vector<PsDone>, Result<PsValuePtr>>;

  Kept& remember(const std::string& name, int64_t now);
  void send(std::vector<std::string> names);
  void on_reply(const std::vector<std::string>& names, SmReply reply);
  static Result<PsValuePtr> answer_for(const std::string& name, const PsBatchReply& reply);

  // Ends the pending fetch of `name`; keeps a value when some caller accepts recent ones.
  Answer settle(const std::string& name, Result<PsValuePtr> result);

  // Callbacks last: a waiter may start new requests, close the client or drop it.
  void deliver(std::vector<Answer> answers);

  std::shared_ptr<SmApi> api_;
  PsClientOptions options_;
  std::unordered_map<std::string, Kept> kept_;
  std::unordered_map<std::string, Pending> pending_;
  GatherQueue gather_;  // after api_ and options_: built from them
  bool closed_ = false;
};

}  // namespace esd::providers::aws
