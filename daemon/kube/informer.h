// Informer: list + watch of one collection (optionally with a label selector), kept alive across
// stream drops (jittered backoff), 410 Expired (relist) and bookmarks. It holds no objects: each
// event goes to the handler, which keeps whatever compact state it needs. Owned by the
// controller; stop() guarantees no callback afterwards. Backoff for failed lists/watches is
// jittered, 200 ms doubling to 30 s, reset by a successful list or a received watch event.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

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
  std::string collection_path;  // e.g. /apis/external-secrets.io/v1/externalsecrets
  std::string label_selector;   // e.g. reconcile.external-secrets.io/managed=true
  int page_limit = 250;         // list pagination
  int watch_timeout_s = 300;    // server-side timeoutSeconds (randomised up to 2x)
  int watch_grace_s = 30;       // a watch still open this long after its timeoutSeconds is
                                // presumed dead (silent connection loss) and replaced
};

// Retry timing of lists and watches: the backoff doubles from 200 ms up to 30 s, and each wait
// is drawn from [backoff/2, backoff] so that many informers (or daemons) do not retry in step.
int64_t next_retry_backoff_ms(int64_t previous_ms);  // previous 0: the first retry
int64_t jittered_retry_delay_ms(int64_t backoff_ms, uint64_t random);

class Informer {
 public:
  Informer(uv_loop_t* loop, KubeClient& client, InformerOptions opts, InformerHandler handler);
  ~Informer();
  // start(): first list (resourceVersion unset: a consistent read, paged by page_limit), then
  // watch from the list's RV. Never blocks; all work is callbacks on the loop. Handler calls are
  // never made from inside start() or stop(), and stop() may be called from a handler.
  void start();
  // Cancels the list request / watch stream and closes the retry timer: no handler call follows.
  // The Informer must not be destroyed from inside one of its own handler calls.
  void stop();
  bool synced() const;       // the first list completed
  uint64_t relists() const;  // completed lists (1 + relists after 410 etc.)
  uint64_t watches() const;  // how many watch streams were opened
  // The resume point: the list's resourceVersion, then the last event's or BOOKMARK's.
  const std::string& resource_version() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace esd::kube
