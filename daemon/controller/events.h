// EventRecorder: Kubernetes Events (events.k8s.io/v1) about ExternalSecrets, with ESO's reasons.
// Fire and forget: an event that cannot be written is counted and dropped; nothing waits on it.
// Event notes never contain secret values (callers pass fixed texts or error messages).
#pragma once

#include <string>

#include "daemon/common/clock.h"
#include "daemon/kube/kube_client.h"

namespace esd {
class Metrics;
}

namespace esd::controller {

struct EventTarget {
  std::string ns;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::string kind = "ExternalSecret";  // or SecretStore / ClusterSecretStore
};

class EventRecorder {
 public:
  EventRecorder(kube::KubeClient& kube, Metrics& metrics, const Clock& clock);
  void normal(const EventTarget& es, const std::string& reason, const std::string& note);
  void warning(const EventTarget& es, const std::string& reason, const std::string& note);

 private:
  void record(const EventTarget& es, const char* type, const std::string& reason,
              const std::string& note);
  kube::KubeClient& kube_;
  Metrics& metrics_;
  const Clock& clock_;
  std::string instance_;
  uint64_t seq_ = 0;
};

}  // namespace esd::controller
