// AwsTransfers (aws_transfers.h): HttpClient transfers tracked by id for cancellation.
#include "providers/aws/aws_transfers.h"

#include <utility>
#include <vector>

namespace esd::providers::aws {

void AwsTransfers::start(HttpRequest req, HttpClient::Done done) {
  if (closed_ || http_ == nullptr) return;
  // HttpClient never calls back from inside start(), so the id is known before completion.
  auto slot = std::make_shared<TransferId>(0);
  const TransferId id = http_->start(
      std::move(req), [w = weak_from_this(), slot, done = std::move(done)](Result<HttpResponse> r) {
        auto self = w.lock();
        if (!self || self->closed_) return;
        self->ids_.erase(*slot);
        done(std::move(r));
      });
  *slot = id;
  if (id != 0) ids_.insert(id);
}

void AwsTransfers::cancel_all() {
  closed_ = true;
  std::vector<TransferId> ids(ids_.begin(), ids_.end());
  ids_.clear();
  if (http_ == nullptr) return;
  for (TransferId id : ids) http_->cancel(id);
}

}  // namespace esd::providers::aws
