// Compact, validated forms of the ESO objects the controller works on, parsed from the API
// server's JSON (v1 and v1beta1 have the same shape for everything we read). Raw JSON is not
// kept for ExternalSecrets; stores keep their provider spec, since providers parse it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/common/result.h"
#include "providers/provider.h"

namespace esd::controller {

enum class CreationPolicy { kOwner, kOrphan, kMerge, kNone, kCreateOrMerge };
enum class DeletionPolicy { kRetain, kDelete, kMerge };
enum class RefreshPolicy { kPeriodic, kCreatedOnce, kOnChange };
enum class Decoding { kNone, kBase64, kBase64Url, kAuto };
enum class Conversion { kDefault, kUnicode };
enum class NullBytePolicy { kIgnore, kFail };

struct StoreRef {
  std::string name;
  std::string kind = "SecretStore";  // SecretStore | ClusterSecretStore
  bool operator==(const StoreRef&) const = default;
};

struct DataItem {
  std::string secret_key;
  providers::RemoteRef ref;
  Decoding decoding = Decoding::kNone;
  NullBytePolicy null_bytes = NullBytePolicy::kIgnore;
  std::optional<StoreRef> store;  // sourceRef.storeRef override
};

struct Rewrite {
  std::string source;  // regexp.source (RE2)
  std::string target;  // regexp.target ($1 expansion)
};

struct DataFromItem {
  enum class Kind { kExtract, kFind } kind = Kind::kExtract;
  providers::RemoteRef extract;
  providers::FindRef find;
  Decoding decoding = Decoding::kNone;
  Conversion conversion = Conversion::kDefault;
  NullBytePolicy null_bytes = NullBytePolicy::kIgnore;
  std::vector<Rewrite> rewrites;
  std::optional<StoreRef> store;
};

struct EsSpec {
  StoreRef store;
  int64_t refresh_ms = 3'600'000;  // 0 = sync once
  RefreshPolicy refresh_policy = RefreshPolicy::kPeriodic;
  std::string target_name;  // defaulted to metadata.name
  CreationPolicy creation = CreationPolicy::kOwner;
  DeletionPolicy deletion = DeletionPolicy::kRetain;
  bool immutable = false;
  bool has_template = false;  // templates come later: a clear "not supported yet" status
  std::vector<DataItem> data;
  std::vector<DataFromItem> data_from;
};

struct ObjectMeta {
  std::string ns;
  std::string name;
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  bool deleting = false;  // deletionTimestamp set
};

ObjectMeta parse_meta(const nlohmann::json& obj);

// Parses and validates spec (ESO's admission rules included: data or dataFrom required,
// policy combinations, key patterns). kInvalidConfig with a message naming the field.
Result<EsSpec> parse_es_spec(const nlohmann::json& es);

// Go time.ParseDuration: "1h", "1h30m", "300ms", "1.5h", ".5s", "+1m", "0"; units ns, us, µs, μs,
// ms, s, m, h. Negative durations are rejected (leading '-'). The result is in milliseconds,
// truncated, except that a non-zero duration under 1 ms becomes 1 ms (0 keeps meaning "once").
// kInvalidConfig with Go's message, e.g. `time: invalid duration "abc"`.
Result<int64_t> parse_go_duration(const std::string& s);

// One namespaceSelector.matchExpressions entry (Kubernetes LabelSelectorRequirement).
struct LabelRequirement {
  enum class Op { kIn, kNotIn, kExists, kDoesNotExist } op = Op::kIn;
  std::string key;
  std::vector<std::string> values;  // In/NotIn: non-empty; Exists/DoesNotExist: empty
};

// A condition matches if its selector matches the namespace's labels, or the namespace is listed,
// or a regex matches its name. A present but empty namespaceSelector ({}) matches every
// namespace, as in Kubernetes; an absent one matches none.
struct NamespaceCondition {
  std::map<std::string, std::string> match_labels;  // namespaceSelector.matchLabels
  std::vector<std::string> namespaces;
  std::vector<std::string> namespace_regexes;       // RE2, unanchored (Go MatchString)
  std::vector<LabelRequirement> match_expressions;  // namespaceSelector.matchExpressions
  // namespaceSelector is present (implied when match_labels or match_expressions is non-empty).
  bool has_selector = false;
};

struct StoreSpec {
  std::string kind;            // SecretStore | ClusterSecretStore
  std::string ns;              // empty for cluster stores
  std::string name;
  std::string provider;        // the single key under spec.provider
  nlohmann::json provider_spec;
  std::string controller;      // spec.controller class
  std::vector<NamespaceCondition> conditions;  // ClusterSecretStore only
  std::string fingerprint;     // hash of spec: a change rebuilds the client
  // spec.refreshInterval (integer seconds or a Go duration): store re-validation period;
  // nullopt = unset (the controller's default).
  std::optional<int64_t> refresh_ms;
};

// A SecretStore / ClusterSecretStore object. kind comes from the object ("kind"; when absent,
// ClusterSecretStore if metadata.namespace is empty). conditions are read for cluster stores only
// (ESO ignores them elsewhere); their regexes must compile. fingerprint = hex SHA-256 of the
// compact dump of spec (object keys sorted). kInvalidConfig naming the field otherwise.
Result<StoreSpec> parse_store(const nlohmann::json& store);

// ClusterSecretStore conditions: true if an ES in `ns` (with namespace labels) may use it.
bool store_allows_namespace(const StoreSpec& store, const std::string& ns,
                            const std::map<std::string, std::string>& ns_labels);

}  // namespace esd::controller
