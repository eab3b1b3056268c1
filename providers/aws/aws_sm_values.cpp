// Secrets Manager bodies and value shaping (aws_sm_values.h).
#include "providers/aws/aws_sm_values.h"

#include <map>
#include <utility>

#include "daemon/common/crypto.h"
#include "providers/aws/aws_json.h"
#include "providers/json_path.h"

namespace esd::providers::aws {
namespace {

using nlohmann::json;

constexpr std::string_view kService = "Secrets Manager";

Error malformed(std::string_view what) { return malformed_reply(kService, what); }

Result<json> parse_object(const Sensitive& body, std::string_view what) {
  return parse_reply_object(body, kService, what);
}

// NextToken; absent or null means the last page.
std::string next_token(const json& doc) { return string_member(doc, "NextToken"); }

Error missing_key(std::string_view property, std::string_view id) {
  return Error(ErrorCode::kInvalidRef, "key " + std::string(property) +
                                           " does not exist in secret " + std::string(id));
}

}  // namespace

std::string secret_id(const AwsSpec& spec, std::string_view key) {
  return spec.prefix + std::string(key);
}

bool is_plain(const RemoteRef& ref) {
  return ref.metadata_policy == MetadataPolicy::kNone &&
         (ref.version.empty() || ref.version == "AWSCURRENT");
}

std::string get_secret_value_body(std::string_view secret_id, std::string_view version) {
  json body{{"SecretId", secret_id}};
  constexpr std::string_view kUuid = "uuid/";
  if (version.substr(0, kUuid.size()) == kUuid) {
    body["VersionId"] = version.substr(kUuid.size());
  } else {
    body["VersionStage"] = version.empty() ? std::string_view("AWSCURRENT") : version;
  }
  return body.dump();
}

std::string describe_secret_body(std::string_view secret_id) {
  return json{{"SecretId", secret_id}}.dump();
}

std::string batch_ids_body(const std::vector<std::string>& ids) {
  return json{{"SecretIdList", ids}}.dump();
}

json find_filters(const FindRef& find) {
  json filters = json::array();
  if (!find.path.empty()) filters.push_back({{"Key", "name"}, {"Values", {find.path}}});
  for (const auto& [k, v] : find.tags) {
    filters.push_back({{"Key", "tag-key"}, {"Values", {k}}});
    filters.push_back({{"Key", "tag-value"}, {"Values", {v}}});
  }
  return filters;
}

std::string batch_filters_body(const json& filters, const std::string& next_token) {
  json body{{"Filters", filters}, {"MaxResults", 20}};
  if (!next_token.empty()) body["NextToken"] = next_token;
  return body.dump();
}

std::string list_secrets_body(const json& filters, const std::string& next_token) {
  json body{{"MaxResults", 100}};
  if (filters.is_array() && !filters.empty()) body["Filters"] = filters;
  if (!next_token.empty()) body["NextToken"] = next_token;
  return body.dump();
}

Result<SmValue> parse_value_object(const json& obj) {
  if (!obj.is_object()) return malformed("secret value");
  SmValue v;
  v.arn = string_member(obj, "ARN");
  v.name = string_member(obj, "Name");
  v.version_id = string_member(obj, "VersionId");
  if (auto s = obj.find("SecretString"); s != obj.end() && s->is_string()) {
    v.data = Sensitive(s->get_ref<const std::string&>());
    return v;
  }
  auto b = obj.find("SecretBinary");
  if (b == obj.end() || !b->is_string()) {
    return Error(ErrorCode::kTransient, "secret " + v.name + " has neither SecretString nor SecretBinary");
  }
  auto bytes = base64_decode(b->get_ref<const std::string&>());
  if (!bytes) return Error(ErrorCode::kTransient, "SecretBinary of secret " + v.name + " is not base64");
  v.data = Sensitive(std::move(*bytes));
  v.binary = true;
  return v;
}

Result<SmValue> parse_get_secret_value(const Sensitive& body) {
  auto doc = parse_object(body, "GetSecretValue");
  if (!doc) return std::move(doc).error();
  return parse_value_object(*doc);
}

Result<BatchReply> parse_batch_reply(const Sensitive& body) {
  auto doc = parse_object(body, "BatchGetSecretValue");
  if (!doc) return std::move(doc).error();
  BatchReply out;
  if (auto vals = doc->find("SecretValues"); vals != doc->end() && vals->is_array()) {
    for (const auto& item : *vals) {
      auto v = parse_value_object(item);
      if (!v) return std::move(v).error();
      out.values.push_back(std::move(*v));
    }
  }
  if (auto errs = doc->find("Errors"); errs != doc->end() && errs->is_array()) {
    for (const auto& item : *errs) {
      if (!item.is_object()) return malformed("BatchGetSecretValue");
      BatchEntryError e;
      e.secret_id = string_member(item, "SecretId");
      e.error.status = 400;
      e.error.code = normalize_error_code(string_member(item, "ErrorCode"));
      e.error.message = string_member(item, "Message");
      out.errors.push_back(std::move(e));
    }
  }
  out.next_token = next_token(*doc);
  return out;
}

Result<ListReply> parse_list_reply(const Sensitive& body) {
  auto doc = parse_object(body, "ListSecrets");
  if (!doc) return std::move(doc).error();
  ListReply out;
  if (auto list = doc->find("SecretList"); list != doc->end() && list->is_array()) {
    for (const auto& item : *list) {
      std::string name = item.is_object() ? string_member(item, "Name") : std::string();
      if (!name.empty()) out.names.push_back(std::move(name));
    }
  }
  out.next_token = next_token(*doc);
  return out;
}

Result<Sensitive> parse_describe_tags(const Sensitive& body) {
  auto doc = parse_object(body, "DescribeSecret");
  if (!doc) return std::move(doc).error();
  json tags = json::object();
  if (auto list = doc->find("Tags"); list != doc->end() && list->is_array()) {
    for (const auto& t : *list) {
      if (!t.is_object()) continue;
      tags[string_member(t, "Key")] = string_member(t, "Value");
    }
  }
  auto text = json_value_to_string(tags);
  if (!text) return std::move(text).error();
  return Sensitive(std::move(*text));
}

bool matches_id(const SmValue& value, std::string_view id) {
  if (id.empty()) return false;
  if (id == value.name || id == value.arn) return true;
  // A partial ARN lacks the "-XXXXXX" random suffix AWS appends to the name.
  const std::string_view arn = value.arn;
  return arn.size() == id.size() + 7 && arn.substr(0, id.size()) == id && arn[id.size()] == '-';
}

Result<Sensitive> select_property(const Sensitive& data, std::string_view property,
                                  std::string_view id) {
  if (property.empty()) return data.clone();
  if (!nlohmann::json::accept(data.view())) return missing_key(property, id);
  auto v = json_property(data.view(), property);
  if (!v && v.error().code == ErrorCode::kNotFound) return missing_key(property, id);
  return v;
}

Result<SecretMap> explode_value(const Sensitive& value, std::string_view id) {
  auto m = json_to_secret_map(value.view());
  if (!m) {
    return Error(m.error().code, "unable to unmarshal secret " + std::string(id) +
                                     ": the value is not a JSON object");
  }
  return m;
}

}  // namespace esd::providers::aws
