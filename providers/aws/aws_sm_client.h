// The AWS Secrets Manager SecretClient (spec.provider.aws, service SecretsManager; eso-api.md
// §3.1). Plain AWSCURRENT reads go through the SmBatcher (BatchGetSecretValue, shared fetches,
// recent values, ride-alongs: see aws_sm_batch.h); versioned reads (GetSecretValue) and
// metadataPolicy Fetch (DescribeSecret) are shared among identical calls in flight; find uses
// ListSecrets or BatchGetSecretValue with filters (aws_sm_find.h). Lives across syncs until its
// store changes and owns its CredentialProvider (closed with it). Callbacks: exactly once, on
// the loop thread, never from inside the call; none after close() or destruction.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "providers/aws/aws_credentials.h"
#include "providers/aws/aws_sm_batch.h"
#include "providers/aws/aws_spec.h"
#include "providers/provider.h"

namespace esd::providers::aws {

// Knobs for tests; the defaults are the production behaviour. Retries come from the spec
// (retrySettings), 2 extra attempts by default.
struct SmClientOptions : ApiTimings {
  BatchOptions batch;
};

// `endpoint`: the Secrets Manager URL (Endpoints::secrets_manager). kInternal when the context
// lacks a loop, HttpClient or Deferrer, or `creds` is null.
Result<std::unique_ptr<SecretClient>> make_sm_client(AwsSpec spec, ProviderContext ctx,
                                                     std::shared_ptr<CredentialProvider> creds,
                                                     std::string endpoint,
                                                     SmClientOptions options = {});

}  // namespace esd::providers::aws
