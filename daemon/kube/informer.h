// Informer: list + watch of one collection (optionally with a label selector), kept alive across
// stream drops (jittered backoff), 410 Expired (relist) and bookmarks. It holds no objects: each
// event goes to the handler, which keeps whatever compact state it needs. Owned by the
// controller; stop() guarantees no callback afterwards.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/kube/kube_client.h"

namespace esd::kube {

enum class EventType { kAdded, kModified, kDeleted };

struct InformerHandler {
  // A full list replaces everything known: called with every object of a (re)list, then
  // on_synced(). Objects not re-listed must be treated as deleted by the handler
  // (on_relist_begin lets it mark-and-sweep).
  std::function<void()> on_relist_begin;
  std::function<void(EventType, const nlohmann::json& object)> on_event;
  std::function<void()> on_synced;  // after each complete list
};

struct InformerOptions {
  std::string collection_path;   // e.g. /apis/external-secrets.io/v1/externalsecrets
  std::string label_selector;    // e.g. reconcile.external-secrets.io/managed=true
  int page_limit = 500;          // list pagination
  int watch_timeout_s = 300;     // server-side timeoutSeconds (randomised up to 2x)
};

class Informer {
 public:
  Informer(uv_loop_t* loop, KubeClient& client, InformerOptions opts, InformerHandler handler);
  ~Informer();
  void start();
  void stop();
  bool synced() const;        // the first list completed
  uint64_t relists() const;   // how many lists (1 + relists after 410 etc.)
  uint64_t watches() const;   // how many watch streams were opened

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace esd::kube
