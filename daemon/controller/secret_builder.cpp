#include "daemon/controller/secret_builder.h"

#include <set>

#include "daemon/common/crypto.h"
#include "daemon/controller/es_status.h"
#include "daemon/controller/markers.h"

namespace esd::controller {
namespace {

using nlohmann::json;
using StrMap = std::map<std::string, std::string>;

constexpr const char kLastApplied[] = "kubectl.kubernetes.io/last-applied-configuration";

StrMap string_map(const json& obj, const char* a, const char* b) {
  StrMap out;
  auto m = obj.find(a);
  if (m == obj.end() || !m->is_object()) return out;
  auto f = m->find(b);
  if (f == m->end() || !f->is_object()) return out;
  for (const auto& [k, v] : f->items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

// Decodes a live Secret's data into a SecretMap; nullopt if any value is not valid base64.
std::optional<SecretMap> live_data(const json& secret) {
  SecretMap out;
  auto d = secret.find("data");
  if (d == secret.end() || d->is_null()) return out;
  if (!d->is_object()) return std::nullopt;
  for (const auto& [k, v] : d->items()) {
    if (!v.is_string()) return std::nullopt;
    auto bytes = base64_decode(v.get_ref<const std::string&>());
    if (!bytes) return std::nullopt;
    out.emplace(k, Sensitive(std::move(*bytes)));
  }
  return out;
}

std::set<std::string> owned_names(const std::vector<storage::OwnedField>& owned,
                                  std::string_view kind) {
  std::set<std::string> out;
  for (const auto& f : owned) {
    if (f.kind == kind) out.insert(f.name);
  }
  return out;
}

bool merges_foreign_keys(CreationPolicy p) {
  return p == CreationPolicy::kMerge || p == CreationPolicy::kCreateOrMerge;
}

// Labels or annotations: keep foreign ones, drop what we owned before, add ours.
StrMap merge_meta(StrMap live, const std::set<std::string>& previously, const StrMap& ours) {
  for (const auto& k : previously) live.erase(k);
  for (const auto& [k, v] : ours) live[k] = v;
  return live;
}

Status apply_owner_refs(const EsIdentity& es, bool owner, json& refs) {
  json out = json::array();
  for (const auto& r : refs) {
    const bool ours = r.value("uid", "") == es.uid;
    if (ours) continue;
    if (owner && r.value("controller", false)) {
      if (r.value("kind", "") == "ExternalSecret") {
        return Error(ErrorCode::kConflict, message::kOwnedByOther);
      }
      return Error(ErrorCode::kConflict, message::kTakeOwnership);
    }
    out.push_back(r);
  }
  if (owner) {
    out.push_back({{"apiVersion", es.api_version},
                   {"kind", "ExternalSecret"},
                   {"name", es.name},
                   {"uid", es.uid},
                   {"controller", true},
                   {"blockOwnerDeletion", true}});
  }
  refs = std::move(out);
  return {};
}

json encode_data(const SecretMap& data) {
  json out = json::object();
  for (const auto& [k, v] : data) out[k] = base64_encode(v.view());
  return out;
}

json str_map_json(const StrMap& m) {
  json out = json::object();
  for (const auto& [k, v] : m) out[k] = v;
  return out;
}

}  // namespace

std::string live_data_hmac(std::string_view key, const nlohmann::json& secret) {
  auto data = live_data(secret);
  return data ? data_hmac(key, *data) : std::string();
}

Result<BuiltSecret> build_secret(const EsIdentity& es, const EsSpec& spec, const SecretMap& data,
                                 const std::optional<nlohmann::json>& live,
                                 const std::vector<storage::OwnedField>& previously_owned,
                                 std::string_view hmac_key) {
  const bool owner = spec.creation == CreationPolicy::kOwner;
  BuiltSecret out;
  out.create = !live.has_value();
  json obj = live ? *live : json{{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", "Opaque"}};
  obj.erase("managedFields");
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  json& meta = obj["metadata"];
  meta["name"] = spec.target_name;
  meta["namespace"] = es.ns;
  meta.erase("managedFields");

  // Data: rebuilt for Owner/Orphan; foreign keys kept for the merge policies.
  SecretMap full;
  std::optional<SecretMap> before = live ? live_data(*live) : SecretMap{};
  if (merges_foreign_keys(spec.creation) && before) {
    full = clone_map(*before);
    for (const auto& k : owned_names(previously_owned, "data")) full.erase(k);
  }
  for (const auto& [k, v] : data) full.insert_or_assign(k, v.clone());
  out.data_hmac = data_hmac(hmac_key, full);

  // Labels and annotations: ES metadata copied (ESO, no template), plus the markers.
  StrMap our_labels, our_annotations;
  for (const auto& [k, v] : es.labels) our_labels[k] = v;
  for (const auto& [k, v] : es.annotations) {
    if (k != kLastApplied) our_annotations[k] = v;
  }
  our_labels[std::string(kManagedLabel)] = "true";
  if (owner) our_labels[std::string(kCreatedByLabel)] = created_by_label(es.ns, es.name);
  our_annotations[std::string(kDataHashAnnotation)] = out.data_hmac;
  auto prev_labels = owned_names(previously_owned, "label");
  prev_labels.insert(std::string(kCreatedByLabel));  // removed when the policy is not Owner
  StrMap labels = merge_meta(string_map(obj, "metadata", "labels"), prev_labels, our_labels);
  StrMap annotations = merge_meta(string_map(obj, "metadata", "annotations"),
                                  owned_names(previously_owned, "annotation"), our_annotations);

  json refs = meta.value("ownerReferences", json::array());
  if (!refs.is_array()) refs = json::array();
  if (auto s = apply_owner_refs(es, owner, refs); !s) return s.error();

  const bool live_immutable = live && live->value("immutable", false);
  const bool data_changed = !before || out.data_hmac != data_hmac(hmac_key, *before);
  if (live_immutable && data_changed) {
    return Error(ErrorCode::kInvalidConfig, message::kImmutable);
  }

  json new_obj = obj;
  new_obj["data"] = encode_data(full);
  new_obj["metadata"]["labels"] = str_map_json(labels);
  new_obj["metadata"]["annotations"] = str_map_json(annotations);
  if (refs.empty()) {
    new_obj["metadata"].erase("ownerReferences");
  } else {
    new_obj["metadata"]["ownerReferences"] = refs;
  }
  if (spec.immutable) new_obj["immutable"] = true;
  if (!new_obj.contains("type")) new_obj["type"] = "Opaque";

  out.changed = out.create || data_changed ||
                new_obj["metadata"]["labels"] != obj["metadata"].value("labels", json::object()) ||
                new_obj["metadata"]["annotations"] !=
                    obj["metadata"].value("annotations", json::object()) ||
                refs != meta.value("ownerReferences", json::array()) ||
                new_obj.value("immutable", false) != obj.value("immutable", false);
  out.object = std::move(new_obj);
  for (const auto& [k, v] : data) out.owned.push_back({"data", k});
  for (const auto& [k, v] : our_labels) out.owned.push_back({"label", k});
  for (const auto& [k, v] : our_annotations) out.owned.push_back({"annotation", k});
  return out;
}

}  // namespace esd::controller
