// Controller: the ExternalSecret reconciler. It watches ExternalSecrets, SecretStores,
// ClusterSecretStores, Namespaces and managed Secrets (label only), keeps compact state for each,
// decides from the state store what is due, and runs one reconcile per due item: fetch through
// the store's long-lived client, shape, compare keyed HMACs, write the Secret and the status only
// when something changed, record the attempt. Owned by the `run` command; single-threaded.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "daemon/common/clock.h"
#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"

namespace esd {
class HttpClient;
class Metrics;
namespace kube {
class KubeClient;
}
namespace storage {
class StateStore;
}
}  // namespace esd

namespace esd::controller {

struct ControllerOptions {
  std::string watch_namespace;       // "" = all namespaces
  bool once = false;                 // sync everything once, then report through on_once_done
  int64_t once_deadline_ms = 50'000;
  int max_in_flight = 32;            // reconciles running at once
  int max_in_flight_per_store = 16;  // so one slow store cannot delay the others
  std::string controller_class = "default";
};

struct ControllerDeps {
  uv_loop_t* loop = nullptr;
  kube::KubeClient* kube = nullptr;
  HttpClient* http = nullptr;
  storage::StateStore* state = nullptr;
  Metrics* metrics = nullptr;
  const Clock* clock = nullptr;
};

class Controller {
 public:
  Controller(ControllerDeps deps, ControllerOptions opts, Sensitive hmac_key);
  ~Controller();

  Status start();  // loads the state store, starts the informers
  // Stops informers and timers and drops queued work; in-flight requests are cancelled by the
  // HttpClient's shutdown. No callback of this object runs afterwards.
  void stop();
  bool ready() const;  // every informer finished its first list
  void set_on_once_done(std::function<void(bool all_synced)> cb);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace esd::controller
