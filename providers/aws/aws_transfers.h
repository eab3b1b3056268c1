// AwsTransfers: the HTTP transfers one AWS credential provider has in flight (STS, container
// credentials, IMDS), so that close() can cancel them all and no callback arrives afterwards.
// Shared through a shared_ptr by the provider, its StsClient and its metadata fetches;
// completion callbacks hold only a weak_ptr. Loop thread only.
#pragma once

#include <cstddef>
#include <memory>
#include <set>

#include "daemon/http/http_client.h"

namespace esd::providers::aws {

class AwsTransfers : public std::enable_shared_from_this<AwsTransfers> {
 public:
  explicit AwsTransfers(HttpClient* http) : http_(http) {}
  AwsTransfers(const AwsTransfers&) = delete;
  AwsTransfers& operator=(const AwsTransfers&) = delete;

  // Starts `req` (create through std::make_shared). `done` runs exactly once, on the loop
  // thread, never from inside start(), unless cancel_all() comes first (then never).
  void start(HttpRequest req, HttpClient::Done done);
  // Cancels everything in flight; later start() calls are dropped. Idempotent.
  void cancel_all();
  bool closed() const { return closed_; }
  size_t in_flight() const { return ids_.size(); }

 private:
  HttpClient* http_;
  std::set<TransferId> ids_;
  bool closed_ = false;
};

}  // namespace esd::providers::aws
