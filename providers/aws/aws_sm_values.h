// Secrets Manager wire bodies and ESO's value shaping (eso-api.md §3.1, protocols.md b.2): request
// bodies, reply parsing (GetSecretValue, BatchGetSecretValue, ListSecrets, DescribeSecret) and the
// property / extract / metadata rules. Pure functions, no state, no I/O, any thread. Secret bytes
// live in Sensitive; error messages name secrets and properties, never values.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"
#include "providers/aws/aws_sm_api.h"
#include "providers/aws/aws_spec.h"
#include "providers/provider.h"

namespace esd::providers::aws {

// One secret version as Secrets Manager returns it.
struct SmValue {
  std::string arn;
  std::string name;
  std::string version_id;
  Sensitive data;  // SecretString, or the decoded SecretBinary bytes
  bool binary = false;
};
using ValuePtr = std::shared_ptr<const SmValue>;

// The SecretId of a remoteRef: the store's prefix + key (a name or an ARN).
std::string secret_id(const AwsSpec& spec, std::string_view key);
// True for refs the batcher serves: AWSCURRENT (no version, or "AWSCURRENT"), no metadataPolicy.
bool is_plain(const RemoteRef& ref);

// Request bodies (compact JSON).
std::string get_secret_value_body(std::string_view secret_id, std::string_view version);
std::string describe_secret_body(std::string_view secret_id);
std::string batch_ids_body(const std::vector<std::string>& ids);
// find.path -> {"Key":"name","Values":[path]}; each tag -> a tag-key and a tag-value filter.
nlohmann::json find_filters(const FindRef& find);
std::string batch_filters_body(const nlohmann::json& filters, const std::string& next_token);
// ListSecrets, MaxResults 100; `filters` may be null (no filter).
std::string list_secrets_body(const nlohmann::json& filters, const std::string& next_token);

// A GetSecretValue reply or one SecretValues entry; kTransient for a malformed reply.
Result<SmValue> parse_value_object(const nlohmann::json& obj);
Result<SmValue> parse_get_secret_value(const Sensitive& body);

struct BatchEntryError {
  std::string secret_id;
  AwsError error;  // status 400, code = ErrorCode
};
struct BatchReply {
  std::vector<SmValue> values;
  std::vector<BatchEntryError> errors;
  std::string next_token;
};
Result<BatchReply> parse_batch_reply(const Sensitive& body);

struct ListReply {
  std::vector<std::string> names;
  std::string next_token;
};
Result<ListReply> parse_list_reply(const Sensitive& body);

// DescribeSecret's Tags as ESO's metadata value: {"Key": "Value", ...}, compact, sorted keys.
Result<Sensitive> parse_describe_tags(const Sensitive& body);

// Does a returned value answer a request for `id` (its Name, ARN, or partial ARN without the
// "-XXXXXX" suffix)?
bool matches_id(const SmValue& value, std::string_view id);

// ESO's value rule: no property -> the bytes; else json_property() on them. A missing property
// (or a value that is not JSON) is kInvalidRef "key <p> does not exist in secret <id>".
Result<Sensitive> select_property(const Sensitive& data, std::string_view property,
                                  std::string_view id);

// dataFrom.extract: the (property-selected) value exploded with json_to_secret_map.
Result<SecretMap> explode_value(const Sensitive& value, std::string_view id);

}  // namespace esd::providers::aws
