// The provider interface: how the controller asks a secret store for values. A Provider is a
// stateless factory (one row in registry.cpp); a SecretClient is a store-level client that lives
// across syncs (tokens, sessions and connections are reused) until its store changes.
// Providers never include daemon/kube, daemon/controller or storage: they get a ProviderContext.
// Callbacks: exactly once, on the loop thread, never from inside the call that started them.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/common/clock.h"
#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"

namespace esd {
class HttpClient;
class Deferrer;
}  // namespace esd

namespace esd::providers {

enum class MetadataPolicy { kNone, kFetch };

// One reference to a remote value (ESO's ExternalSecretDataRemoteRef, minus what the controller
// applies itself: decodingStrategy, conversionStrategy, nullBytePolicy).
struct RemoteRef {
  std::string key;
  std::string property;
  std::string version;
  MetadataPolicy metadata_policy = MetadataPolicy::kNone;
  // How old a value the caller accepts (ms): 0 = read it now. The controller passes a fifth of
  // a periodic ExternalSecret's refreshInterval (the slack its jitter takes anyway) and 0 for
  // forced syncs, so a store client that caches (AWS batching) can serve the ExternalSecrets of
  // one refresh cycle from one read. Clients that do not cache ignore it.
  int64_t max_age_ms = 0;
  bool operator==(const RemoteRef& o) const = default;
};

// ESO's ExternalSecretFind.
struct FindRef {
  std::string path;         // optional prefix
  std::string name_regexp;  // RE2 (Go syntax); empty = any
  std::map<std::string, std::string> tags;
};

// A value and, where the provider knows it, its version (recorded in the state store).
struct Fetched {
  Sensitive value;
  std::string version;
};

using GetDone = std::function<void(std::vector<Result<Fetched>>)>;  // aligned with the refs
using MapDone = std::function<void(Result<SecretMap>)>;

// Reads a key of a Kubernetes Secret or ConfigMap the store references (credentials, CA bundles).
// The controller resolves namespaces (referent auth) before the provider sees the request.
struct RefReader {
  std::function<void(const std::string& ns, const std::string& name, const std::string& key,
                     std::function<void(Result<Sensitive>)>)>
      read_secret_key;
  std::function<void(const std::string& ns, const std::string& name, const std::string& key,
                     std::function<void(Result<std::string>)>)>
      read_configmap_key;
  // metadata.annotations of a ServiceAccount (AWS IRSA reads eks.amazonaws.com/role-arn there).
  // Same namespace rules as above; a missing ServiceAccount is kNotFound.
  std::function<void(const std::string& ns, const std::string& name,
                     std::function<void(Result<std::map<std::string, std::string>>)>)>
      read_sa_annotations;
};

// Kubernetes service-account tokens for providers that authenticate with one (Vault kubernetes
// and jwt auth, AWS IRSA, GCP/Azure workload identity).
struct TokenSource {
  // TokenRequest (POST .../serviceaccounts/{name}/token) for a ServiceAccount. An empty `ns`
  // resolves like RefReader (the store's namespace, or the ExternalSecret's for cluster stores);
  // a SecretStore may not name another namespace.
  std::function<void(const std::string& ns, const std::string& name,
                     std::vector<std::string> audiences, int64_t expiration_s,
                     std::function<void(Result<Sensitive>)>)>
      request_token;
  // The daemon's own service-account token (the in-cluster token file), re-read on every call.
  std::function<Result<Sensitive>()> own_token;
};

struct ProviderContext {
  uv_loop_t* loop = nullptr;
  HttpClient* http = nullptr;
  Deferrer* deferrer = nullptr;  // to deliver immediate results on a later loop turn
  const Clock* clock = nullptr;
  RefReader refs;
  TokenSource tokens;
  std::string store_kind;       // SecretStore | ClusterSecretStore
  std::string store_name;
  std::string store_namespace;  // empty for ClusterSecretStore
  std::string es_namespace;     // namespace credentials resolve in (referent auth)
  // Counts provider API calls: externalsecret_provider_api_calls_count{provider,call,status}.
  std::function<void(std::string_view provider, std::string_view call, bool success)> count_call;
};

class SecretClient {
 public:
  virtual ~SecretClient() = default;
  // data[]: several refs of one store in one call; implementations batch and share identical
  // reads. Each result is a value or a classified Error (kNotFound drives deletionPolicy).
  virtual void get_secrets(std::vector<RemoteRef> refs, GetDone done) = 0;
  // dataFrom[].extract: one secret exploded into keys (JSON object → key/value).
  virtual void get_secret_map(RemoteRef ref, MapDone done) = 0;
  // dataFrom[].find: matching secrets, key = secret name, value = the whole secret value.
  virtual void get_all_secrets(FindRef find, MapDone done) = 0;
  // Store validation (ESO's Validate()): can this store be used, e.g. does the login work.
  // true = validated; false = cannot tell (ESO's ValidationUnknown); an Error = invalid.
  virtual void validate(std::function<void(Result<bool>)> done) = 0;
  // After close(), no callback is delivered and no request is started.
  virtual void close() = 0;
};

class Provider {
 public:
  virtual ~Provider() = default;
  // The key under spec.provider (e.g. "fake", "vault", "aws").
  virtual std::string_view name() const = 0;
  // Synchronous validation of spec.provider.<name>; kInvalidConfig with a clear message.
  virtual Status validate(const nlohmann::json& provider_spec) const = 0;
  virtual Result<std::unique_ptr<SecretClient>> create(const nlohmann::json& provider_spec,
                                                       ProviderContext ctx) const = 0;
  // true when the client serves reads that arrive together with fewer calls (a batch API).
  // The controller then schedules a store's periodic refreshes together on a per-store grid
  // instead of jittering each ExternalSecret by +-10% (which would spread them apart).
  virtual bool gathers_reads() const { return false; }
  // Used by a ClusterSecretStore: does the client depend on the ExternalSecret's namespace
  // (referent auth)? Then the controller keeps one client per namespace, else one in all.
  // Default: has_namespaceless_refs (providers/referent.h).
  virtual bool per_namespace(const nlohmann::json& provider_spec) const;
};

}  // namespace esd::providers
