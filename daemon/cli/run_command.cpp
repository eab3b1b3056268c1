// `extsecretd run`: builds the loop and everything on it, runs until SIGTERM/SIGINT (or, with
// --once, until every ExternalSecret was synced once), then shuts down in order: controller,
// server, HTTP client, signals; the loop must close cleanly (uv_loop_close == 0).
#include <sys/stat.h>
#include <curl/curl.h>
#include <uv.h>

#include <csignal>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "daemon/cli/cli.h"
#include "daemon/common/crypto.h"
#include "daemon/common/log.h"
#include "daemon/controller/controller.h"
#include "daemon/http/http_client.h"
#include "daemon/kube/kube_client.h"
#include "daemon/loop/uv_handle.h"
#include "daemon/server/http_server.h"
#include "daemon/server/metrics.h"
#include "storage/state_store.h"

extern char** environ;

namespace esd::cli {
namespace {

constexpr const char kComponent[] = "main";
constexpr uint64_t kOnceDeadlineMs = 55'000;

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

void declare_metrics(Metrics& m) {
  using T = Metrics::Type;
  m.declare("externalsecret_sync_calls_total", T::kCounter, "Total number of ExternalSecret reconciles");
  m.declare("externalsecret_sync_calls_error", T::kCounter, "Total number of failed ExternalSecret reconciles");
  m.declare("externalsecret_status_condition", T::kGauge, "The status condition of an ExternalSecret");
  m.declare("externalsecret_reconcile_duration", T::kGauge, "Duration of the last reconcile, in nanoseconds");
  m.declare("externalsecret_provider_api_calls_count", T::kCounter, "Number of API calls to secret providers");
  m.declare("extsecretd_secret_writes_total", T::kCounter, "Secret creates and updates sent to the API server");
  m.declare("extsecretd_status_writes_total", T::kCounter, "ExternalSecret status writes sent to the API server");
  m.declare("extsecretd_provider_fetches_total", T::kCounter, "ExternalSecret fetch rounds sent to providers");
  m.declare("extsecretd_sync_outcomes_total", T::kCounter, "Sync attempts by outcome");
  m.declare("extsecretd_events_total", T::kCounter, "Kubernetes Events emitted");
}

struct Daemon {
  uv_loop_t loop{};
  std::unique_ptr<HttpClient> http;
  std::unique_ptr<kube::KubeClient> kube;
  std::unique_ptr<storage::StateStore> state;
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<controller::Controller> ctl;
  Metrics metrics;
  SystemClock clock;
  UvHandle<uv_signal_t> sigterm, sigint;
  UvHandle<uv_timer_t> deadline;
  int exit_code = 0;
  bool stopping = false;

