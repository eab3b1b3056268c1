// The end of every attempt: record it in the state store, update metrics, write the status only
// if it changed, schedule the next attempt, and free the in-flight slot.
#include "daemon/common/log.h"
#include "daemon/controller/backoff.h"
#include "daemon/controller/markers.h"
#include "daemon/controller/reconcile.h"
#include "daemon/kube/kube_client.h"
#include "daemon/server/metrics.h"

namespace esd::controller {
namespace {

constexpr const char kComponent[] = "reconcile";
constexpr int kOnceMaxFailures = 3;

std::string status_path(const EsEntry& e) {
  return "/apis/external-secrets.io/v1/namespaces/" + e.meta.ns + "/externalsecrets/" +
         e.meta.name + "/status";
}

EsStatus desired_status(const EsEntry& e, const Attempt& a, int64_t started_ms, int64_t now) {
  EsStatus s = e.status;
  const bool failed = a.outcome == Outcome::kFailed;
  s.ready = failed ? "False" : "True";
  s.reason = a.reason;
  s.message = a.message;
  if (!failed) {
    s.synced_rv_h = text_hash(e.synced_version);
    if (e.spec) s.binding_h = text_hash(e.spec->target_name);
  }
  // Second precision, as the API stores it, so that what we remember equals what comes back.
  if (s.ready != e.status.ready || s.transition_ms == 0) s.transition_ms = now / 1000 * 1000;
  if (!failed && (a.wrote || !s.same_outcome(e.status) || s.refresh_ms == 0)) {
    s.refresh_ms = started_ms / 1000 * 1000;
  }
  return s;
}

// `gathers`: the store's provider batches reads (aligned refreshes); otherwise +-10% jitter.
int64_t next_due(const EsEntry& e, const Attempt& a, int64_t now, double u, bool gathers) {
  if (a.outcome == Outcome::kFailed) {
    if (!a.retry) return 0;
    const int64_t hint = a.error ? a.error->retry_after_ms : -1;
    return now + std::max(backoff_ms(e.state.consecutive_failures, u), hint);
  }
  if (!e.spec || e.spec->refresh_policy != RefreshPolicy::kPeriodic || e.spec->refresh_ms <= 0) {
    return 0;
  }
  if (!gathers) return now + jittered_refresh_ms(e.spec->refresh_ms, u);
  const StoreRef& s = e.spec->store;
  const std::string store = s.kind + "/" + (s.kind == "ClusterSecretStore" ? "" : e.meta.ns) + "/" + s.name;
  return aligned_refresh_due(now, e.spec->refresh_ms, phase_seed_of(store));
}

void update_state(EsEntry& e, const Attempt& a, int64_t started_ms, int64_t now) {
  storage::EsState& s = e.state;
  s.uid = e.meta.uid;
  s.ns = e.meta.ns;
  s.name = e.meta.name;
  if (e.spec) {
    s.store = e.spec->store.kind + "/" + e.spec->store.name;
    s.target = e.spec->target_name;
  }
  s.last_attempt_ms = started_ms;
  s.last_outcome = std::string(storage::outcome_name(a.outcome));
  if (a.outcome == Outcome::kFailed) {
    ++s.consecutive_failures;
    s.last_error = a.error ? a.error->message : a.message;
  } else {
    s.consecutive_failures = 0;
    s.last_error.clear();
    s.last_success_ms = now;
    s.synced_version = e.synced_version;
  }
  if (!a.data_hmac.empty()) s.data_hmac = a.data_hmac == "-" ? std::string() : a.data_hmac;
  if (!a.secret_rv.empty()) s.secret_rv = a.secret_rv;
  if (a.wrote) ++s.write_count;
  // Owned fields and versions live in SQLite, not in memory; they are written when rebuilt.
  s.write_children = a.set_owned;
  if (a.set_owned) {
    s.owned = a.owned;
    s.versions = a.versions;
  }
}


// spec.target.name changed under creationPolicy Owner: the Secret written under the old name is
// deleted if it still carries this ExternalSecret's created-by label (ESO's orphan cleanup).
void delete_orphaned_target(Controller::Impl& impl, const EsEntry& e) {
  const std::string& old = e.state.target;
  if (!e.spec || e.spec->creation != CreationPolicy::kOwner || old.empty() ||
      old == e.spec->target_name) {
    return;
  }
  auto it = impl.secrets.find(e.meta.ns + "/" + old);
  if (it == impl.secrets.end() || it->second.markers != marker_hash(created_by_label(e.meta.ns, e.meta.name), e.meta.uid)) {
    return;
  }
  EventTarget t{e.meta.ns, e.meta.name, e.meta.uid, e.meta.resource_version};
  EventRecorder* events = &impl.events;
  impl.deps.kube->remove("/api/v1/namespaces/" + e.meta.ns + "/secrets/" + old,
                         [events, t](Result<nlohmann::json> r) {
                           if (r) events->normal(t, "Deleted", "secret deleted because it was orphaned");
                         });
}

}  // namespace

// What the in-memory state does not need between attempts: owned fields and versions live in
// SQLite; uid, namespace, name and store are set again from the entry before every write.
void drop_children(storage::EsState& s) {
  std::string().swap(s.uid);
  std::string().swap(s.ns);
  std::string().swap(s.name);
  std::string().swap(s.store);
  std::vector<storage::OwnedField>().swap(s.owned);
  std::vector<storage::KeyVersion>().swap(s.versions);
  s.write_children = false;
}

void Controller::Impl::queue_state(const storage::EsState& st, storage::HistoryRow h) {
  pending_state.emplace_back(st, std::move(h));
  if (flush_posted) return;
  flush_posted = true;
  deferrer.post([this] { flush_state(); });
}

void Controller::Impl::flush_state() {
  flush_posted = false;
  if (pending_state.empty()) return;
  if (auto s = deps.state->put_many(pending_state); !s) {
    log::error(kComponent, "state_write_failed",
               {{"error", s.error()}, {"entries", static_cast<int64_t>(pending_state.size())}});
  }
  pending_state.clear();
}

// Logs, metrics and the UpdateFailed event of one attempt (the event only when the error
// changed, so a broken store does not flood the namespace with events).
void Reconcile::report(EsEntry& e, const Attempt& a, const std::string& prev_error, int64_t now) {
  if (a.outcome == Outcome::kFailed) {
    ++e.sync_errors;
    if (a.error && a.error->message != prev_error) {
      c->events.warning({e.meta.ns, e.meta.name, e.meta.uid, e.meta.resource_version},
                        "UpdateFailed", a.error->message);
    }
    log::warn(kComponent, "sync_failed",
              {{"ns", e.meta.ns}, {"name", e.meta.name}, {"error", a.error ? *a.error : Error()},
               {"attempt", e.state.consecutive_failures}});
  } else {
    log::write(a.wrote ? log::Level::kInfo : log::Level::kDebug, kComponent,
               a.wrote ? "secret_written" : "secret_checked",
               {{"ns", e.meta.ns}, {"name", e.meta.name}, {"target", e.state.target},
                {"outcome", storage::outcome_name(a.outcome)}});
  }
  c->deps.metrics->inc("extsecretd_sync_outcomes_total",
                       {{"outcome", std::string(storage::outcome_name(a.outcome))}});
  e.last_duration_ns = (now - started_ms) * 1'000'000;
}

// Patches the status only when the condition, syncedResourceVersion, binding or times changed.
void Reconcile::write_status(EsEntry& e, const Attempt& a, int64_t now) {
  EsStatus want = desired_status(e, a, started_ms, now);
  if (want.same_outcome(e.status) && want.refresh_ms == e.status.refresh_ms &&
      want.transition_ms == e.status.transition_ms) {
    return;
  }
  c->deps.metrics->inc("extsecretd_status_writes_total", {});
  e.status = want;
  const bool ok = a.outcome != Outcome::kFailed && e.spec.has_value();
  Controller::Impl* ip = c;
  c->deps.kube->merge_patch(
      status_path(e),
      status_patch(want, ok ? e.synced_version : std::string(),
                   ok ? e.spec->target_name : std::string()),
      [ip, id = uid](Result<nlohmann::json> r) {
        if (ip->stopped) return;
        auto it = ip->es.find(id);
        if (r) {
          if (it != ip->es.end()) it->second.status_retries = 0;
          return;
        }
        log::warn(kComponent, "status_write_failed", {{"error", r.error()}});
        if (it == ip->es.end() || r.error().code == ErrorCode::kNotFound) return;  // deleted
        // Forget what we believed was written and sync again soon: the next attempt finds the
        // data unchanged (no Secret write) and writes the status again.
        it->second.status = EsStatus{};
        ip->retry_status_soon(id, it->second);
      });
}

void Controller::Impl::retry_status_soon(const std::string& id, EsEntry& e) {
  if (e.in_flight) {
    e.rerun = true;
    return;
  }
  if (queue.in_fast_lane(id)) return;  // already about to sync
  if (e.status_retries < 30) ++e.status_retries;
  const int64_t due = deps.clock->now_ms() + backoff_ms(e.status_retries, unit(rng));
  if (e.state.next_due_ms == 0 || due < e.state.next_due_ms) queue.push_at(id, due);
  arm_timer();
}

void Reconcile::release_slot() {
  Controller::Impl& impl = *c;
  --impl.in_flight;
  --impl.store_in_flight[slot];
  auto w = impl.store_waiting.find(slot);
  if (w != impl.store_waiting.end() && !w->second.empty()) {
    for (auto& id : w->second) impl.queue.push_now(id);
    impl.store_waiting.erase(w);
  }
}

void Reconcile::done(Attempt a) {
  Controller::Impl& impl = *c;
  if (impl.stopped) return;
  EsEntry* e = entry();
  if (e == nullptr) {
    release_slot();
    impl.pump();
    return;
  }
  const int64_t now = impl.deps.clock->now_ms();
  const std::string prev_error = e->state.last_error;
  const bool failed = a.outcome == Outcome::kFailed;
  if (!failed) delete_orphaned_target(impl, *e);
  update_state(*e, a, started_ms, now);
  report(*e, a, prev_error, now);
  write_status(*e, a, now);
  const int64_t due = next_due(*e, a, now, impl.unit(impl.rng), impl.store_gathers_reads(*e));
  e->state.next_due_ms = due;
  impl.queue_state(e->state, storage::HistoryRow{started_ms, e->meta.ns, e->meta.name,
                                                 std::string(storage::outcome_name(a.outcome)),
                                                 failed ? e->state.last_error : std::string(),
                                                 now - started_ms});
  drop_children(e->state);
  if (!failed) e->forced = false;
  e->pending_hmac.clear();
  e->in_flight = false;
  e->once_settled = e->once_settled || !failed || !a.retry ||
                    e->state.consecutive_failures >= kOnceMaxFailures;
  release_slot();
  if (e->rerun) {
    e->rerun = false;
    impl.queue.push_now(uid);
  } else if (due > 0) {
    impl.queue.push_at(uid, due);
  }
  impl.pump();
  impl.check_once_done();
}

}  // namespace esd::controller
