// Two steps the Secrets Manager and Parameter Store clients share, over their core (any type
// with closed(), creds() and deferrer()): ESO's AWS Validate() (can credentials be obtained?)
// and posting work to the next loop turn unless the client was closed by then.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include "daemon/common/result.h"
#include "providers/aws/aws_credentials.h"

namespace esd::providers::aws {

template <typename Core>
void validate_credentials(const std::shared_ptr<Core>& core,
                          std::function<void(Result<bool>)> done) {
  if (core->closed()) return;
  core->creds().get([w = std::weak_ptr<Core>(core), done = std::move(done)](
                        Result<std::shared_ptr<const Credentials>> c) {
    auto self = w.lock();
    if (!self || self->closed()) return;
    if (!c) return done(std::move(c).error());
    done(true);
  });
}

template <typename Core, typename Fn>
void post_unless_closed(const std::shared_ptr<Core>& core, Fn fn) {
  core->deferrer().post([w = std::weak_ptr<Core>(core), fn = std::move(fn)]() mutable {
    auto self = w.lock();
    if (!self || self->closed()) return;
    fn();
  });
}

}  // namespace esd::providers::aws