  void shutdown(int code) {
    if (stopping) return;
    stopping = true;
    exit_code = code;
    log::info(kComponent, "shutdown_begin", {{"exit_code", code}});
    if (ctl) ctl->stop();
    if (server) server->close();
    if (http) http->shutdown();
    sigterm.close();
    sigint.close();
    deadline.close();
  }
};

Status prepare_state_dir(const std::string& state_path) {
  const auto slash = state_path.rfind('/');
  if (slash == std::string::npos || slash == 0) return {};
  const std::string dir = state_path.substr(0, slash);
  struct stat st {};
  if (stat(dir.c_str(), &st) == 0) return {};
  if (mkdir(dir.c_str(), 0700) != 0) {
    return Error(ErrorCode::kInvalidConfig, "cannot create state directory " + dir);
  }
  return {};
}

void on_signal(uv_signal_t* h, int signum) noexcept {
  log::info(kComponent, "signal_received", {{"signal", signum}});
  static_cast<Daemon*>(h->data)->shutdown(0);
}

Status start_server(Daemon& d, const std::string& addr) {
  if (addr == "0") return {};
  d.server = std::make_unique<HttpServer>(&d.loop);
  Daemon* dp = &d;
  d.server->add_route({"/metrics", [dp](int& status, std::string& type, std::string& body) {
                         status = 200;
                         type = "text/plain; version=0.0.4; charset=utf-8";
                         body = dp->metrics.render();
                       }});
  d.server->add_route({"/healthz", [](int& status, std::string& type, std::string& body) {
                         status = 200;
                         type = "text/plain";
                         body = "ok\n";
                       }});
  d.server->add_route({"/readyz", [dp](int& status, std::string& type, std::string& body) {
                         const bool ready = dp->ctl && dp->ctl->ready();
                         status = ready ? 200 : 503;
                         type = "text/plain";
                         body = ready ? "ok\n" : "informers not synced\n";
                       }});
  if (auto s = d.server->listen(addr); !s) return s;
  log::info(kComponent, "metrics_listening", {{"addr", addr}, {"port", d.server->port()}});
  return {};
}

void start_signals(Daemon& d) {
  for (auto* h : {&d.sigterm, &d.sigint}) {
    if (uv_signal_init(&d.loop, h->get()) == 0) {
      h->mark_initialized();
      h->get()->data = &d;
    }
  }
  uv_signal_start(d.sigterm.get(), &on_signal, SIGTERM);
  uv_signal_start(d.sigint.get(), &on_signal, SIGINT);
}

void start_once(Daemon& d) {
  Daemon* dp = &d;
  d.ctl->set_on_once_done([dp](bool all_ok) {
    log::info(kComponent, "once_complete", {{"all_synced", all_ok}});
    dp->shutdown(all_ok ? 0 : 1);
  });
  if (uv_timer_init(&d.loop, d.deadline.get()) == 0) {
    d.deadline.mark_initialized();
    d.deadline.get()->data = &d;
    uv_timer_start(
        d.deadline.get(),
        [](uv_timer_t* t) noexcept {
          log::error(kComponent, "once_deadline_exceeded");
          static_cast<Daemon*>(t->data)->shutdown(1);
        },
        kOnceDeadlineMs, 0);
  }
}

int fail(const char* event, const Error& e) {
  log::error(kComponent, event, {{"error", e}});
  return 1;
}

}  // namespace

int run_daemon(const RunFlags& flags) {
  log::set_level(*log::parse_level(flags.log_level));
  log::set_format(flags.log_format == "text" ? log::Format::kText : log::Format::kJson);
  std::signal(SIGPIPE, SIG_IGN);
  http_global_init();
  const std::string state_path = flags.state.empty() ? default_state_path() : flags.state;
  const std::string key_path = flags.hmac_key_file.empty()
                                   ? state_path.substr(0, state_path.rfind('/') + 1) + "hmac.key"
                                   : flags.hmac_key_file;
  auto cfg = kube::resolve_config(flags.kubeconfig, flags.context, environment());
  if (!cfg) return fail("kubeconfig_invalid", cfg.error());
  if (auto s = prepare_state_dir(state_path); !s) return fail("state_open_failed", s.error());
  auto key = load_or_create_key(key_path);
  if (!key) return fail("hmac_key_failed", key.error());
  Daemon d;
  auto state = storage::StateStore::open(state_path);
  if (!state) return fail("state_open_failed", state.error());
  d.state = std::move(*state);
  if (uv_loop_init(&d.loop) != 0) return fail("loop_init_failed", Error(ErrorCode::kInternal, "uv_loop_init"));
  log::info(kComponent, "startup", {{"version", kVersion}, {"kube", cfg->source},
                                     {"server", cfg->server}, {"state", state_path}});
  declare_metrics(d.metrics);
  d.http = std::make_unique<HttpClient>(&d.loop);
  d.kube = std::make_unique<kube::KubeClient>(&d.loop, *d.http, std::move(*cfg));
  controller::ControllerDeps deps{&d.loop, d.kube.get(), d.http.get(), d.state.get(), &d.metrics, &d.clock};
  controller::ControllerOptions opts;
  opts.watch_namespace = flags.ns;
  opts.once = flags.once;
  d.ctl = std::make_unique<controller::Controller>(deps, opts, std::move(*key));
  start_signals(d);
  if (auto s = start_server(d, flags.metrics_addr); !s) {
    d.shutdown(1);
    uv_run(&d.loop, UV_RUN_DEFAULT);
    return fail("metrics_listen_failed", s.error());
  }
  if (flags.once) start_once(d);
  if (auto s = d.ctl->start(); !s) {
    log::error(kComponent, "controller_start_failed", {{"error", s.error()}});
    d.shutdown(1);
  }
  uv_run(&d.loop, UV_RUN_DEFAULT);
  // Everything that owns a handle is destroyed before the last drain of close callbacks.
  d.ctl.reset();
  d.server.reset();
  d.kube.reset();
  d.http.reset();
  uv_run(&d.loop, UV_RUN_DEFAULT);
  const int rc = uv_loop_close(&d.loop);
  d.state.reset();
  curl_global_cleanup();
  log::info(kComponent, "shutdown_complete", {{"exit_code", d.exit_code}, {"loop_close", rc}});
  return rc == 0 ? d.exit_code : 1;
}

}  // namespace esd::cli
