// The AWS SDK default credential chain as the store client uses it when a store names no
// credentials (eso-api.md §3.1 "Nothing set"), in botocore / Go SDK order:
//   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN,
//      AWS_CREDENTIAL_EXPIRATION);
//   2. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (+ AWS_ROLE_SESSION_NAME), the
//      file re-read on every exchange, then STS AssumeRoleWithWebIdentity;
//   3. container credentials (EKS Pod Identity, ECS): AWS_CONTAINER_CREDENTIALS_RELATIVE_URI /
//      AWS_CONTAINER_CREDENTIALS_FULL_URI (see aws_metadata.h);
//   4. IMDSv2, only when none of the above is configured and AWS_EC2_METADATA_DISABLED is not
//      "true".
// The first source that is configured is used; its failure is the chain's failure (no falling
// through, as the SDKs). Shared config files and SSO are not read. Loop thread only.
#pragma once

#include <memory>
#include <string>

#include "daemon/common/result.h"
#include "providers/aws/aws_env.h"
#include "providers/aws/aws_metadata.h"
#include "providers/aws/aws_sts.h"
#include "providers/aws/aws_transfers.h"

namespace esd::providers::aws {

enum class ChainSource { kEnvironment, kWebIdentity, kContainer, kImds };

// Which source the environment selects. kInvalidConfig "no AWS credentials: ..." naming what
// was looked at (variable names, never values) when none is usable, and for a half-configured
// environment (AWS_ACCESS_KEY_ID without AWS_SECRET_ACCESS_KEY or the reverse).
Result<ChainSource> select_chain_source(const EnvLookup& env);

// Static keys from the environment (source kEnvironment). Expiry from
// AWS_CREDENTIAL_EXPIRATION (RFC 3339) when set, else none.
Result<TimedCredentials> environment_credentials(const EnvLookup& env);

struct ChainDeps {
  EnvLookup env;
  std::shared_ptr<AwsTransfers> transfers;
  std::shared_ptr<StsClient> sts;  // web identity exchange
  MetadataTimeouts metadata_timeouts;
};

// Resolves the chain once. `done` runs exactly once; from inside the call for results known at
// once (environment keys, configuration errors, an unreadable token file), else on a later loop
// turn; never after deps.transfers is closed.
void resolve_default_chain(const ChainDeps& deps, TimedDone done);

}  // namespace esd::providers::aws
