#include "providers/vault/vault_kv.h"

#include <cctype>
#include <charconv>

#include "providers/json_path.h"

namespace esd::providers::vault {
namespace {

using nlohmann::json;

constexpr std::string_view kNoSecret = "Secret does not exist";

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t slash = s.find('/', start);
    out.emplace_back(s.substr(start, slash == std::string_view::npos ? s.npos : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out;
}

// Strips "<mount>/" (and "data/" on v2) from a key that repeats the mount, as ESO does.
std::string strip_mount(const VaultSpec& spec, std::string_view key) {
  const std::string cut = spec.mount + "/";
  if (key.substr(0, cut.size()) != cut) return std::string(key);
  std::string_view rest = key.substr(cut.size());
  if (spec.version == KvVersion::kV2 && rest.substr(0, 5) == "data/") rest.remove_prefix(5);
  return std::string(rest);
}

// The key with `segment` inserted after the first path element (mount-less stores).
std::string insert_after_mount(std::string_view key, const char* segment) {
  std::vector<std::string> parts = split(key);
  parts.insert(parts.begin() + 1, segment);
  return join(parts);
}

bool is_ok(long status) { return status >= 200 && status < 300; }

Result<json> parse_body(const HttpResponse& resp, std::string_view path) {
  if (resp.body.empty()) return json();
  json doc = json::parse(resp.body.view(), nullptr, false);
  if (doc.is_discarded()) {
    return Error(ErrorCode::kTransient,
                 "Vault returned a response that is not JSON for " + std::string(path),
                 static_cast<int>(resp.status));
  }
  return doc;
}

Error no_secret(long status) { return Error(ErrorCode::kNotFound, std::string(kNoSecret), status); }

// Go's fmt "%v" for the scalar JSON values Vault returns in metadata.
std::string scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  auto s = json_value_to_string(v);
  return s ? *s : v.dump();
}

}  // namespace

std::string escape_path(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : path) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string data_path(const VaultSpec& spec, std::string_view key) {
  if (spec.has_mount) {
    const std::string rest = strip_mount(spec, key);
    const char* mid = spec.version == KvVersion::kV2 ? "/data/" : "/";
    return escape_path(spec.mount + mid + rest);
  }
  if (spec.version == KvVersion::kV2 && key.find("/data/") == std::string_view::npos) {
    return escape_path(insert_after_mount(key, "data"));
  }
  return escape_path(key);
}

Result<std::string> metadata_path(const VaultSpec& spec, std::string_view key) {
  if (spec.version == KvVersion::kV1) {
    return Error(ErrorCode::kInvalidRef,
                 "cannot perform metadata fetch operations with kv version v1");
  }
  if (spec.has_mount) return escape_path(spec.mount + "/metadata/" + strip_mount(spec, key));
  std::string k(key);
  if (const size_t at = k.find("/data/"); at != std::string::npos) {
    return escape_path(k.replace(at, 6, "/metadata/"));
  }
  return escape_path(insert_after_mount(key, "metadata"));
}

Result<std::string> list_path(const VaultSpec& spec, std::string_view dir) {
  if (!spec.has_mount) {
    return Error(ErrorCode::kInvalidRef, "find requires spec.provider.vault.path (the mount)");
  }
  const char* mid = spec.version == KvVersion::kV2 ? "/metadata/" : "/";
  return escape_path(spec.mount + mid + std::string(dir));
}

Result<std::string> version_query(const VaultSpec& spec, std::string_view version) {
  if (version.empty() || spec.version == KvVersion::kV1) return std::string();
  for (const char c : version) {
    if (c < '0' || c > '9') {
      return Error(ErrorCode::kInvalidRef, "remoteRef.version must be a KV v2 version number");
    }
  }
  return "version=" + std::string(version);
}

std::string vault_errors(std::string_view body) {
  const json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return {};
  const auto it = doc.find("errors");
  if (it == doc.end() || !it->is_array()) return {};
  std::string out;
  for (const auto& e : *it) {
    if (!e.is_string()) continue;
    if (!out.empty()) out += "; ";
    out += e.get<std::string>();
  }
  return out;
}

int64_t retry_after_ms(const HttpResponse& resp) {
  const std::string v = resp.header("retry-after");
  int64_t s = -1;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), s);
  if (ec != std::errc() || p != v.data() + v.size() || s < 0) return -1;
  return s * 1000;
}

Error classify_status(const HttpResponse& resp, std::string_view what) {
  const long st = resp.status;
  std::string msg = std::string(what) + ": Vault returned HTTP " + std::to_string(st);
  if (const std::string errs = vault_errors(resp.body.view()); !errs.empty()) msg += ": " + errs;
  ErrorCode code = ErrorCode::kInvalidRef;
  if (st == 404) code = ErrorCode::kNotFound;
  if (st == 401) code = ErrorCode::kAuth;
  if (st == 403) code = ErrorCode::kPermission;
  if (st == 412 || st >= 500 || st < 100) code = ErrorCode::kTransient;
  if (st == 429) code = ErrorCode::kRateLimited;
  Error e(code, std::move(msg), static_cast<int>(st));
  if (code == ErrorCode::kRateLimited) e.retry_after_ms = retry_after_ms(resp);
  return e;
}

