// SecretStore and ClusterSecretStore status (ESO's store controller, without its periodic
// re-validation noise): when a store appears or its spec changes, and once at start-up, it is
// validated and its Ready condition written, only if the condition changed.
//   - invalid or unsupported provider spec: Ready=False InvalidProviderConfig "unable to create client"
//   - SecretStore: the client's validate() (Vault logs in): Valid "store validated", or
//     InvalidProviderConfig "unable to validate store"; the validated client is kept for syncs
//   - ClusterSecretStore: credentials may resolve per ExternalSecret namespace (referent auth), so
//     only the spec is checked: ValidationUnknown "could not determine validation status"
#include "daemon/common/log.h"
#include "daemon/controller/controller_impl.h"
#include "daemon/kube/kube_client.h"
#include "daemon/server/metrics.h"
#include "providers/registry.h"

namespace esd::controller {
namespace {

constexpr const char kComponent[] = "stores";
constexpr const char kInvalid[] = "InvalidProviderConfig";

std::string status_path(const StoreSpec& s) {
  const std::string base = "/apis/external-secrets.io/v1/";
  return s.kind == "ClusterSecretStore"
             ? base + "clustersecretstores/" + s.name + "/status"
             : base + "namespaces/" + s.ns + "/secretstores/" + s.name + "/status";
}

// Static checks: the spec parsed, the provider exists and accepts its configuration.
Status check_spec(const StoreEntry& s) {
  if (!s.spec_error.empty()) return Error(ErrorCode::kInvalidConfig, s.spec_error);
  const providers::Provider* p = providers::find_provider(s.spec.provider);
  if (p == nullptr) {
    return Error(ErrorCode::kInvalidConfig,
                 "provider \"" + s.spec.provider + "\" is not supported by extsecretd");
  }
  return p->validate(s.spec.provider_spec);
}

}  // namespace

void Controller::Impl::validate_store(const std::string& key) {
  auto it = stores.find(key);
  if (it == stores.end()) return;
  StoreEntry& s = it->second;
  const uint64_t seq = ++s.validation;
  if (auto st = check_spec(s); !st) {
    return set_store_status(key, false, kInvalid, "unable to create client", st.error().message);
  }
  if (s.spec.kind == "ClusterSecretStore") {
    return set_store_status(key, true, "ValidationUnknown", "could not determine validation status", "");
  }
  auto client = client_in(s.spec.ns, StoreRef{s.spec.name, s.spec.kind});
  if (!client) {
    return set_store_status(key, false, kInvalid, "unable to create client", client.error().message);
  }
  (*client)->validate([this, key, seq](Result<bool> r) {
    auto found = stores.find(key);
    if (stopped || found == stores.end() || found->second.validation != seq) return;
    if (!r) {
      return set_store_status(key, false, kInvalid, "unable to validate store", r.error().message);
    }
    if (*r) return set_store_status(key, true, "Valid", "store validated", "");
    set_store_status(key, true, "ValidationUnknown", "could not determine validation status", "");
  });
}

void Controller::Impl::set_store_status(const std::string& key, bool ready, const char* reason,
                                        const char* message, const std::string& detail) {
  auto it = stores.find(key);
  if (it == stores.end()) return;
  StoreEntry& s = it->second;
  EventTarget target{s.spec.kind == "ClusterSecretStore" ? "default" : s.spec.ns, s.spec.name,
                     s.uid, "", s.spec.kind};
  if (!ready) {
    log::warn(kComponent, "store_not_valid", {{"kind", s.spec.kind}, {"ns", s.spec.ns},
                                              {"store", s.spec.name}, {"error", detail}});
  }
  EsStatus want = s.status;
  want.ready = ready ? "True" : "False";
  want.reason = reason;
  want.message = message;
  if (want.ready == s.status.ready && want.reason == s.status.reason &&
      want.message == s.status.message) {
    return;  // nothing changed: no write, no event
  }
  if (want.ready != s.status.ready || want.transition_ms == 0) {
    want.transition_ms = deps.clock->now_ms() / 1000 * 1000;
  }
  s.status = want;
  if (ready) {
    if (want.reason == std::string("Valid")) events.normal(target, "Valid", message);
  } else {
    events.warning(target, kInvalid, detail.empty() ? message : detail);
  }
  nlohmann::json patch = status_patch(want, "", "");
  patch["status"]["capabilities"] = "ReadWrite";
  deps.metrics->inc("extsecretd_status_writes_total", {});
  deps.kube->merge_patch(status_path(s.spec), patch, [](Result<nlohmann::json> r) {
    if (!r) log::warn(kComponent, "store_status_write_failed", {{"error", r.error()}});
  });
}

}  // namespace esd::controller
