// The markers ESO writes on the Secrets and ExternalSecrets it manages (eso-api.md §2.3):
// label/annotation names, the created-by label, ESO's data hash, our keyed data HMAC, the field
// manager name and syncedResourceVersion. Pure functions, byte-compatible with ESO where ESO
// defines the value (test vectors in tests/controller/markers_test.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "daemon/common/sensitive.h"

namespace esd::controller {

inline constexpr std::string_view kManagedLabel = "reconcile.external-secrets.io/managed";
inline constexpr std::string_view kCreatedByLabel = "reconcile.external-secrets.io/created-by";
inline constexpr std::string_view kDataHashAnnotation = "reconcile.external-secrets.io/data-hash";
inline constexpr std::string_view kEsFinalizer =
    "externalsecrets.external-secrets.io/externalsecret-cleanup";
inline constexpr std::string_view kFieldManagerPrefix = "externalsecrets.external-secrets.io/";

// Lowercase hex SHA3-224 of "<ns>/<name>" (56 chars).
std::string created_by_label(std::string_view ns, std::string_view name);

// ESO's utils.ObjectHash(secret.Data): SHA3-224 hex of Go's fmt "%+v" of map[string][]byte,
// i.e. "map[k1:[98 97 114] k2:[]]" with keys sorted bytewise.
std::string eso_data_hash(const SecretMap& data);

// HMAC-SHA256 hex, keyed with the daemon's key, of the sorted map encoded as, per entry,
// u64be(len(key)) key u64be(len(value)) value. Unambiguous, and reveals nothing about the values
// without the key. This is what goes in the data-hash annotation and the state store.
std::string data_hmac(std::string_view key, const SecretMap& data);

// "externalsecrets.external-secrets.io/<name>", or ".../sha3/<sha3-224-hex(name)>" when the full
// string would be longer than 63 characters.
std::string field_manager(std::string_view es_name);

// ESO's getResourceVersion: "<generation>-<sha3-224 hex of "{annotations:map[k:v ...]
// labels:map[...]}">".
std::string synced_resource_version(int64_t generation,
                                    const std::map<std::string, std::string>& labels,
                                    const std::map<std::string, std::string>& annotations);

}  // namespace esd::controller
