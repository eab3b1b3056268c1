// parse_aws_spec (aws_spec.h): spec.provider.aws into an AwsSpec. Shape checks only; ESO's CRD
// validates the rest, so unknown fields are ignored. Messages name fields, never values.
#include "providers/aws/aws_spec.h"

#include <utility>

#include "providers/vault/vault_spec.h"

namespace esd::providers::aws {
namespace {

using nlohmann::json;

constexpr const char* kAt = "spec.provider.aws";

Error invalid(const std::string& msg) { return Error(ErrorCode::kInvalidConfig, msg); }

const json* member(const json& obj, const char* name) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<std::string> opt_string(const json& obj, const char* name, const std::string& where) {
  const json* v = member(obj, name);
  if (v == nullptr) return std::string();
  if (!v->is_string()) return invalid(where + "." + name + " must be a string");
  return v->get<std::string>();
}

Result<std::vector<std::string>> string_list(const json& obj, const char* name,
                                             const std::string& where) {
  std::vector<std::string> out;
  const json* v = member(obj, name);
  if (v == nullptr) return out;
  const std::string msg = where + "." + name + " must be a list of strings";
  if (!v->is_array()) return invalid(msg);
  for (const auto& item : *v) {
    if (!item.is_string()) return invalid(msg);
    out.push_back(item.get<std::string>());
  }
  return out;
}

bool is_arn(const std::string& s) { return s.rfind("arn:", 0) == 0; }

// A SecretKeySelector: name and key are both required.
Result<KeySel> key_sel(const json& obj, const char* name, const std::string& where, bool required) {
  const std::string at = where + "." + name;
  const json* v = member(obj, name);
  if (v == nullptr) {
    if (required) return invalid(at + " is required");
    return KeySel{};
  }
  if (!v->is_object()) return invalid(at + " must be an object");
  auto n = opt_string(*v, "name", at);
  auto k = opt_string(*v, "key", at);
  auto ns = opt_string(*v, "namespace", at);
  if (!n) return std::move(n).error();
  if (!k) return std::move(k).error();
  if (!ns) return std::move(ns).error();
  if (n->empty()) return invalid(at + ".name is required");
  if (k->empty()) return invalid(at + ".key is required");
  return KeySel{std::move(*n), std::move(*k), std::move(*ns)};
}

Status parse_service_account(const json& jwt, AuthSpec& a) {
  const std::string at = std::string(kAt) + ".auth.jwt.serviceAccountRef";
  const json* sa = member(jwt, "serviceAccountRef");
  if (sa == nullptr) return invalid(at + " is required");
  if (!sa->is_object()) return invalid(at + " must be an object");
  auto n = opt_string(*sa, "name", at);
  auto ns = opt_string(*sa, "namespace", at);
  auto aud = string_list(*sa, "audiences", at);
  if (!n) return std::move(n).error();
  if (!ns) return std::move(ns).error();
  if (!aud) return std::move(aud).error();
  if (n->empty()) return invalid(at + ".name is required");
  a.kind = AuthKind::kServiceAccount;
  a.sa_name = std::move(*n);
  a.sa_ns = std::move(*ns);
  a.sa_audiences = std::move(*aud);
  return ok_status();
}

Status parse_secret_ref(const json& ref, AuthSpec& a) {
  const std::string at = std::string(kAt) + ".auth.secretRef";
  if (!ref.is_object()) return invalid(at + " must be an object");
  auto id = key_sel(ref, "accessKeyIDSecretRef", at, true);
  if (!id) return std::move(id).error();
  auto secret = key_sel(ref, "secretAccessKeySecretRef", at, true);
  if (!secret) return std::move(secret).error();
  auto token = key_sel(ref, "sessionTokenSecretRef", at, false);
  if (!token) return std::move(token).error();
  a.kind = AuthKind::kSecretRef;
  a.access_key_id = std::move(*id);
  a.secret_access_key = std::move(*secret);
  a.session_token = std::move(*token);
  return ok_status();
}

// ESO's order: jwt.serviceAccountRef, then secretRef, else the default chain.
Status parse_auth(const json& spec, AuthSpec& a) {
  const json* auth = member(spec, "auth");
  if (auth == nullptr) return ok_status();
  if (!auth->is_object()) return invalid(std::string(kAt) + ".auth must be an object");
  if (const json* jwt = member(*auth, "jwt")) {
    if (!jwt->is_object()) return invalid(std::string(kAt) + ".auth.jwt must be an object");
    return parse_service_account(*jwt, a);
  }
  if (const json* ref = member(*auth, "secretRef")) return parse_secret_ref(*ref, a);
  return ok_status();
}

Status parse_service(const json& spec, AwsSpec& out) {
  auto service = opt_string(spec, "service", kAt);
  if (!service) return std::move(service).error();
  if (service->empty()) return invalid(std::string(kAt) + ".service is required");
  if (*service == "SecretsManager") {
    out.service = AwsService::kSecretsManager;
  } else if (*service == "ParameterStore") {
    out.service = AwsService::kParameterStore;
  } else {
    return invalid(std::string(kAt) + ".service must be SecretsManager or ParameterStore");
  }
  auto region = opt_string(spec, "region", kAt);
  if (!region) return std::move(region).error();
  if (region->empty()) return invalid(std::string(kAt) + ".region is required");
  out.region = std::move(*region);
  return ok_status();
}

Status parse_roles(const json& spec, AwsSpec& out) {
  auto role = opt_string(spec, "role", kAt);
  if (!role) return std::move(role).error();
  if (!role->empty() && !is_arn(*role)) {
    return invalid(std::string(kAt) + ".role must be an IAM role ARN");
  }
  auto extra = string_list(spec, "additionalRoles", kAt);
  if (!extra) return std::move(extra).error();
  for (const auto& r : *extra) {
    if (!is_arn(r)) return invalid(std::string(kAt) + ".additionalRoles must hold IAM role ARNs");
  }
  auto external = opt_string(spec, "externalID", kAt);
  if (!external) return std::move(external).error();
  out.role = std::move(*role);
  out.additional_roles = std::move(*extra);
  out.external_id = std::move(*external);
  return ok_status();
}

Status parse_session_tags(const json& spec, AwsSpec& out) {
  const std::string at = std::string(kAt) + ".sessionTags";
  if (const json* tags = member(spec, "sessionTags")) {
    if (!tags->is_array()) return invalid(at + " must be a list");
    for (const auto& t : *tags) {
      if (!t.is_object()) return invalid(at + " entries must be objects");
      auto k = opt_string(t, "key", at);
      auto v = opt_string(t, "value", at);
      if (!k) return std::move(k).error();
      if (!v) return std::move(v).error();
      if (k->empty()) return invalid(at + ".key is required");
      out.session_tags.emplace_back(std::move(*k), std::move(*v));
    }
  }
  auto transitive = string_list(spec, "transitiveTagKeys", kAt);
  if (!transitive) return std::move(transitive).error();
  out.transitive_tag_keys = std::move(*transitive);
  auto policy = opt_string(spec, "sessionTagsPolicy", kAt);
  if (!policy) return std::move(policy).error();
  if (policy->empty() || *policy == "None") {
    out.session_tags_policy = SessionTagsPolicy::kNone;
  } else if (*policy == "Simple") {
    out.session_tags_policy = SessionTagsPolicy::kSimple;
  } else if (*policy == "Custom") {
    out.session_tags_policy = SessionTagsPolicy::kCustom;
  } else {
    return invalid(std::string(kAt) + ".sessionTagsPolicy must be None, Simple or Custom");
  }
  if (const json* custom = member(spec, "customSessionTags")) {
    const std::string cat = std::string(kAt) + ".customSessionTags";
    if (!custom->is_object()) return invalid(cat + " must be an object of strings");
    for (const auto& [k, v] : custom->items()) {
      if (!v.is_string()) return invalid(cat + " must be an object of strings");
      out.custom_session_tags[k] = v.get<std::string>();
    }
  }
  return ok_status();
}

// ESO: retrySettings without maxRetries means 3 retries; retryInterval is a fixed wait.
Status parse_retry(const json& spec, AwsSpec& out) {
  const json* r = member(spec, "retrySettings");
  if (r == nullptr) return ok_status();
  const std::string at = "retrySettings";
  if (!r->is_object()) return invalid(at + " must be an object");
  out.max_retries = 3;
  if (const json* m = member(*r, "maxRetries")) {
    if (!m->is_number_integer() || m->get<int64_t>() < 0 || m->get<int64_t>() > 100) {
      return invalid(at + ".maxRetries must be an integer between 0 and 100");
    }
    out.max_retries = static_cast<int>(m->get<int64_t>());
  }
  auto interval = opt_string(*r, "retryInterval", at);
  if (!interval) return std::move(interval).error();
  if (!interval->empty()) {
    auto ms = vault::parse_duration_ms(*interval);
    if (!ms) return invalid(at + ".retryInterval is not a valid duration");
    out.retry_interval_ms = *ms;
  }
  return ok_status();
}

}  // namespace

Result<AwsSpec> parse_aws_spec(const nlohmann::json& spec) {
  if (!spec.is_object()) return invalid(std::string(kAt) + " must be an object");
  AwsSpec out;
  ESD_RETURN_IF_ERROR(parse_service(spec, out));
  ESD_RETURN_IF_ERROR(parse_roles(spec, out));
  ESD_RETURN_IF_ERROR(parse_session_tags(spec, out));
  auto prefix = opt_string(spec, "prefix", kAt);
  if (!prefix) return std::move(prefix).error();
  out.prefix = std::move(*prefix);
  ESD_RETURN_IF_ERROR(parse_retry(spec, out));
  ESD_RETURN_IF_ERROR(parse_auth(spec, out.auth));
  return out;
}

}  // namespace esd::providers::aws
