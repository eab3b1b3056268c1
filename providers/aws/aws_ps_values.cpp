// Parameter Store bodies and replies (aws_ps_values.h).
#include "providers/aws/aws_ps_values.h"

#include <utility>

#include "providers/aws/aws_json.h"
#include "providers/json_path.h"

namespace esd::providers::aws {
namespace {

using nlohmann::json;

constexpr std::string_view kService = "Parameter Store";

Error malformed(std::string_view what) { return malformed_reply(kService, what); }

Result<json> parse_object(const Sensitive& body, std::string_view what) {
  return parse_reply_object(body, kService, what);
}

Result<PsValue> parse_parameter(const json& p, std::string_view what) {
  if (!p.is_object()) return malformed(what);
  PsValue v;
  v.name = string_member(p, "Name");
  auto value = p.find("Value");
  if (v.name.empty() || value == p.end() || !value->is_string()) return malformed(what);
  v.arn = string_member(p, "ARN");
  v.selector = string_member(p, "Selector");
  if (auto ver = p.find("Version"); ver != p.end()) {
    if (ver->is_number_integer()) v.version = std::to_string(ver->get<int64_t>());
    if (ver->is_string()) v.version = ver->get<std::string>();
  }
  v.value = Sensitive(value->get_ref<const std::string&>());
  return v;
}

Result<std::vector<PsValue>> parse_parameter_list(const json& doc, std::string_view what) {
  std::vector<PsValue> out;
  auto list = doc.find("Parameters");
  if (list == doc.end() || list->is_null()) return out;
  if (!list->is_array()) return malformed(what);
  for (const auto& p : *list) {
    auto v = parse_parameter(p, what);
    if (!v) return std::move(v).error();
    out.push_back(std::move(*v));
  }
  return out;
}

}  // namespace

std::string parameter_name(const AwsSpec& spec, const RemoteRef& ref) {
  std::string name = spec.prefix + ref.key;
  if (!ref.version.empty()) name += ":" + ref.version;
  return name;
}

bool is_plain_parameter(const RemoteRef& ref) {
  return ref.version.empty() && ref.metadata_policy != MetadataPolicy::kFetch;
}

std::string get_parameter_body(std::string_view name) {
  return json{{"Name", name}, {"WithDecryption", true}}.dump();
}

std::string get_parameters_body(const std::vector<std::string>& names) {
  return json{{"Names", names}, {"WithDecryption", true}}.dump();
}

std::string get_parameters_by_path_body(std::string_view path, const std::string& next_token) {
  json b{{"Path", path.empty() ? std::string_view("/") : path},
         {"Recursive", true},
         {"WithDecryption", true},
         {"MaxResults", 10}};
  if (!next_token.empty()) b["NextToken"] = next_token;
  return b.dump();
}

json parameter_filters(const FindRef& find, bool always_path) {
  json filters = json::array();
  for (const auto& [k, v] : find.tags) {
    filters.push_back({{"Key", "tag:" + k}, {"Option", "Equals"}, {"Values", {v}}});
  }
  if (!find.path.empty() || always_path) {
    const std::string path = find.path.empty() ? "/" : find.path;
    filters.push_back({{"Key", "Path"}, {"Option", "Recursive"}, {"Values", {path}}});
  }
  return filters;
}

std::string describe_parameters_body(const json& filters, const std::string& next_token) {
  json b{{"ParameterFilters", filters}};
  if (!next_token.empty()) b["NextToken"] = next_token;
  return b.dump();
}

std::string list_tags_body(std::string_view name) {
  return json{{"ResourceType", "Parameter"}, {"ResourceId", name}}.dump();
}

Result<PsValue> parse_get_parameter(const Sensitive& body) {
  auto doc = parse_object(body, "GetParameter");
  if (!doc) return std::move(doc).error();
  auto p = doc->find("Parameter");
  if (p == doc->end()) return malformed("GetParameter");
  return parse_parameter(*p, "GetParameter");
}

Result<PsBatchReply> parse_get_parameters(const Sensitive& body) {
  auto doc = parse_object(body, "GetParameters");
  if (!doc) return std::move(doc).error();
  auto values = parse_parameter_list(*doc, "GetParameters");
  if (!values) return std::move(values).error();
  PsBatchReply out;
  out.values = std::move(*values);
  if (auto inv = doc->find("InvalidParameters"); inv != doc->end() && inv->is_array()) {
    for (const auto& n : *inv) {
      if (n.is_string()) out.invalid.push_back(n.get<std::string>());
    }
  }
  return out;
}

Result<PsPage> parse_parameters_page(const Sensitive& body) {
  auto doc = parse_object(body, "GetParametersByPath");
  if (!doc) return std::move(doc).error();
  auto values = parse_parameter_list(*doc, "GetParametersByPath");
  if (!values) return std::move(values).error();
  PsPage page;
  page.values = std::move(*values);
  page.next_token = string_member(*doc, "NextToken");
  return page;
}

Result<PsPage> parse_describe_page(const Sensitive& body) {
  auto doc = parse_object(body, "DescribeParameters");
  if (!doc) return std::move(doc).error();
  PsPage page;
  if (auto list = doc->find("Parameters"); list != doc->end() && list->is_array()) {
    for (const auto& p : *list) {
      if (!p.is_object()) return malformed("DescribeParameters");
      std::string name = string_member(p, "Name");
      if (!name.empty()) page.names.push_back(std::move(name));
    }
  }
  page.next_token = string_member(*doc, "NextToken");
  return page;
}

Result<Sensitive> parse_tag_list(const Sensitive& body) {
  auto doc = parse_object(body, "ListTagsForResource");
  if (!doc) return std::move(doc).error();
  json tags = json::object();
  if (auto list = doc->find("TagList"); list != doc->end() && list->is_array()) {
    for (const auto& t : *list) {
      if (t.is_object()) tags[string_member(t, "Key")] = string_member(t, "Value");
    }
  }
  auto text = json_value_to_string(tags);
  if (!text) return std::move(text).error();
  return Sensitive(std::move(*text));
}

bool answers_name(const PsValue& value, std::string_view name) {
  if (name.empty()) return false;
  if (name == value.arn) return true;
  if (value.selector.empty()) return name == value.name;
  return name.size() == value.name.size() + value.selector.size() &&
         name.substr(0, value.name.size()) == value.name &&
         name.substr(value.name.size()) == value.selector;
}

Error parameter_not_found(std::string_view name) {
  return Error(ErrorCode::kNotFound, "parameter " + std::string(name) + " not found");
}

Error classify_ps_error(const AwsError& e, std::string_view name) {
  if (e.code == "ParameterNotFound" || e.code == "ParameterVersionNotFound" ||
      e.code == "InvalidResourceId") {
    Error err = parameter_not_found(name);
    err.native = static_cast<int>(e.status);
    return err;
  }
  return classify_aws_error(e);
}

}  // namespace esd::providers::aws
