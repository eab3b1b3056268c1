// SecretBuilder: the desired target Secret for one ExternalSecret, from the shaped data, the live
// Secret (if any) and what the daemon owned on it before. Pure: no I/O. It applies ESO's
// creationPolicy rules (data rebuilt for Owner/Orphan, foreign keys kept for Merge and
// CreateOrMerge), the markers (managed label, created-by, keyed data-hash annotation), the
// ownerReference, and reports whether anything differs from the live object.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"
#include "daemon/controller/es_spec.h"
#include "storage/state_store.h"

namespace esd::controller {

struct EsIdentity {
  std::string ns;
  std::string name;
  std::string uid;
  std::string api_version = "external-secrets.io/v1";
  std::map<std::string, std::string> labels;       // copied onto the Secret (no template)
  std::map<std::string, std::string> annotations;
};

struct BuiltSecret {
  nlohmann::json object;  // holds base64 secret data: send it, never log it
  std::string data_hmac;  // keyed HMAC of the Secret's full data
  std::vector<storage::OwnedField> owned;
  bool create = false;    // no live Secret: POST
  bool changed = false;   // differs from the live Secret: PUT
};

// HMAC over a live Secret's `data` (base64 values decoded). "" if data is malformed.
std::string live_data_hmac(std::string_view key, const nlohmann::json& secret);

// Errors: kConflict with message::kOwnedByOther / kTakeOwnership; kInvalidConfig with
// message::kImmutable when an immutable Secret would need new data.
Result<BuiltSecret> build_secret(const EsIdentity& es, const EsSpec& spec, const SecretMap& data,
                                 const std::optional<nlohmann::json>& live,
                                 const std::vector<storage::OwnedField>& previously_owned,
                                 std::string_view hmac_key);

}  // namespace esd::controller
