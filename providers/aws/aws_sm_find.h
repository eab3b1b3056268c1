// dataFrom.find for Secrets Manager, as ESO does (eso-api.md §3.1): name.regexp alone pages
// through ListSecrets (no filter, MaxResults 100), matches the regexp (RE2, unanchored) on Name
// and reads the matches through the batcher (20 per call); path and/or tags page through
// BatchGetSecretValue with filters (name prefix, tag-key/tag-value pairs; MaxResults 20), the
// regexp applied client-side; when the batch API is denied, ListSecrets with the same filters and
// the batcher instead. Result key = Name, value = SecretString or the binary bytes. Secrets
// pending deletion are excluded (the services' default). `done` runs once, never from inside
// find_secrets(), and never after the api or batcher is closed.
#pragma once

#include <memory>

#include "providers/aws/aws_sm_api.h"
#include "providers/aws/aws_sm_batch.h"
#include "providers/provider.h"

namespace esd::providers::aws {

// kInvalidConfig "unexpected find operator" without name, path and tags; kInvalidRef for a bad
// regexp.
void find_secrets(const std::shared_ptr<SmApi>& api, const std::shared_ptr<SmBatcher>& batcher,
                  FindRef find, MapDone done);

}  // namespace esd::providers::aws
