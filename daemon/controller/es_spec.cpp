#include "daemon/controller/es_spec.h"

#include <re2/re2.h>

#include <set>
#include <utility>

#include "daemon/controller/json_fields.h"

namespace esd::controller {

namespace {

using nlohmann::json;
using providers::MetadataPolicy;

constexpr int64_t kDefaultRefreshMs = 3'600'000;
constexpr size_t kMaxNameLength = 253;

constexpr EnumName<CreationPolicy> kCreation[] = {
    {"Owner", CreationPolicy::kOwner},
    {"Orphan", CreationPolicy::kOrphan},
    {"Merge", CreationPolicy::kMerge},
    {"None", CreationPolicy::kNone},
    {"CreateOrMerge", CreationPolicy::kCreateOrMerge},
};
constexpr EnumName<DeletionPolicy> kDeletion[] = {
    {"Delete", DeletionPolicy::kDelete},
    {"Merge", DeletionPolicy::kMerge},
    {"Retain", DeletionPolicy::kRetain},
};
constexpr EnumName<RefreshPolicy> kRefresh[] = {
    {"CreatedOnce", RefreshPolicy::kCreatedOnce},
    {"Periodic", RefreshPolicy::kPeriodic},
    {"OnChange", RefreshPolicy::kOnChange},
};
constexpr EnumName<Decoding> kDecoding[] = {
    {"Auto", Decoding::kAuto},
    {"Base64", Decoding::kBase64},
    {"Base64URL", Decoding::kBase64Url},
    {"None", Decoding::kNone},
};
constexpr EnumName<Conversion> kConversion[] = {
    {"Default", Conversion::kDefault},
    {"Unicode", Conversion::kUnicode},
};
constexpr EnumName<NullBytePolicy> kNullBytes[] = {
    {"Ignore", NullBytePolicy::kIgnore},
    {"Fail", NullBytePolicy::kFail},
};
constexpr EnumName<MetadataPolicy> kMetadata[] = {
    {"None", MetadataPolicy::kNone},
    {"Fetch", MetadataPolicy::kFetch},
};
constexpr EnumName<std::string_view> kStoreKinds[] = {
    {"SecretStore", "SecretStore"},
    {"ClusterSecretStore", "ClusterSecretStore"},
};

std::string indexed(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

Status check_regexp(const std::string& pattern, const std::string& path) {
  RE2::Options opts;
  opts.set_log_errors(false);
  const RE2 re(pattern, opts);
  if (!re.ok()) return field_error(path, "invalid regexp: " + re.error());
  return ok_status();
}

// CRD rules for data[].secretKey: required, ≤253, ^[-._a-zA-Z0-9]+$.
Status check_secret_key(const std::string& key, const std::string& path) {
  if (key.empty()) return field_error(path, "required");
  if (key.size() > kMaxNameLength) return field_error(path, "must be no more than 253 characters");
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_';
    if (!ok) return field_error(path, "\"" + key + "\" must match ^[-._a-zA-Z0-9]+$");
  }
  return ok_status();
}

Result<StoreRef> parse_store_ref(const Fields& f, bool name_required) {
  StoreRef ref;
  ESD_ASSIGN_OR_RETURN(name, f.str("name"));
  if (name_required && name.empty()) return field_error(f.at("name"), "required");
  ref.name = std::move(name);
  ESD_ASSIGN_OR_RETURN(kind, parse_enum(f, "kind", kStoreKinds, std::string_view("SecretStore")));
  ref.kind = std::string(kind);
  return ref;
}

// sourceRef: exactly one of storeRef / generatorRef; nullopt when absent.
Result<std::optional<StoreRef>> parse_source_ref(const Fields& parent) {
  ESD_ASSIGN_OR_RETURN(src, parent.object("sourceRef"));
  if (!src.present()) return std::optional<StoreRef>();
  if (src.has("generatorRef")) {
    return field_error(src.at("generatorRef"), "generators are not supported yet");
  }
  if (!src.has("storeRef")) {
    return field_error(src.path(), "generatorRef or storeRef must be set when using sourceRef");
  }
  ESD_ASSIGN_OR_RETURN(store, src.object("storeRef"));
  ESD_ASSIGN_OR_RETURN(ref, parse_store_ref(store, true));
  return std::optional<StoreRef>(std::move(ref));
}

// ExternalSecretDataRemoteRef: data[].remoteRef and dataFrom[].extract.
struct RefOptions {
  providers::RemoteRef ref;
  Decoding decoding = Decoding::kNone;
  Conversion conversion = Conversion::kDefault;
  NullBytePolicy null_bytes = NullBytePolicy::kIgnore;
};

Result<RefOptions> parse_remote_ref(const Fields& f) {
  if (!f.present()) return field_error(f.path(), "required");
  RefOptions o;
  ESD_ASSIGN_OR_RETURN(key, f.str("key"));
  if (key.empty()) return field_error(f.at("key"), "required");
  o.ref.key = std::move(key);
  ESD_ASSIGN_OR_RETURN(property, f.str("property"));
  o.ref.property = std::move(property);
  ESD_ASSIGN_OR_RETURN(version, f.str("version"));
  o.ref.version = std::move(version);
  ESD_ASSIGN_OR_RETURN(meta, parse_enum(f, "metadataPolicy", kMetadata, MetadataPolicy::kNone));
  o.ref.metadata_policy = meta;
  ESD_ASSIGN_OR_RETURN(dec, parse_enum(f, "decodingStrategy", kDecoding, Decoding::kNone));
  o.decoding = dec;
  ESD_ASSIGN_OR_RETURN(conv,
                       parse_enum(f, "conversionStrategy", kConversion, Conversion::kDefault));
  o.conversion = conv;
  ESD_ASSIGN_OR_RETURN(nul, parse_enum(f, "nullBytePolicy", kNullBytes, NullBytePolicy::kIgnore));
  o.null_bytes = nul;
  return o;
}

Result<DataItem> parse_data_item(const json& v, const std::string& path) {
  ESD_ASSIGN_OR_RETURN(f, Fields::of(v, path));
  DataItem item;
  ESD_ASSIGN_OR_RETURN(key, f.str("secretKey"));
  ESD_RETURN_IF_ERROR(check_secret_key(key, f.at("secretKey")));
  item.secret_key = std::move(key);
  ESD_ASSIGN_OR_RETURN(rf, f.object("remoteRef"));
  ESD_ASSIGN_OR_RETURN(ro, parse_remote_ref(rf));
  item.ref = std::move(ro.ref);
  item.decoding = ro.decoding;
  item.null_bytes = ro.null_bytes;
  ESD_ASSIGN_OR_RETURN(store, parse_source_ref(f));
  item.store = std::move(store);
  return item;
}

Status parse_find(const Fields& f, DataFromItem& item) {
  item.kind = DataFromItem::Kind::kFind;
  ESD_ASSIGN_OR_RETURN(path, f.str("path"));
  item.find.path = std::move(path);
  ESD_ASSIGN_OR_RETURN(name, f.object("name"));
  ESD_ASSIGN_OR_RETURN(regexp, name.str("regexp"));
  ESD_RETURN_IF_ERROR(check_regexp(regexp, name.at("regexp")));
  item.find.name_regexp = std::move(regexp);
  ESD_ASSIGN_OR_RETURN(tags, f.string_map("tags"));
  item.find.tags = std::move(tags);
  ESD_ASSIGN_OR_RETURN(dec, parse_enum(f, "decodingStrategy", kDecoding, Decoding::kNone));
  item.decoding = dec;
  ESD_ASSIGN_OR_RETURN(conv,
                       parse_enum(f, "conversionStrategy", kConversion, Conversion::kDefault));
  item.conversion = conv;
  ESD_ASSIGN_OR_RETURN(nul, parse_enum(f, "nullBytePolicy", kNullBytes, NullBytePolicy::kIgnore));
  item.null_bytes = nul;
  return ok_status();
}

Result<Rewrite> parse_rewrite(const json& v, const std::string& path) {
  ESD_ASSIGN_OR_RETURN(f, Fields::of(v, path));
  const int kinds = int{f.has("regexp")} + int{f.has("transform")} + int{f.has("merge")};
  if (kinds != 1) return field_error(path, "exactly one of regexp, transform or merge must be set");
  if (f.has("transform"))
    return field_error(f.at("transform"), "transform rewrites are not supported yet");
  if (f.has("merge")) return field_error(f.at("merge"), "merge rewrites are not supported yet");
  ESD_ASSIGN_OR_RETURN(re, f.object("regexp"));
  Rewrite rw;
  ESD_ASSIGN_OR_RETURN(source, re.str("source"));
  ESD_RETURN_IF_ERROR(check_regexp(source, re.at("source")));
  rw.source = std::move(source);
  ESD_ASSIGN_OR_RETURN(target, re.str("target"));
  rw.target = std::move(target);
  return rw;
}

Result<DataFromItem> parse_data_from_item(const json& v, const std::string& path) {
  ESD_ASSIGN_OR_RETURN(f, Fields::of(v, path));
  DataFromItem item;
  ESD_ASSIGN_OR_RETURN(store, parse_source_ref(f));
  item.store = std::move(store);
  const bool extract = f.has("extract");
  const bool find = f.has("find");
  if (extract && find) return field_error(path, "extract and find cannot be set at the same time");
  if (!extract && !find) return field_error(path, "either extract or find must be set");
  if (extract) {
    ESD_ASSIGN_OR_RETURN(ef, f.object("extract"));
    ESD_ASSIGN_OR_RETURN(ro, parse_remote_ref(ef));
    item.kind = DataFromItem::Kind::kExtract;
    item.extract = std::move(ro.ref);
    item.decoding = ro.decoding;
    item.conversion = ro.conversion;
    item.null_bytes = ro.null_bytes;
  } else {
    ESD_ASSIGN_OR_RETURN(ff, f.object("find"));
    ESD_RETURN_IF_ERROR(parse_find(ff, item));
  }
  ESD_ASSIGN_OR_RETURN(rewrites, f.array("rewrite"));
  for (size_t i = 0; rewrites != nullptr && i < rewrites->size(); ++i) {
    ESD_ASSIGN_OR_RETURN(rw, parse_rewrite((*rewrites)[i], indexed(f.at("rewrite"), i)));
    item.rewrites.push_back(std::move(rw));
  }
  return item;
}

Status parse_refresh(const Fields& spec, EsSpec& out) {
  ESD_ASSIGN_OR_RETURN(policy,
                       parse_enum(spec, "refreshPolicy", kRefresh, RefreshPolicy::kPeriodic));
  out.refresh_policy = policy;
  if (!spec.has("refreshInterval")) {
    out.refresh_ms = kDefaultRefreshMs;
    return ok_status();
  }
  ESD_ASSIGN_OR_RETURN(text, spec.str("refreshInterval"));
  auto ms = parse_go_duration(text);
  if (!ms) {
    return field_error(spec.at("refreshInterval"),
                       "invalid refreshInterval \"" + text + "\": " + ms.error().message);
  }
  out.refresh_ms = *ms;
  return ok_status();
}

Status parse_target(const Fields& spec, const std::string& es_name, EsSpec& out) {
  ESD_ASSIGN_OR_RETURN(t, spec.object("target"));
  ESD_ASSIGN_OR_RETURN(name, t.str("name"));
  out.target_name = name.empty() ? es_name : std::move(name);
  if (out.target_name.empty()) return field_error(t.at("name"), "required");
  ESD_ASSIGN_OR_RETURN(creation,
                       parse_enum(t, "creationPolicy", kCreation, CreationPolicy::kOwner));
  out.creation = creation;
  ESD_ASSIGN_OR_RETURN(deletion,
                       parse_enum(t, "deletionPolicy", kDeletion, DeletionPolicy::kRetain));
  out.deletion = deletion;
  ESD_ASSIGN_OR_RETURN(immutable, t.boolean("immutable"));
  out.immutable = immutable;
  ESD_ASSIGN_OR_RETURN(tpl, t.object("template"));
  out.has_template = tpl.present();
  if (t.has("manifest")) {
    return field_error(t.at("manifest"), "generic targets are not supported yet");
  }
  return ok_status();
}

Status parse_sources(const Fields& spec, EsSpec& out) {
  ESD_ASSIGN_OR_RETURN(data, spec.array("data"));
  for (size_t i = 0; data != nullptr && i < data->size(); ++i) {
    ESD_ASSIGN_OR_RETURN(item, parse_data_item((*data)[i], indexed(spec.at("data"), i)));
    out.data.push_back(std::move(item));
  }
  ESD_ASSIGN_OR_RETURN(from, spec.array("dataFrom"));
  for (size_t i = 0; from != nullptr && i < from->size(); ++i) {
    ESD_ASSIGN_OR_RETURN(item, parse_data_from_item((*from)[i], indexed(spec.at("dataFrom"), i)));
    out.data_from.push_back(std::move(item));
  }
  return ok_status();
}

// ESO's admission webhook rules (externalsecret_validator.go) plus the store-name requirement.
Status check_admission(const EsSpec& s) {
  if (s.data.empty() && s.data_from.empty()) {
    return field_error("spec", "either data or dataFrom should be specified");
  }
  if (s.deletion == DeletionPolicy::kDelete &&
      (s.creation == CreationPolicy::kMerge || s.creation == CreationPolicy::kNone ||
       s.creation == CreationPolicy::kCreateOrMerge)) {
    return field_error("spec.target.deletionPolicy",
                       "deletionPolicy=Delete must not be used when the controller doesn't own "
                       "the secret. Please set creationPolicy=Owner");
  }
  if (s.deletion == DeletionPolicy::kMerge && s.creation == CreationPolicy::kNone) {
    return field_error("spec.target.deletionPolicy",
                       "deletionPolicy=Merge must not be used with creationPolicy=None. There "
                       "is no Secret to merge with");
  }
  if (s.deletion == DeletionPolicy::kRetain) {  // [quirk] only then, as in ESO
    std::set<std::string> seen;
    for (size_t i = 0; i < s.data.size(); ++i) {
      if (!seen.insert(s.data[i].secret_key).second) {
        return field_error(indexed("spec.data", i) + ".secretKey",
                           "duplicate secretKey found: " + s.data[i].secret_key);
      }
    }
  }
  if (s.store.name.empty()) {
    for (size_t i = 0; i < s.data.size(); ++i) {
      if (!s.data[i].store) {
        return field_error("spec.secretStoreRef.name",
                           "required (spec.data[" + std::to_string(i) + "] has no sourceRef)");
      }
    }
    for (size_t i = 0; i < s.data_from.size(); ++i) {
      if (!s.data_from[i].store) {
        return field_error("spec.secretStoreRef.name",
                           "required (spec.dataFrom[" + std::to_string(i) + "] has no sourceRef)");
      }
    }
  }
  return ok_status();
}

std::map<std::string, std::string> lenient_string_map(const Fields& f, std::string_view key) {
  std::map<std::string, std::string> out;
  const json* v = f.raw(key);
  if (v == nullptr || !v->is_object()) return out;
  for (const auto& [k, item] : v->items()) {
    if (item.is_string()) out.emplace(k, item.get<std::string>());
  }
  return out;
}

}  // namespace

ObjectMeta parse_meta(const json& obj) {
  ObjectMeta m;
  const Fields root(&obj, "");
  auto md = root.object("metadata");
  if (!md) return m;
  auto get = [&](std::string_view key) {
    auto s = md->str(key);
    return s ? std::move(s).value() : std::string();
  };
  m.ns = get("namespace");
  m.name = get("name");
  m.uid = get("uid");
  m.resource_version = get("resourceVersion");
  if (const json* g = md->raw("generation"); g != nullptr && g->is_number_integer()) {
    m.generation = g->get<int64_t>();
  }
  m.labels = lenient_string_map(*md, "labels");
  m.annotations = lenient_string_map(*md, "annotations");
  m.deleting = md->has("deletionTimestamp");
  return m;
}

Result<EsSpec> parse_es_spec(const json& es) {
  if (!es.is_object()) return field_error("", "expected an ExternalSecret object");
  const ObjectMeta meta = parse_meta(es);
  ESD_ASSIGN_OR_RETURN(spec, Fields(&es, "").object("spec"));
  EsSpec out;
  ESD_ASSIGN_OR_RETURN(store_fields, spec.object("secretStoreRef"));
  ESD_ASSIGN_OR_RETURN(store, parse_store_ref(store_fields, false));
  out.store = std::move(store);
  ESD_RETURN_IF_ERROR(parse_refresh(spec, out));
  ESD_RETURN_IF_ERROR(parse_target(spec, meta.name, out));
  if (spec.has("syncWindows")) {
    return field_error(spec.at("syncWindows"), "sync windows are not supported yet");
  }
  ESD_RETURN_IF_ERROR(parse_sources(spec, out));
  ESD_RETURN_IF_ERROR(check_admission(out));
  return out;
}

}  // namespace esd::controller
