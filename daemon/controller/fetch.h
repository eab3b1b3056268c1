// Fetch: gathers every value one ExternalSecret needs from its store(s) and shapes it into the
// final data map (ESO's per-source pipeline: extract/find → rewrite or key conversion → key
// validation → decoding → NUL check; data[] applied after dataFrom[]). data[] refs of one store go
// to the provider in one batch call. The callback is called exactly once, on the loop.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"
#include "daemon/controller/es_spec.h"
#include "providers/provider.h"
#include "storage/state_store.h"

namespace esd {
class Deferrer;
}

namespace esd::controller {

using ClientRef = std::shared_ptr<providers::SecretClient>;
// Resolves a store reference to a live client, or a classified error (missing store, denied by
// ClusterSecretStore conditions, invalid provider config).
using ClientLookup = std::function<Result<ClientRef>(const StoreRef&)>;

struct FetchOutcome {
  SecretMap data;
  std::vector<storage::KeyVersion> versions;
  std::vector<std::string> missing;  // MissingProviderSecret event messages (deletionPolicy)
  int sources_found = 0;             // sources that returned data (for deletionPolicy)
};

struct FetchError {
  Error error;             // detail for events and logs (never holds values)
  bool all_not_found = false;
};

// `max_age_ms` goes into every RemoteRef (see providers::RemoteRef::max_age_ms).
void fetch_all(const EsSpec& spec, const ClientLookup& lookup, Deferrer& deferrer,
               int64_t max_age_ms, std::function<void(Result<FetchOutcome>)> done);

}  // namespace esd::controller
