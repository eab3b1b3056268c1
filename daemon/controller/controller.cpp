#include "daemon/controller/controller.h"

#include "daemon/common/log.h"
#include "daemon/controller/backoff.h"
#include "daemon/controller/controller_impl.h"
#include "daemon/controller/markers.h"
#include "daemon/controller/secret_builder.h"
#include "daemon/kube/kube_client.h"
#include "daemon/server/metrics.h"

namespace esd::controller {
namespace {

constexpr const char kComponent[] = "controller";
constexpr const char kEsoGroup[] = "/apis/external-secrets.io/v1";
constexpr int64_t kMaxSpreadMs = 30'000;  // overdue items after a restart are spread over this

std::string collection(const std::string& prefix, const std::string& ns, const std::string& plural) {
  return ns.empty() ? prefix + "/" + plural : prefix + "/namespaces/" + ns + "/" + plural;
}

std::string key_of(const std::string& ns, const std::string& name) { return ns + "/" + name; }

}  // namespace

Controller::Impl::Impl(ControllerDeps d, ControllerOptions o, Sensitive key)
    : deps(d),
      opts(std::move(o)),
      hmac_key(std::move(key)),
      deferrer(d.loop),
      events(*d.kube, *d.metrics, *d.clock),
      rng(std::random_device{}()) {
  if (uv_timer_init(deps.loop, timer.get()) == 0) {
    timer.mark_initialized();
    timer.get()->data = this;
  }
}

Status Controller::Impl::start() {
  auto rows = deps.state->load_all();
  if (!rows) return rows.error();
  for (auto& r : *rows) {
    std::string uid = r.uid;
    loaded.emplace(std::move(uid), std::move(r));
  }
  log::info(kComponent, "state_loaded", {{"entries", static_cast<int64_t>(loaded.size())}});
  // Each informer marks its objects unseen when a (re)list begins and sweeps the unseen ones
  // when it completes, so deletions missed during a watch gap (410) are not kept forever.
  auto add = [this](std::string path, std::string selector, auto on_event,
                    std::function<void()> begin, std::function<void()> sweep) {
    kube::InformerHandler h;
    h.on_relist_begin = std::move(begin);
    h.on_event = on_event;
    h.on_synced = [this, sweep = std::move(sweep)] {
      sweep();
      on_synced();
    };
    kube::InformerOptions o;
    o.collection_path = std::move(path);
    o.label_selector = std::move(selector);
    informers.push_back(
        std::make_unique<kube::Informer>(deps.loop, *deps.kube, std::move(o), std::move(h)));
  };
  const std::string& ns = opts.watch_namespace;
  auto nothing = [] {};
  auto stores_begin = [this](const char* kind) {
    return [this, kind] {
      for (auto& [k, s] : stores) {
        if (s.spec.kind == kind) s.seen = false;
      }
    };
  };
  auto stores_sweep = [this](const char* kind) {
    return [this, kind] {
      std::erase_if(stores, [kind](auto& kv) { return kv.second.spec.kind == kind && !kv.second.seen; });
    };
  };
  add(collection(kEsoGroup, "", "clustersecretstores"), "",
      [this](kube::EventType t, const nlohmann::json& o) { on_store_event("ClusterSecretStore", t, o); },
      stores_begin("ClusterSecretStore"), stores_sweep("ClusterSecretStore"));
  add(collection(kEsoGroup, ns, "secretstores"), "",
      [this](kube::EventType t, const nlohmann::json& o) { on_store_event("SecretStore", t, o); },
      stores_begin("SecretStore"), stores_sweep("SecretStore"));
  add(collection("/api/v1", ns, "secrets"), std::string(kManagedLabel) + "=true",
      [this](kube::EventType t, const nlohmann::json& o) { on_secret_event(t, o); },
      [this] { for (auto& [k, s] : secrets) s.seen = false; },
      [this] { sweep_secrets(); });
  if (ns.empty()) {
    add("/api/v1/namespaces", "",
        [this](kube::EventType t, const nlohmann::json& o) { on_ns_event(t, o); }, nothing, nothing);
  }
  add(collection(kEsoGroup, ns, "externalsecrets"), "",
      [this](kube::EventType t, const nlohmann::json& o) { on_es_event(t, o); },
      [this] { for (auto& [k, e] : es) e.seen = false; },
      [this] {
        std::vector<std::string> gone;
        for (auto& [k, e] : es) {
          if (!e.seen) gone.push_back(k);
        }
        for (const auto& uid : gone) remove_es(uid);
      });
  register_metrics();
  for (auto& i : informers) i->start();
  return {};
}

uint64_t marker_hash(std::string_view created_by, std::string_view owner_uid) {
  std::string both(created_by);
  both += '/';
  both += owner_uid;
  return std::hash<std::string>{}(both);
}

// ESO's per-ExternalSecret metric families, produced from the entries at scrape time.
void Controller::Impl::register_metrics() {
  auto each = [this](auto fn) {
    return [this, fn](const Metrics::Emit& emit) {
      for (const auto& [uid, e] : es) fn(e, emit);
    };
  };
  Metrics& m = *deps.metrics;
  m.set_collector("externalsecret_sync_calls_total", each([](const EsEntry& e, const Metrics::Emit& emit) {
    if (e.sync_calls) emit({{"name", e.meta.name}, {"namespace", e.meta.ns}}, e.sync_calls);
  }));
  m.set_collector("externalsecret_sync_calls_error", each([](const EsEntry& e, const Metrics::Emit& emit) {
    if (e.sync_errors) emit({{"name", e.meta.name}, {"namespace", e.meta.ns}}, e.sync_errors);
  }));
  m.set_collector("externalsecret_reconcile_duration", each([](const EsEntry& e, const Metrics::Emit& emit) {
    if (e.sync_calls) {
      emit({{"name", e.meta.name}, {"namespace", e.meta.ns}}, static_cast<double>(e.last_duration_ns));
    }
  }));
  m.set_collector("externalsecret_status_condition", each([](const EsEntry& e, const Metrics::Emit& emit) {
    if (e.status.ready.empty()) return;
    const bool ready = e.status.ready == "True";
    emit({{"name", e.meta.name}, {"namespace", e.meta.ns}, {"condition", "Ready"}, {"status", "True"}},
         ready ? 1 : 0);
    emit({{"name", e.meta.name}, {"namespace", e.meta.ns}, {"condition", "Ready"}, {"status", "False"}},
         ready ? 0 : 1);
  }));
}

void Controller::Impl::stop() {
  if (stopped) return;
  stopped = true;
  flush_state();
  for (const char* f : {"externalsecret_sync_calls_total", "externalsecret_sync_calls_error",
                        "externalsecret_reconcile_duration", "externalsecret_status_condition"}) {
    deps.metrics->set_collector(f, nullptr);
  }  // every finished attempt is committed before exit
  for (auto& i : informers) i->stop();
  timer.close();
  deferrer.close();
  for (auto& [k, s] : stores) {
    for (auto& [n, c] : s.clients) c->close();
  }
}

void Controller::Impl::on_synced() {
  if (is_ready) return;
  size_t n = 0;
  for (const auto& i : informers) n += i->synced() ? 1 : 0;
  if (n < informers.size()) return;
  is_ready = true;
  once_started_ms = deps.clock->now_ms();
  log::info(kComponent, "informers_synced",
            {{"externalsecrets", static_cast<int64_t>(es.size())},
             {"managed_secrets", static_cast<int64_t>(secrets.size())}});
  for (auto& [key, s] : stores) validate_store(key);
  for (auto& [uid, e] : es) schedule_initial(e);
  loaded.clear();
  pump();
  check_once_done();
}

bool Controller::Impl::is_drifted(const EsEntry& e) const {
  if (!e.spec) return false;
  const auto p = e.spec->creation;
  if (p == CreationPolicy::kOrphan || p == CreationPolicy::kNone) return false;
  auto it = secrets.find(key_of(e.meta.ns, e.spec->target_name));
  if (it == secrets.end()) {
    // Missing: drift unless the last outcome says the Secret is not supposed to exist.
    return p != CreationPolicy::kMerge && e.state.last_outcome != "deleted" &&
           !e.state.data_hmac.empty();
  }
  const auto& s = it->second;
  return s.live_hmac != e.state.data_hmac && s.live_hmac != e.pending_hmac;
}

// Does a change of spec, labels or annotations sync a synced ExternalSecret again? ESO: not
// under refreshPolicy CreatedOnce, nor under Periodic with refreshInterval 0 (the Secret is
// still repaired when it is missing or was edited: that is drift).
static bool refreshes_on_change(const EsEntry& e) {
  if (!e.spec || e.state.last_success_ms == 0) return true;
  switch (e.spec->refresh_policy) {
    case RefreshPolicy::kCreatedOnce:
      return false;
    case RefreshPolicy::kOnChange:
      return true;
    case RefreshPolicy::kPeriodic:
      return e.spec->refresh_ms > 0;
  }
  return true;
}

// Decides, from the recorded state, whether an ExternalSecret needs work now, later or never.
void Controller::Impl::schedule_initial(EsEntry& e) {
  const auto& st = e.state;
  const int64_t now = deps.clock->now_ms();
  const bool changed = st.synced_version != e.synced_version && refreshes_on_change(e);
  if (opts.once || !e.spec || changed || st.last_success_ms == 0 || is_drifted(e)) {
    e.forced = changed;
    queue.push_now(e.meta.uid);
    return;
  }
  if (st.next_due_ms == 0) return;  // synced once and not periodic
  if (st.next_due_ms <= now) {
    const int64_t window = std::min<int64_t>(kMaxSpreadMs, std::max<int64_t>(1000, e.spec->refresh_ms / 10));
    queue.push_at(e.meta.uid, now + static_cast<int64_t>(unit(rng) * static_cast<double>(window)));
  } else {
    queue.push_at(e.meta.uid, st.next_due_ms);
  }
}

void Controller::Impl::enqueue_now(const std::string& uid) {
  auto it = es.find(uid);
  if (it == es.end()) return;
  if (it->second.in_flight) {
    it->second.rerun = true;
    return;
  }
  queue.push_now(uid);
  pump();
}

void Controller::Impl::on_es_event(kube::EventType t, const nlohmann::json& obj) {
  ObjectMeta meta = parse_meta(obj);
  if (t == kube::EventType::kDeleted || meta.deleting) {
    if (t == kube::EventType::kDeleted) remove_es(meta.uid);
    return;
  }
  auto [it, inserted] = es.try_emplace(meta.uid);
  EsEntry& e = it->second;
  const std::string version = synced_resource_version(meta.generation, meta.labels, meta.annotations);
  const bool changed = inserted || version != e.synced_version;
  e.status = parse_status(obj);
  e.seen = true;
  if (!changed) {
    e.meta.resource_version = meta.resource_version;
    return;  // status-only update (ours): nothing to do
  }
  if (inserted) {
    auto l = loaded.find(meta.uid);
    if (l != loaded.end()) {
      e.state = std::move(l->second);
      loaded.erase(l);
      drop_children(e.state);  // read from SQLite when needed
    }
  }
  if (e.spec) es_by_target.erase(key_of(e.meta.ns, e.spec->target_name));
  auto spec = parse_es_spec(obj);
  // kubectl's last-applied annotation holds a copy of the whole object: never kept in memory
  // (it is hashed into the synced version above and never copied to the Secret).
  meta.annotations.erase("kubectl.kubernetes.io/last-applied-configuration");
  e.meta = std::move(meta);
  e.synced_version = version;
  if (spec) {
    e.spec = std::move(*spec);
    es_by_target[key_of(e.meta.ns, e.spec->target_name)] = e.meta.uid;
  } else {
    e.spec.reset();
    e.spec_error = spec.error();
  }
  if (!is_ready) return;  // scheduled once every informer has listed
  if (inserted) {
    schedule_initial(e);
    pump();
    return;
  }
  if (!refreshes_on_change(e) && !is_drifted(e)) return;
  e.forced = true;
  enqueue_now(e.meta.uid);
}

void Controller::Impl::remove_es(const std::string& uid) {
  auto it = es.find(uid);
  if (it == es.end()) return;
  const EsEntry& e = it->second;
  if (e.spec) es_by_target.erase(key_of(e.meta.ns, e.spec->target_name));
  flush_state();  // a queued put must not resurrect the row removed here
  if (auto s = deps.state->remove(uid); !s) {
    log::warn(kComponent, "state_remove_failed", {{"error", s.error()}});
  }
  queue.remove(uid);
  es.erase(it);  // an in-flight reconcile finds its entry gone and drops its result
  check_once_done();
}

void Controller::Impl::on_secret_event(kube::EventType t, const nlohmann::json& obj) {
  ObjectMeta meta = parse_meta(obj);
  const std::string key = key_of(meta.ns, meta.name);
  if (t == kube::EventType::kDeleted) {
    secrets.erase(key);
  } else {
    SecretInfo& s = secrets[key];
    s.seen = true;
    s.live_hmac = live_data_hmac(hmac_key.view(), obj);
    auto a = meta.annotations.find(std::string(kDataHashAnnotation));
    s.annotation_ok = a != meta.annotations.end() && a->second == s.live_hmac;
    auto c = meta.labels.find(std::string(kCreatedByLabel));
    std::string owner_uid;
    if (auto m = obj.find("metadata"); m != obj.end()) {
      for (const auto& r : m->value("ownerReferences", nlohmann::json::array())) {
        if (r.value("controller", false)) owner_uid = r.value("uid", "");
      }
    }
    s.markers = marker_hash(c == meta.labels.end() ? "" : c->second, owner_uid);
  }
  if (is_ready) check_drift(key);
}

// After a re-list, a managed Secret that is no longer there was deleted while the watch was
// down: treat it as a DELETED event (drift repair), as client-go's Replace does.
void Controller::Impl::sweep_secrets() {
  std::vector<std::string> gone;
  for (const auto& [key, s] : secrets) {
    if (!s.seen) gone.push_back(key);
  }
  for (const auto& key : gone) {
    secrets.erase(key);
    if (is_ready) check_drift(key);
  }
}

void Controller::Impl::check_drift(const std::string& secret_key) {
  auto owner = es_by_target.find(secret_key);
  if (owner == es_by_target.end()) return;
  auto e = es.find(owner->second);
  if (e != es.end() && is_drifted(e->second)) {
    log::info(kComponent, "drift_detected", {{"secret", secret_key}});
    enqueue_now(owner->second);
  }
}

void Controller::Impl::on_ns_event(kube::EventType t, const nlohmann::json& obj) {
  ObjectMeta meta = parse_meta(obj);
  if (t == kube::EventType::kDeleted) {
    ns_labels.erase(meta.name);
  } else {
    ns_labels[meta.name] = std::move(meta.labels);
  }
}

void Controller::Impl::pump() {
  if (stopped || !is_ready) return;
  const int64_t now = deps.clock->now_ms();
  while (in_flight < opts.max_in_flight) {
    auto uid = queue.pop_ready(now);
    if (!uid) break;
    auto it = es.find(*uid);
    if (it == es.end()) continue;
    const EsEntry& e = it->second;
    const std::string sk = e.spec ? store_key(e, e.spec->store) : std::string("-");
    if (store_in_flight[sk] >= opts.max_in_flight_per_store) {
      store_waiting[sk].push_back(*uid);
      continue;
    }
    ++store_in_flight[sk];
    ++in_flight;
    reconcile(*uid, sk);
  }
  arm_timer();
}

void Controller::Impl::arm_timer() {
  if (stopped) return;
  auto due = queue.next_due();
  if (!due) {
    uv_timer_stop(timer.get());
    return;
  }
  const int64_t wait = std::max<int64_t>(1, *due - deps.clock->now_ms());
  uv_timer_start(
      timer.get(), [](uv_timer_t* t) noexcept { static_cast<Impl*>(t->data)->pump(); },
      static_cast<uint64_t>(wait), 0);
}

void Controller::Impl::check_once_done() {
  if (!opts.once || !is_ready || !on_once_done) return;
  bool all_ok = true;
  for (const auto& [uid, e] : es) {
    if (!e.once_settled) return;  // the run command's deadline timer covers items that hang
    if (e.state.consecutive_failures > 0) all_ok = false;
  }
  auto cb = std::move(on_once_done);
  on_once_done = nullptr;
  deferrer.post([cb, all_ok] { cb(all_ok); });
}

Controller::Controller(ControllerDeps deps, ControllerOptions opts, Sensitive hmac_key)
    : impl_(std::make_unique<Impl>(deps, std::move(opts), std::move(hmac_key))) {}
Controller::~Controller() { impl_->stop(); }
Status Controller::start() { return impl_->start(); }
void Controller::stop() { impl_->stop(); }
bool Controller::ready() const { return impl_->is_ready; }
void Controller::set_on_once_done(std::function<void(bool)> cb) { impl_->on_once_done = std::move(cb); }

}  // namespace esd::controller
