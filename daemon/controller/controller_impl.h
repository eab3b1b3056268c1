// Internal state of the Controller, shared by controller.cpp (informers, scheduling),
// reconcile.cpp (the path of one ExternalSecret) and stores.cpp (store clients). Not a public
// header: nothing outside daemon/controller includes it.
#pragma once

#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/controller/controller.h"
#include "daemon/controller/due_queue.h"
#include "daemon/controller/es_spec.h"
#include "daemon/controller/es_status.h"
#include "daemon/controller/events.h"
#include "daemon/controller/fetch.h"
#include "daemon/kube/informer.h"
#include "daemon/loop/deferrer.h"
#include "daemon/loop/uv_handle.h"
#include "storage/state_store.h"

namespace esd::controller {

struct EsEntry {
  ObjectMeta meta;
  std::optional<EsSpec> spec;
  Error spec_error;
  std::string synced_version;  // "<generation>-<meta hash>" of the live object
  EsStatus status;             // live status as last seen
  storage::EsState state;      // what the state store knows
  bool in_flight = false;
  bool rerun = false;          // something changed while in flight: run again after
  bool forced = false;         // spec/labels/annotations changed: compare with the live Secret
  std::string pending_hmac;    // HMAC of a write in flight (its watch event is not drift)
  bool once_settled = false;
  bool seen = false;           // mark-and-sweep across relists
  // Per-ExternalSecret metrics, rendered at scrape time (no per-object series in memory).
  uint8_t status_retries = 0;  // consecutive failed status writes (backoff for the retry)
  uint32_t sync_calls = 0;
  uint32_t sync_errors = 0;
  int64_t last_duration_ns = 0;
};

struct SecretInfo {
  std::string live_hmac;       // keyed HMAC of the live data
  uint64_t markers = 0;        // marker_hash(created-by label, controller ownerReference uid)
  bool annotation_ok = false;  // the data-hash annotation equals live_hmac
  bool seen = false;
};

// A compact fingerprint of the markers the fast path checks (not a security boundary: a
// mismatch only means the live Secret is read before deciding).
uint64_t marker_hash(std::string_view created_by, std::string_view owner_uid);

// Drops from an EsState what memory does not need between attempts (record.cpp).
void drop_children(storage::EsState& s);

struct StoreEntry {
  StoreSpec spec;
  std::string spec_error;  // why the spec is invalid ("" when it parsed)
  std::map<std::string, ClientRef> clients;  // by ES namespace (referent auth); "" for SecretStore
  std::optional<bool> per_namespace;         // Provider::per_namespace of spec, once per spec
  EsStatus status;         // the store's live Ready condition (same shape as an ExternalSecret's)
  std::string uid;
  uint64_t validation = 0;  // sequence of the newest validation; older answers are dropped
  bool seen = false;
};

struct Controller::Impl {
  Impl(ControllerDeps d, ControllerOptions o, Sensitive key);

  // controller.cpp
  Status start();
  void stop();
  void on_es_event(kube::EventType t, const nlohmann::json& obj);
  void on_store_event(const std::string& kind, kube::EventType t, const nlohmann::json& obj);
  void on_secret_event(kube::EventType t, const nlohmann::json& obj);
  void on_ns_event(kube::EventType t, const nlohmann::json& obj);
  void sweep_secrets();
  void check_drift(const std::string& secret_key);
  void on_synced();
  void schedule_initial(EsEntry& e);
  void enqueue_now(const std::string& uid);
  void remove_es(const std::string& uid);
  void pump();
  void arm_timer();
  bool is_drifted(const EsEntry& e) const;
  void check_once_done();
  void register_metrics();

  // State writes of one loop turn go to SQLite in one transaction (put_many).
  void queue_state(const storage::EsState& st, storage::HistoryRow h);
  void flush_state();

  // reconcile.cpp
  void reconcile(const std::string& uid, const std::string& slot);

  // stores.cpp
  Result<ClientRef> client_for(const EsEntry& e, const StoreRef& ref);
  Result<ClientRef> client_in(const std::string& es_ns, const StoreRef& ref);
  void validate_store(const std::string& key);
  void set_store_status(const std::string& key, bool ready, const char* reason,
                        const char* message, const std::string& detail);
  std::string store_key(const EsEntry& e, const StoreRef& ref) const;
  // Does the provider of e's store batch reads (Provider::gathers_reads)? false if unknown.
  bool store_gathers_reads(const EsEntry& e) const;
  // A status write failed: sync `id` again after a backoff (record.cpp).
  void retry_status_soon(const std::string& id, EsEntry& e);
  void requeue_failing_for_store(const std::string& kind, const std::string& name);

  ControllerDeps deps;
  ControllerOptions opts;
  Sensitive hmac_key;
  Deferrer deferrer;
  EventRecorder events;
  std::vector<std::unique_ptr<kube::Informer>> informers;
  UvHandle<uv_timer_t> timer;
  DueQueue queue;
  std::mt19937_64 rng;
  std::uniform_real_distribution<double> unit{0.0, 1.0};

  std::unordered_map<std::string, EsEntry> es;                 // by uid
  std::unordered_map<std::string, std::string> es_by_target;   // "ns/target" -> uid
  std::unordered_map<std::string, SecretInfo> secrets;         // "ns/name"
  std::unordered_map<std::string, StoreEntry> stores;          // "Kind/ns/name"
  std::unordered_map<std::string, std::map<std::string, std::string>> ns_labels;
  std::unordered_map<std::string, storage::EsState> loaded;    // state rows not yet matched
  std::unordered_map<std::string, int> store_in_flight;        // by store key
  std::unordered_map<std::string, std::vector<std::string>> store_waiting;

  std::vector<std::pair<storage::EsState, std::optional<storage::HistoryRow>>> pending_state;
  bool flush_posted = false;
  int in_flight = 0;
  size_t synced_informers = 0;
  bool is_ready = false;
  bool stopped = false;
  int64_t once_started_ms = 0;
  std::function<void(bool)> on_once_done;
};

}  // namespace esd::controller
