// The AWS Parameter Store SecretClient (spec.provider.aws, service ParameterStore; eso-api.md
// §3.1). Plain reads (no version, no metadataPolicy) are gathered into GetParameters calls of up
// to 10 names (flushed 50 ms after the first queued name, or at once at 10), identical reads
// queued or in flight share one fetch, and values are kept for the largest max_age_ms their
// callers accept (a ref with max_age_ms > 0 is answered from a value at most that old; 0 always
// reads). Versioned reads ("name:<version>", GetParameter) and metadataPolicy Fetch
// (ListTagsForResource) are shared while in flight. find: GetParametersByPath (falls back to
// DescribeParameters + GetParameters on AccessDenied) or, with tags, DescribeParameters with tag
// filters. Every call is signed for "ssm" with X-Amz-Target AmazonSSM.<Op> and counted as
// "AWS/ParameterStore". Lives across syncs until its store changes and owns its
// CredentialProvider (closed with it). Callbacks: exactly once, on the loop thread, never from
// inside the call; none after close() or destruction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "providers/aws/aws_credentials.h"
#include "providers/aws/aws_sm_api.h"
#include "providers/aws/aws_spec.h"
#include "providers/provider.h"

namespace esd::providers::aws {

// Knobs for tests; the defaults are the production behaviour. Retries come from the spec
// (retrySettings), 2 extra attempts by default.
struct PsClientOptions : ApiTimings {
  size_t max_names = 10;     // GetParameters' Names limit
  int64_t gather_ms = 50;    // how long a batch that is not full waits for more names
  size_t max_kept = 10'000;  // names with a kept value (or a max_age) remembered at most
};

// `endpoint`: the SSM URL (Endpoints::ssm). kInternal when the context lacks a loop, HttpClient
// or Deferrer, or `creds` is null.
Result<std::unique_ptr<SecretClient>> make_ps_client(AwsSpec spec, ProviderContext ctx,
                                                     std::shared_ptr<CredentialProvider> creds,
                                                     std::string endpoint,
                                                     PsClientOptions options = {});

}  // namespace esd::providers::aws
