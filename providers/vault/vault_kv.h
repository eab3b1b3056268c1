// KV engine wire format: path building for KV v1/v2 (ESO's buildPath), response parsing (reads,
// metadata, LIST), error classification and ESO's value shaping (property, whole-map JSON,
// extract). Pure functions, no state, no I/O. API paths are relative to /v1/ and already
// percent-encoded. Error messages carry paths and Vault's own error strings, never values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"
#include "daemon/http/http_client.h"
#include "providers/vault/vault_spec.h"

namespace esd::providers::vault {

using Metadata = std::map<std::string, std::string>;

// Percent-encodes everything but RFC 3986 unreserved characters and '/'.
std::string escape_path(std::string_view path);

// ESO's buildPath: with a mount, a leading "<mount>/" (and "data/" after it on v2) is stripped
// from the key and "<mount>[/data]/" is prepended; without one, v2 inserts "data" after the first
// segment unless the key already contains "/data/".
std::string data_path(const VaultSpec& spec, std::string_view key);
// The v2 metadata path of a key (kInvalidRef on v1).
Result<std::string> metadata_path(const VaultSpec& spec, std::string_view key);
// The LIST path of a folder ("" or ending in '/') under the mount: v2 "<mount>/metadata/<dir>",
// v1 "<mount>/<dir>". kInvalidRef without a mount (`path`).
Result<std::string> list_path(const VaultSpec& spec, std::string_view dir);
// The query for remoteRef.version: "" or "version=N" (v2 only; N must be digits).
Result<std::string> version_query(const VaultSpec& spec, std::string_view version);

// Vault's {"errors":[...]} joined with "; " (empty when absent or not JSON).
std::string vault_errors(std::string_view body);
// Seconds from a Retry-After header; -1 when absent or not a number.
int64_t retry_after_ms(const HttpResponse& resp);
// A non-2xx response as an Error: 404 kNotFound, 401 kAuth, 403 kPermission, 429 kRateLimited,
// 412/5xx kTransient, other 4xx kInvalidRef. `what` prefixes the message.
Error classify_status(const HttpResponse& resp, std::string_view what);
// True for codes the provider retries itself (kTransient, kRateLimited).
bool retryable(const Error& e);

// One KV read: the data map (a JSON object) and, for v2, the version number.
struct KvSecret {
  nlohmann::json data;
  std::string version;
};
// 2xx/404 bodies of a read. 404, a null body, null data, or a deleted/destroyed version →
// kNotFound "Secret does not exist". Other statuses go through classify_status.
Result<KvSecret> parse_read(const HttpResponse& resp, KvVersion version, std::string_view path);
// A v2 metadata response: created_time, current_version, delete_version_after, then every
// custom_metadata entry (custom keys win), all as strings. 404 → kInvalidRef "secret not found"
// (as ESO, which does not treat it as NoSecretErr).
Result<Metadata> parse_metadata(const HttpResponse& resp, std::string_view path);
// A LIST response: the keys ("dir/" for folders). 404 → kNotFound.
Result<std::vector<std::string>> parse_list(const HttpResponse& resp, std::string_view path);

// ESO's getSecretValue: no property → compact JSON of the map (sorted keys, Go escaping); else a
// literal top-level key, then a gjson path. A missing property is kInvalidRef
// `cannot find secret data for key: "<p>"`.
Result<Sensitive> secret_value(const nlohmann::json& data, std::string_view property);
// metadataPolicy Fetch: the same rules over the metadata map; an empty map gives an empty value.
Result<Sensitive> metadata_value(const Metadata& metadata, std::string_view property);
// ESO's GetSecretMap over a value from secret_value: top-level keys, strings unquoted.
Result<SecretMap> value_to_map(const Sensitive& value);

// find.tags: every tag must equal the metadata entry of the same name.
bool tags_match(const Metadata& metadata, const std::map<std::string, std::string>& tags);

}  // namespace esd::providers::vault
