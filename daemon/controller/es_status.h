// The part of an ExternalSecret's status that the controller owns, in compact form, with ESO's
// reasons and messages. Built from the live object (informer) and compared with the desired one,
// so that a status write happens only when something in it changes.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace esd::controller {

namespace reason {
inline constexpr const char kSecretSynced[] = "SecretSynced";
inline constexpr const char kSecretSyncedError[] = "SecretSyncedError";
inline constexpr const char kSecretDeleted[] = "SecretDeleted";
inline constexpr const char kSecretMissing[] = "SecretMissing";
}  // namespace reason

namespace message {
inline constexpr const char kSynced[] = "secret synced";
inline constexpr const char kRetained[] = "secret retained due to DeletionPolicy=Retain";
inline constexpr const char kDeleted[] = "secret deleted due to DeletionPolicy=Delete";
inline constexpr const char kMergeMissing[] = "secret will not be created due to CreationPolicy=Merge";
inline constexpr const char kProviderError[] = "could not get secret data from provider";
inline constexpr const char kUpdateFailed[] = "could not update secret";
inline constexpr const char kImmutable[] = "could not update secret, target is immutable";
inline constexpr const char kDeleteFailed[] = "could not delete secret";
inline constexpr const char kOwnedByOther[] = "target is owned by another ExternalSecret";
inline constexpr const char kTakeOwnership[] = "failed to take ownership of target secret";
}  // namespace message

// Compact: times as Unix ms (0 = absent), syncedResourceVersion and binding.name as hashes
// (only compared; the patch takes their text from the ExternalSecret's entry).
struct EsStatus {
  std::string ready;  // "True" | "False" | "" (no condition yet)
  std::string reason;
  std::string message;
  int64_t transition_ms = 0;  // lastTransitionTime
  int64_t refresh_ms = 0;     // refreshTime
  uint64_t synced_rv_h = 0;   // text_hash(syncedResourceVersion), 0 = absent
  uint64_t binding_h = 0;     // text_hash(binding.name), 0 = absent

  // Same condition and fields, ignoring the times.
  bool same_outcome(const EsStatus& o) const {
    return ready == o.ready && reason == o.reason && message == o.message &&
           synced_rv_h == o.synced_rv_h && binding_h == o.binding_h;
  }
};

uint64_t text_hash(const std::string& s);  // 0 for ""

EsStatus parse_status(const nlohmann::json& es);
// The JSON merge patch body for /status. Empty `synced_rv`/`binding` and a zero refresh time are
// left out, so the fields keep what the object has (a failure does not touch them).
nlohmann::json status_patch(const EsStatus& s, const std::string& synced_rv,
                            const std::string& binding);

}  // namespace esd::controller
