// Referent authentication (ESO's isReferentSpec): a ClusterSecretStore whose spec names a
// Secret, ServiceAccount or ConfigMap without a namespace resolves it in the namespace of each
// ExternalSecret that uses it, so it needs one client (one login, one token) per namespace.
// Any other store needs a single client for all namespaces.
#pragma once

#include <nlohmann/json.hpp>

namespace esd::providers {

// True if some object reference in `provider_spec` has no "namespace": a value of a member
// whose name ends in "Ref" (secretRef, tokenSecretRef, serviceAccountRef, certSecretRef, ...)
// or is "clientCert" or "caProvider", that is an object with a "name".
bool has_namespaceless_refs(const nlohmann::json& provider_spec);

}  // namespace esd::providers
