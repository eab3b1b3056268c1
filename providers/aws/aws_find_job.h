// What a dataFrom.find over an AWS service collects, the same for Secrets Manager
// (aws_sm_find.cpp) and Parameter Store (aws_ps_client.cpp): the names a listing returns that
// match name.regexp, their values read through the service's batcher, and exactly one answer
// once the last page is listed and every read is back (or the first error).
#pragma once

#include <re2/re2.h>

#include <memory>
#include <string>
#include <utility>

#include "daemon/common/result.h"
#include "daemon/loop/deferrer.h"
#include "providers/aws/aws_sm_api.h"
#include "providers/provider.h"

namespace esd::providers::aws {

class FindCollector {
 public:
  // `service` names the service in the too-many-pages error.
  FindCollector(const char* service, MapDone done) : service_(service), done_(std::move(done)) {}

  std::unique_ptr<RE2> re;  // name.regexp; null = every name
  SecretMap out;

  bool finished() const { return finished_; }
  bool wanted(const std::string& name) const { return !re || RE2::PartialMatch(name, *re); }
  // Counts a page request; false (and the job failed) past a limit no real listing reaches.
  bool next_page() {
    if (++pages_ <= kMaxPages) return true;
    fail(Error(ErrorCode::kTransient, std::string("find: too many result pages from ") + service_));
    return false;
  }
  void fail(Error e) {
    if (finished_) return;
    finished_ = true;
    done_(std::move(e));
  }
  // The last page was listed: answer once the reads in flight are back.
  void listed() {
    listed_ = true;
    complete();
  }
  void read_started() { ++pending_; }
  // A read came back: its value (or NotFound: deleted since the listing, skipped) or an error.
  void read_done(const std::string& name, Result<Sensitive> value) {
    if (finished_) return;
    --pending_;
    if (value) {
      out.insert_or_assign(name, std::move(*value));
    } else if (value.error().code != ErrorCode::kNotFound) {
      return fail(std::move(value).error());
    }
    complete();
  }

 private:
  static constexpr int kMaxPages = 10'000;  // 20 to 100 names per page: a runaway guard
  void complete() {
    if (finished_ || !listed_ || pending_ > 0) return;
    finished_ = true;
    done_(std::move(out));
  }

  const char* service_;
  MapDone done_;
  size_t pending_ = 0;
  int pages_ = 0;
  bool listed_ = false;
  bool finished_ = false;
};

// Checks `find` (an operator is set, name.regexp compiles) and returns a new Job (a
// FindCollector built from (service, done)); else `done` gets the error on the next loop turn
// (unless the client closed first) and the result is null.
template <typename Job>
std::shared_ptr<Job> make_find_job(const std::shared_ptr<SmApi>& api, const FindRef& find,
                                   const char* service, MapDone done) {
  auto fail_later = [&api, &done](Error e) {
    api->ctx().deferrer->post(
        [w = std::weak_ptr<SmApi>(api), done = std::move(done), e = std::move(e)]() mutable {
          auto alive = w.lock();
          if (!alive || alive->closed()) return;
          done(std::move(e));
        });
    return std::shared_ptr<Job>();
  };
  if (find.name_regexp.empty() && find.path.empty() && find.tags.empty()) {
    return fail_later(Error(ErrorCode::kInvalidConfig, "unexpected find operator"));
  }
  std::unique_ptr<RE2> re;
  if (!find.name_regexp.empty()) {
    RE2::Options opts;
    opts.set_log_errors(false);
    re = std::make_unique<RE2>(find.name_regexp, opts);
    if (!re->ok()) {
      return fail_later(Error(ErrorCode::kInvalidRef, "invalid find.name.regexp: " + re->error()));
    }
  }
  auto job = std::make_shared<Job>(service, std::move(done));
  job->re = std::move(re);
  return job;
}

}  // namespace esd::providers::aws
