// The path of one ExternalSecret: fetch → shape → compare → write only on change → status only
// on change → record. Each step is asynchronous; every callback looks its entry up again by uid,
// since the ExternalSecret may have been deleted meanwhile.
#include "daemon/common/log.h"
#include "daemon/controller/backoff.h"
#include "daemon/controller/controller_impl.h"
#include "daemon/controller/reconcile.h"
#include "daemon/controller/markers.h"
#include "daemon/controller/secret_builder.h"
#include "daemon/kube/kube_client.h"
#include "daemon/server/metrics.h"

namespace esd::controller {
namespace {

constexpr const char kComponent[] = "reconcile";
constexpr int kMaxConflictRetries = 3;


std::string secret_path(const std::string& ns, const std::string& name) {
  return "/api/v1/namespaces/" + ns + "/secrets/" + name;
}

std::string url_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

EventTarget target_of(const EsEntry& e) {
  return {e.meta.ns, e.meta.name, e.meta.uid, e.meta.resource_version};
}

constexpr int64_t kFirstSyncValueAgeMs = 5'000;

// How old a provider value this sync accepts (providers::RemoteRef::max_age_ms). A periodic
// refresh: a fifth of its interval, the band its jitter spreads it over anyway. The first sync
// of a new ExternalSecret: a value read in the last few seconds (many appear at once). A forced
// sync of a synced one (spec, labels or annotations changed, e.g. ESO's force-sync annotation):
// none, read it now.
int64_t accepted_value_age_ms(const EsEntry& e) {
  const bool periodic = e.spec->refresh_policy == RefreshPolicy::kPeriodic && e.spec->refresh_ms > 0;
  const int64_t band = periodic ? e.spec->refresh_ms / 5 : kFirstSyncValueAgeMs;
  if (e.state.last_success_ms == 0) return std::min(band, kFirstSyncValueAgeMs);
  return e.forced ? 0 : (periodic ? band : 0);
}

}  // namespace


void Controller::Impl::reconcile(const std::string& uid, const std::string& slot) {
  EsEntry& e = es.at(uid);
  e.in_flight = true;
  e.rerun = false;
  auto r = std::make_shared<Reconcile>();
  r->c = this;
  r->uid = uid;
  r->slot = slot;
  r->started_ms = deps.clock->now_ms();
  ++e.sync_calls;
  r->run();
}

void Reconcile::run() {
  EsEntry& e = *entry();
  auto fail = [this](Error err) {
    Attempt a = Attempt::failed(err.message.c_str(), err, /*retry=*/false);
    // Answered on a later turn, like every other outcome.
    auto self = shared_from_this();
    c->deferrer.post([self, a = std::move(a)]() mutable { self->done(std::move(a)); });
  };
  if (!e.spec) return fail(e.spec_error);
  if (e.spec->has_template) {
    return fail(Error(ErrorCode::kInvalidConfig,
                      "spec.target.template is not supported yet by extsecretd"));
  }
  c->deps.metrics->inc("extsecretd_provider_fetches_total", {});
  auto self = shared_from_this();
  Controller::Impl* impl = c;
  const std::string id = uid;
  ClientLookup lookup = [impl, id](const StoreRef& ref) -> Result<ClientRef> {
    auto it = impl->es.find(id);
    if (it == impl->es.end()) return Error(ErrorCode::kCancelled, "externalsecret deleted");
    return impl->client_for(it->second, ref);
  };
  fetch_all(*e.spec, lookup, c->deferrer, accepted_value_age_ms(e),
            [self](Result<FetchOutcome> r) { self->on_fetched(std::move(r)); });
}

void Reconcile::on_fetched(Result<FetchOutcome> r) {
  EsEntry* e = entry();
  if (e == nullptr || c->stopped) return done(Attempt{Outcome::kSkipped});
  if (!r) return done(Attempt::failed(message::kProviderError, std::move(r).error()));
  fetched = std::move(*r);
  for (const auto& m : fetched.missing) {
    c->events.normal(target_of(*e), "MissingProviderSecret", m);
  }
  const EsSpec& spec = *e->spec;
  if (fetched.data.empty()) {
    if (spec.deletion == DeletionPolicy::kRetain) {
      Attempt a;
      a.outcome = Outcome::kSkipped;
      a.message = message::kRetained;
      return done(std::move(a));
    }
    if (spec.deletion == DeletionPolicy::kDelete) return delete_target();
  }
  if (spec.creation == CreationPolicy::kNone) return done(Attempt{Outcome::kSkipped});
  write_target();
}

// Fast path: the live Secret (from the watch cache) already holds exactly this data with our
// markers, and nothing about the ExternalSecret changed: no API call at all.
void Reconcile::write_target() {
  EsEntry& e = *entry();
  const EsSpec& spec = *e.spec;
  const bool simple = spec.creation == CreationPolicy::kOwner || spec.creation == CreationPolicy::kOrphan;
  if (!e.forced && simple && conflicts == 0) {
    auto it = c->secrets.find(e.meta.ns + "/" + spec.target_name);
    const std::string want = data_hmac(c->hmac_key.view(), fetched.data);
    if (it != c->secrets.end() && it->second.live_hmac == want && it->second.annotation_ok &&
        (spec.creation != CreationPolicy::kOwner ||
         it->second.markers == marker_hash(created_by_label(e.meta.ns, e.meta.name), e.meta.uid))) {
      Attempt a;
      a.data_hmac = want;
      a.versions = fetched.versions;
      return done(std::move(a));
    }
  }
  // The watch cache says the Secret does not exist: create it without reading it first. If it
  // appeared meanwhile, the create gets 409 AlreadyExists and the next round reads it.
  const bool absent = c->secrets.find(e.meta.ns + "/" + spec.target_name) == c->secrets.end();
  if (absent && conflicts == 0 && spec.creation != CreationPolicy::kMerge) {
    return on_live(Error(ErrorCode::kNotFound, "secret not in watch cache"));
  }
  auto self = shared_from_this();
  c->deps.kube->get(secret_path(e.meta.ns, spec.target_name),
                    [self](Result<nlohmann::json> live) { self->on_live(std::move(live)); });
}

void Reconcile::on_live(Result<nlohmann::json> live) {
  EsEntry* e = entry();
  if (e == nullptr || c->stopped) return done(Attempt{Outcome::kSkipped});
  const EsSpec& spec = *e->spec;
  std::optional<nlohmann::json> current;
  if (live) {
    current = std::move(*live);
  } else if (live.error().code != ErrorCode::kNotFound) {
    return done(Attempt::failed(message::kUpdateFailed, live.error()));
  }
  if (!current && spec.creation == CreationPolicy::kMerge) {
    Attempt m;
    m.outcome = Outcome::kSkipped;
    m.reason = reason::kSecretMissing;
    m.message = message::kMergeMissing;
    return done(std::move(m));
  }
  EsIdentity id{e->meta.ns, e->meta.name, e->meta.uid, "external-secrets.io/v1", e->meta.labels,
                e->meta.annotations};
  // What this ExternalSecret owned on the Secret before is kept in SQLite, not in memory.
  c->flush_state();
  std::vector<storage::OwnedField> owned;
  if (auto st = c->deps.state->get(uid); st && *st) owned = std::move((*st)->owned);
  auto built = build_secret(id, spec, fetched.data, current, owned, c->hmac_key.view());
  // Retried with backoff: the cause may be in the provider's data or the live Secret, which
  // change without any event of this ExternalSecret.
  if (!built) return done(Attempt::failed(built.error().message.c_str(), built.error()));
  Attempt ok;
  ok.data_hmac = built->data_hmac;
  ok.owned = built->owned;
  ok.set_owned = true;
  ok.versions = fetched.versions;
  if (!built->changed) return done(std::move(ok));
  e->pending_hmac = built->data_hmac;
  const bool create = built->create;
  Sensitive body(built->object.dump());
  built->object = nullptr;
  send_write(create, std::move(body), std::move(ok));
}

// POST (create) or PUT (update, with the resourceVersion read just before) of the Secret.
void Reconcile::send_write(bool create, Sensitive body, Attempt ok) {
  const EsEntry& e = *entry();
  const std::string query = "?fieldManager=" + url_escape(field_manager(e.meta.name));
  const std::string path = create ? "/api/v1/namespaces/" + e.meta.ns + "/secrets" + query
                                  : secret_path(e.meta.ns, e.spec->target_name) + query;
  c->deps.metrics->inc("extsecretd_secret_writes_total", {});
  c->deps.kube->send(create ? "POST" : "PUT", path, std::move(body), "application/json",
                     [self = shared_from_this(), ok = std::move(ok), create](
                         Result<nlohmann::json> r) mutable {
                       self->on_written(std::move(r), std::move(ok), create);
                     });
}

void Reconcile::on_written(Result<nlohmann::json> r, Attempt ok, bool create) {
  EsEntry* e = entry();
  if (e == nullptr || c->stopped) return done(Attempt{Outcome::kSkipped});
  if (!r && r.error().code == ErrorCode::kConflict && conflicts < kMaxConflictRetries) {
    ++conflicts;  // someone wrote in between (or the Secret appeared): re-read and retry
    e->forced = true;
    return write_target();
  }
  // Every failed write is retried with backoff (ESO too): a 422 may come from provider data
  // that is fixed later, a 403 from RBAC that is granted later.
  if (!r) return done(Attempt::failed(message::kUpdateFailed, r.error()));
  ok.outcome = Outcome::kWritten;
  ok.wrote = true;
  if (auto m = r->find("metadata"); m != r->end() && m->is_object()) {
    ok.secret_rv = m->value("resourceVersion", "");
  }
  c->events.normal(target_of(*e), create ? "Created" : "Updated",
                   create ? "secret created" : "secret updated");
  done(std::move(ok));
}

void Reconcile::delete_target() {
  EsEntry& e = *entry();
  const EsSpec& spec = *e.spec;
  if (spec.creation != CreationPolicy::kOwner) {
    return done(Attempt::failed(
        message::kDeleteFailed,
        Error(ErrorCode::kInvalidConfig, "deletionPolicy=Delete needs creationPolicy=Owner"),
        /*retry=*/false));
  }
  auto self = shared_from_this();
  c->deps.kube->remove(secret_path(e.meta.ns, spec.target_name), [self](Result<nlohmann::json> r) {
    EsEntry* e = self->entry();
    if (e == nullptr || self->c->stopped) return self->done(Attempt{Outcome::kSkipped});
    if (!r && r.error().code != ErrorCode::kNotFound) {
      return self->done(Attempt::failed(message::kDeleteFailed, r.error()));
    }
    Attempt a;
    if (r) self->c->events.normal(target_of(*e), "Deleted", message::kDeleted);
    a.outcome = Outcome::kDeleted;
    a.reason = reason::kSecretDeleted;
    a.message = message::kDeleted;
    a.wrote = r.ok();
    a.data_hmac = "-";  // nothing is expected to exist any more
    self->done(std::move(a));
  });
}

}  // namespace esd::controller
