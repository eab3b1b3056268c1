// Credentials for one AWS store client: the first credentials (auth.jwt.serviceAccountRef,
// auth.secretRef or the default chain, eso-api.md §3.1), then additionalRoles in order, then
// `role` (externalID, session tags, transitive tag keys), each through STS. The result is cached
// until shortly before it expires (5 minutes, or a tenth of a short lifetime), so a store makes
// STS calls per credential lifetime, not per sync (ESO rebuilds the chain on every reconcile).
// Concurrent get() calls share one refresh. Static keys from a referenced Secret are re-read at
// most every 10 s and after invalidate(), so new keys take effect at the next sync.
// Callbacks: exactly once, on the loop thread, never from inside get(); none after close().
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "daemon/common/result.h"
#include "providers/aws/aws_endpoints.h"
#include "providers/aws/aws_env.h"
#include "providers/aws/aws_spec.h"
#include "providers/aws/sigv4.h"
#include "providers/provider.h"

namespace esd::providers::aws {

using CredsDone = std::function<void(Result<std::shared_ptr<const Credentials>>)>;

class CredentialProvider {
 public:
  virtual ~CredentialProvider() = default;
  // Current credentials. Errors are classified: kAuth (rejected by STS, expired web identity
  // token, missing keys), kPermission (AccessDenied on AssumeRole), kInvalidConfig (SA without
  // the role-arn annotation, nothing in the default chain), kRateLimited, kTransient.
  virtual void get(CredsDone done) = 0;
  // The service rejected the credentials (ExpiredTokenException, UnrecognizedClientException,
  // InvalidClientTokenId): drop every cached layer so the next get() rebuilds the chain.
  virtual void invalidate() = 0;
  virtual void close() = 0;
};

struct CredentialDeps {
  ProviderContext ctx;  // loop, http, deferrer, clock, refs, tokens, count_call
  Endpoints endpoints;  // STS endpoint (and the region's) already resolved
  EnvLookup env;        // default chain variables (AWS_ACCESS_KEY_ID, AWS_ROLE_ARN, ...)
};

// kInvalidConfig when the spec cannot work at all (checked before any I/O).
Result<std::unique_ptr<CredentialProvider>> make_credential_provider(const AwsSpec& spec,
                                                                     CredentialDeps deps);

}  // namespace esd::providers::aws