bool retryable(const Error& e) {
  return e.code == ErrorCode::kTransient || e.code == ErrorCode::kRateLimited;
}

Result<KvSecret> parse_read(const HttpResponse& resp, KvVersion version, std::string_view path) {
  if (resp.status == 404) return no_secret(404);
  if (!is_ok(resp.status)) {
    return classify_status(resp, "cannot read secret data from Vault at " + std::string(path));
  }
  auto doc = parse_body(resp, path);
  if (!doc) return std::move(doc).error();
  if (!doc->is_object() || !doc->contains("data") || (*doc)["data"].is_null()) {
    return no_secret(resp.status);
  }
  const json& data = (*doc)["data"];
  if (version == KvVersion::kV1) {
    if (!data.is_object()) return Error(ErrorCode::kInvalidRef, "failed to unmarshall JSON");
    return KvSecret{data, ""};
  }
  if (!data.is_object() || !data.contains("data")) {
    return Error(ErrorCode::kInvalidRef, "failed to find data field");
  }
  if (data["data"].is_null()) return no_secret(resp.status);
  if (!data["data"].is_object()) return Error(ErrorCode::kInvalidRef, "failed to unmarshall JSON");
  KvSecret out{data["data"], ""};
  const auto meta = data.find("metadata");
  if (meta != data.end() && meta->is_object()) {
    const auto v = meta->find("version");
    if (v != meta->end() && v->is_number_integer()) out.version = std::to_string(v->get<int64_t>());
  }
  return out;
}

Result<Metadata> parse_metadata(const HttpResponse& resp, std::string_view path) {
  if (resp.status == 404) return Error(ErrorCode::kInvalidRef, "secret not found", 404);
  if (!is_ok(resp.status)) {
    return classify_status(resp, "cannot read secret metadata from Vault at " + std::string(path));
  }
  auto doc = parse_body(resp, path);
  if (!doc) return std::move(doc).error();
  Metadata out;
  if (!doc->is_object() || !doc->contains("data") || !(*doc)["data"].is_object()) return out;
  const json& data = (*doc)["data"];
  for (const char* k : {"created_time", "current_version", "delete_version_after"}) {
    const auto it = data.find(k);
    if (it != data.end() && !it->is_null()) out[k] = scalar_text(*it);
  }
  const auto custom = data.find("custom_metadata");
  if (custom != data.end() && custom->is_object()) {
    for (const auto& [k, v] : custom->items()) out[k] = scalar_text(v);
  }
  return out;
}

Result<std::vector<std::string>> parse_list(const HttpResponse& resp, std::string_view path) {
  if (resp.status == 404) return no_secret(404);
  if (!is_ok(resp.status)) {
    return classify_status(resp, "cannot list secrets in Vault at " + std::string(path));
  }
  auto doc = parse_body(resp, path);
  if (!doc) return std::move(doc).error();
  std::vector<std::string> keys;
  if (!doc->is_object() || !doc->contains("data") || !(*doc)["data"].is_object()) {
    return no_secret(resp.status);
  }
  const json& data = (*doc)["data"];
  const auto it = data.find("keys");
  if (it == data.end() || !it->is_array()) return keys;
  for (const auto& k : *it) {
    if (k.is_string()) keys.push_back(k.get<std::string>());
  }
  return keys;
}

Result<Sensitive> secret_value(const json& data, std::string_view property) {
  if (data.is_null()) return no_secret(0);
  auto text = json_value_to_string(data);
  if (!text) return std::move(text).error();
  if (property.empty()) return Sensitive(std::move(*text));
  auto value = json_property(*text, property);
  if (!value && value.error().code == ErrorCode::kNotFound) {
    return Error(ErrorCode::kInvalidRef,
                 "cannot find secret data for key: \"" + std::string(property) + "\"");
  }
  return value;
}

Result<Sensitive> metadata_value(const Metadata& metadata, std::string_view property) {
  if (metadata.empty()) return Sensitive();
  json obj = json::object();
  for (const auto& [k, v] : metadata) obj[k] = v;
  return secret_value(obj, property);
}

Result<SecretMap> value_to_map(const Sensitive& value) { return json_to_secret_map(value.view()); }

bool tags_match(const Metadata& metadata, const std::map<std::string, std::string>& tags) {
  for (const auto& [k, v] : tags) {
    const auto it = metadata.find(k);
    if (it == metadata.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace esd::providers::vault
