// Store clients: one long-lived SecretClient per store. A ClusterSecretStore with referent auth
// (a credential reference without a namespace: Provider::per_namespace) has one per
// ExternalSecret namespace, where such references resolve; any other has one for all. A change
// to the store's spec drops its clients; the next sync builds a new one. In-flight fetches keep
// the old client alive through their shared reference.
#include <cstdio>

#include "daemon/common/crypto.h"
#include "daemon/common/log.h"
#include "daemon/controller/controller_impl.h"
#include "daemon/kube/kube_client.h"
#include "daemon/server/metrics.h"
#include "providers/registry.h"

namespace esd::controller {
namespace {

constexpr const char kComponent[] = "stores";

std::string entry_key(const std::string& kind, const std::string& ns, const std::string& name) {
  return kind + "/" + (kind == "ClusterSecretStore" ? std::string() : ns) + "/" + name;
}

ClientRef make_shared_client(std::unique_ptr<providers::SecretClient> c) {
  return ClientRef(c.release(), [](providers::SecretClient* p) {
    p->close();
    delete p;
  });
}

// A shared ClusterSecretStore client (no referent auth) has no namespace to fall back on.
constexpr const char* kNeedsNamespace = "a ClusterSecretStore reference needs a namespace";

// Reads a key of a referenced Secret or ConfigMap for a provider. A SecretStore may only read
// from its own namespace; a ClusterSecretStore reference without a namespace resolves in the
// ExternalSecret's namespace (referent auth).
providers::RefReader make_ref_reader(kube::KubeClient* kube, bool cluster, std::string own_ns) {
  auto resolve = [cluster, own_ns](const std::string& ns) -> Result<std::string> {
    if (ns.empty() && own_ns.empty()) return Error(ErrorCode::kInvalidConfig, kNeedsNamespace);
    if (ns.empty()) return own_ns;
    if (!cluster && ns != own_ns) {
      return Error(ErrorCode::kPermission,
                   "a SecretStore cannot reference objects in namespace \"" + ns + "\"");
    }
    return ns;
  };
  // GETs a Secret or ConfigMap and hands `key` of its data to `done` (base64-decoded for Secrets).
  auto read = [kube, resolve](const char* plural, bool secret, const std::string& ns,
                              const std::string& name, const std::string& key,
                              std::function<void(Result<std::string>)> done) {
    auto where = resolve(ns);
    if (!where) return done(where.error());
    kube->get("/api/v1/namespaces/" + *where + "/" + plural + "/" + name,
              [key, secret, done](Result<nlohmann::json> obj) {
                if (!obj) return done(obj.error());
                auto d = obj->find("data");
                if (d == obj->end() || !d->is_object() || !d->contains(key) ||
                    !(*d)[key].is_string()) {
                  return done(Error(ErrorCode::kInvalidRef, "key \"" + key + "\" not found"));
                }
                const auto& text = (*d)[key].get_ref<const std::string&>();
                if (!secret) return done(text);
                done(base64_decode(text));
              });
  };
  providers::RefReader r;
  r.read_secret_key = [read](const std::string& ns, const std::string& name,
                             const std::string& key, std::function<void(Result<Sensitive>)> done) {
    read("secrets", true, ns, name, key, [done](Result<std::string> v) {
      if (!v) return done(v.error());
      done(Sensitive(std::move(*v)));
    });
  };
  r.read_configmap_key = [read](const std::string& ns, const std::string& name,
                                const std::string& key, std::function<void(Result<std::string>)> done) {
    read("configmaps", false, ns, name, key, std::move(done));
  };
  r.read_sa_annotations = [kube, resolve](const std::string& ns, const std::string& name,
                                          std::function<void(Result<std::map<std::string, std::string>>)> done) {
    auto where = resolve(ns);
    if (!where) return done(where.error());
    kube->get("/api/v1/namespaces/" + *where + "/serviceaccounts/" + name,
              [done](Result<nlohmann::json> obj) {
                if (!obj) return done(obj.error());
                std::map<std::string, std::string> out;
                const auto meta = obj->find("metadata");
                if (meta != obj->end() && meta->is_object()) {
                  const auto ann = meta->find("annotations");
                  if (ann != meta->end() && ann->is_object()) {
                    for (const auto& [k, v] : ann->items()) {
                      if (v.is_string()) out[k] = v.get<std::string>();
                    }
                  }
                }
                done(std::move(out));
              });
  };
  return r;
}

providers::TokenSource make_token_source(kube::KubeClient* kube, bool cluster, std::string own_ns) {
  providers::TokenSource t;
  t.request_token = [kube, cluster, own_ns](const std::string& ns, const std::string& name,
                                            std::vector<std::string> audiences, int64_t expiration_s,
                                            std::function<void(Result<Sensitive>)> done) {
    const std::string where = ns.empty() ? own_ns : ns;
    if (where.empty()) return done(Error(ErrorCode::kInvalidConfig, kNeedsNamespace));
    if (!cluster && where != own_ns) {
      return done(Error(ErrorCode::kPermission,
                        "a SecretStore cannot reference objects in namespace \"" + ns + "\""));
    }
    nlohmann::json req = {{"apiVersion", "authentication.k8s.io/v1"},
                          {"kind", "TokenRequest"},
                          {"spec", {{"audiences", audiences}, {"expirationSeconds", expiration_s}}}};
    kube->create("/api/v1/namespaces/" + where + "/serviceaccounts/" + name + "/token", req,
                 [done](Result<nlohmann::json> r) {
                   if (!r) return done(r.error());
                   auto st = r->find("status");
                   if (st == r->end() || !st->is_object() || !st->contains("token") ||
                       !(*st)["token"].is_string()) {
                     return done(Error(ErrorCode::kInternal, "TokenRequest returned no token"));
                   }
                   done(Sensitive((*st)["token"].get<std::string>()));
                 });
  };
  const std::string token_file = kube->config().token_file;
  t.own_token = [token_file]() -> Result<Sensitive> {
    if (token_file.empty()) {
      return Error(ErrorCode::kAuth, "no service-account token: not running in a cluster");
    }
    std::FILE* f = std::fopen(token_file.c_str(), "rb");
    if (f == nullptr) return Error(ErrorCode::kAuth, "cannot read the service-account token file");
    std::string bytes;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
    std::fclose(f);
    while (!bytes.empty() && (bytes.back() == '\n' || bytes.back() == '\r')) bytes.pop_back();
    return Sensitive(std::move(bytes));
  };
  return t;
}

}  // namespace

std::string Controller::Impl::store_key(const EsEntry& e, const StoreRef& ref) const {
  return entry_key(ref.kind, e.meta.ns, ref.name);
}

bool Controller::Impl::store_gathers_reads(const EsEntry& e) const {
  if (!e.spec) return false;
  auto it = stores.find(store_key(e, e.spec->store));
  if (it == stores.end()) return false;
  const providers::Provider* p = providers::find_provider(it->second.spec.provider);
  return p != nullptr && p->gathers_reads();
}

void Controller::Impl::on_store_event(const std::string& kind, kube::EventType t,
                                      const nlohmann::json& obj) {
  ObjectMeta meta = parse_meta(obj);
  const std::string key = entry_key(kind, meta.ns, meta.name);
  if (t == kube::EventType::kDeleted) {
    stores.erase(key);
    return;
  }
  auto spec = parse_store(obj);
  auto [it, inserted] = stores.try_emplace(key);
  StoreEntry& s = it->second;
  s.seen = true;
  s.uid = meta.uid;
  s.status = parse_status(obj);
  if (!spec) {
    log::warn(kComponent, "store_invalid",
              {{"kind", kind}, {"ns", meta.ns}, {"store", meta.name}, {"error", spec.error()}});
    const bool changed = s.spec_error != spec.error().message || !s.spec.provider.empty();
    s.spec = StoreSpec{kind, meta.ns, meta.name, "", nullptr, "", {}, "invalid"};
    s.spec_error = spec.error().message;
    s.clients.clear();
    s.per_namespace.reset();
    if (changed && is_ready) validate_store(key);
    return;
  }
  if (!inserted && s.spec_error.empty() && s.spec.fingerprint == spec->fingerprint) return;
  s.spec = std::move(*spec);
  s.spec_error.clear();
  s.clients.clear();  // rebuilt at the next sync with the new spec
  s.per_namespace.reset();
  if (is_ready) {
    validate_store(key);
    requeue_failing_for_store(kind, meta.name);
  }
}

// A store that appears or changes gets its failing ExternalSecrets retried at once, instead of at
// the end of their backoff, and those with a sync in flight (it may have read with the old
// spec) run again after it. Healthy ones pick the change up at their next refresh, as in ESO.
void Controller::Impl::requeue_failing_for_store(const std::string& kind, const std::string& name) {
  std::vector<std::string> uids;
  for (auto& [uid, e] : es) {
    if (!e.spec || e.spec->store.kind != kind || e.spec->store.name != name) continue;
    if (e.in_flight) {
      e.rerun = true;
    } else if (e.state.consecutive_failures > 0) {
      uids.push_back(uid);
    }
  }
  for (const auto& uid : uids) enqueue_now(uid);
}

Result<ClientRef> Controller::Impl::client_for(const EsEntry& e, const StoreRef& ref) {
  return client_in(e.meta.ns, ref);
}

Result<ClientRef> Controller::Impl::client_in(const std::string& es_ns, const StoreRef& ref) {
  const bool cluster = ref.kind == "ClusterSecretStore";
  auto it = stores.find(entry_key(ref.kind, es_ns, ref.name));
  if (it == stores.end()) {
    // Not kNotFound: that code means "the remote secret is gone" and drives deletionPolicy.
    return Error(ErrorCode::kInvalidConfig, "could not get " + ref.kind + " \"" + ref.name +
                                           "\", " + ref.kind + ".external-secrets.io \"" +
                                           ref.name + "\" not found");
  }
  StoreEntry& s = it->second;
  if (s.spec.provider.empty()) {
    return Error(ErrorCode::kInvalidConfig, ref.kind + " \"" + ref.name + "\" is invalid");
  }
  if (cluster) {
    auto labels = ns_labels.find(es_ns);
    static const std::map<std::string, std::string> kNone;
    if (!store_allows_namespace(s.spec, es_ns, labels == ns_labels.end() ? kNone : labels->second)) {
      return Error(ErrorCode::kPermission, "using cluster store \"" + ref.name +
                                               "\" is not allowed from namespace \"" + es_ns +
                                               "\": denied by spec.condition");
    }
  }
  const providers::Provider* p = providers::find_provider(s.spec.provider);
  if (p == nullptr) {
    return Error(ErrorCode::kInvalidConfig,
                 "provider \"" + s.spec.provider + "\" is not supported by extsecretd");
  }
  // A ClusterSecretStore shares one client across namespaces unless its auth is referent.
  if (cluster && !s.per_namespace) s.per_namespace = p->per_namespace(s.spec.provider_spec);
  const bool per_ns = cluster && *s.per_namespace;
  const std::string client_ns = per_ns ? es_ns : std::string();
  if (auto c = s.clients.find(client_ns); c != s.clients.end()) return c->second;
  if (auto v = p->validate(s.spec.provider_spec); !v) return v.error();
  providers::ProviderContext ctx;
  ctx.loop = deps.loop;
  ctx.http = deps.http;
  ctx.deferrer = &deferrer;
  ctx.clock = deps.clock;
  ctx.store_kind = ref.kind;
  ctx.store_name = ref.name;
  ctx.store_namespace = cluster ? std::string() : es_ns;
  // A shared cluster client has no ExternalSecret namespace: every reference it reads names its
  // own namespace (or none is read at all).
  ctx.es_namespace = cluster && !per_ns ? std::string() : es_ns;
  ctx.refs = make_ref_reader(deps.kube, cluster, ctx.es_namespace);
  ctx.tokens = make_token_source(deps.kube, cluster, ctx.es_namespace);
  Metrics* metrics = deps.metrics;
  ctx.count_call = [metrics](std::string_view provider, std::string_view call, bool ok) {
    metrics->inc("externalsecret_provider_api_calls_count",
                 {{"provider", std::string(provider)},
                  {"call", std::string(call)},
                  {"status", ok ? "success" : "error"}});
  };
  auto client = p->create(s.spec.provider_spec, std::move(ctx));
  if (!client) return client.error();
  ClientRef ref_client = make_shared_client(std::move(*client));
  s.clients[client_ns] = ref_client;
  log::info(kComponent, "store_client_created",
            {{"kind", ref.kind}, {"store", ref.name}, {"provider", s.spec.provider}});
  return ref_client;
}

}  // namespace esd::controller
