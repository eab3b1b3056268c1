// Parameter Store (SSM) wire bodies and reply parsing (eso-api.md §3.1 "Parameter Store"):
// parameter names of remoteRefs, request bodies for GetParameter(s), GetParametersByPath,
// DescribeParameters and ListTagsForResource, their replies, and SSM's error classes. Pure
// functions, no state, no I/O, any thread. Values live in Sensitive; error messages name
// parameters, never values.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"
#include "providers/aws/aws_sm_api.h"
#include "providers/aws/aws_spec.h"
#include "providers/provider.h"

namespace esd::providers::aws {

// One parameter as SSM returns it (Value decrypted: every read sends WithDecryption true).
struct PsValue {
  std::string name;
  std::string arn;
  std::string selector;  // ":3" when read as "name:3"
  std::string version;   // Version, in decimal
  Sensitive value;
};
using PsValuePtr = std::shared_ptr<const PsValue>;

// spec.prefix + ref.key, then ":<version>" when ref.version is set.
std::string parameter_name(const AwsSpec& spec, const RemoteRef& ref);
// Served by the GetParameters batcher: no version, no metadataPolicy Fetch.
bool is_plain_parameter(const RemoteRef& ref);

// Request bodies (compact JSON).
std::string get_parameter_body(std::string_view name);
std::string get_parameters_body(const std::vector<std::string>& names);
std::string get_parameters_by_path_body(std::string_view path, const std::string& next_token);
// ParameterFilters: each tag -> {"Key":"tag:<k>","Option":"Equals","Values":[v]}; a non-empty
// path (or `always_path`, with "/") -> {"Key":"Path","Option":"Recursive","Values":[path]}.
nlohmann::json parameter_filters(const FindRef& find, bool always_path);
std::string describe_parameters_body(const nlohmann::json& filters, const std::string& next_token);
std::string list_tags_body(std::string_view name);

// GetParameter's {"Parameter": {...}}; kTransient for a malformed reply.
Result<PsValue> parse_get_parameter(const Sensitive& body);
struct PsBatchReply {
  std::vector<PsValue> values;
  std::vector<std::string> invalid;  // InvalidParameters: names as sent
};
Result<PsBatchReply> parse_get_parameters(const Sensitive& body);
struct PsPage {
  std::vector<PsValue> values;     // GetParametersByPath
  std::vector<std::string> names;  // DescribeParameters
  std::string next_token;
};
Result<PsPage> parse_parameters_page(const Sensitive& body);  // GetParametersByPath
Result<PsPage> parse_describe_page(const Sensitive& body);    // DescribeParameters
// ListTagsForResource's TagList as ESO's metadata value {"Key": "Value", ...} (sorted, compact).
Result<Sensitive> parse_tag_list(const Sensitive& body);

// Does a returned parameter answer a request for `name` (Name, Name + Selector, or ARN)?
bool answers_name(const PsValue& value, std::string_view name);

// "parameter <name> not found" (kNotFound).
Error parameter_not_found(std::string_view name);
// ParameterNotFound, ParameterVersionNotFound, InvalidResourceId -> parameter_not_found(name);
// everything else as classify_aws_error (AccessDenied kPermission, throttling kRateLimited, 5xx
// kTransient, credential errors kAuth).
Error classify_ps_error(const AwsError& e, std::string_view name);

}  // namespace esd::providers::aws
