#include "daemon/cli/cli.h"

#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

namespace esd::cli {

std::string default_state_path() {
  if (const char* dir = std::getenv("STATE_DIRECTORY"); dir != nullptr && *dir != '\0') {
    std::string d(dir);
    // systemd may pass several directories separated by ':'; the first is ours.
    d = d.substr(0, d.find(':'));
    return d + "/state.db";
  }
  return "/var/lib/extsecretd/state.db";
}

int main(int argc, char** argv) {
  CLI::App app{"extsecretd: keeps Kubernetes Secrets in sync with external secret stores, "
               "from External Secrets Operator manifests"};
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);

  RunFlags run;
  auto* run_cmd = app.add_subcommand("run", "run the daemon");
  run_cmd->add_option("--kubeconfig", run.kubeconfig,
                      "kubeconfig file (else $KUBECONFIG, in-cluster, ~/.kube/config)");
  run_cmd->add_option("--context", run.context, "kubeconfig context (default: current-context)");
  run_cmd->add_option("--state", run.state, "SQLite state file (default: " + default_state_path() + ")");
  run_cmd->add_option("--hmac-key-file", run.hmac_key_file,
                      "HMAC key file (default: hmac.key next to the state file; created if missing)");
  run_cmd->add_option("--namespace", run.ns, "watch one namespace only (default: all)");
  run_cmd->add_option("--metrics-addr", run.metrics_addr,
                      "HOST:PORT for /metrics, /healthz, /readyz; 0 disables")
      ->capture_default_str();
  run_cmd->add_option("--log-level", run.log_level, "debug|info|warn|error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  run_cmd->add_option("--log-format", run.log_format, "json|text")
      ->check(CLI::IsMember({"json", "text"}))
      ->capture_default_str();
  run_cmd->add_flag("--once", run.once,
                    "sync every ExternalSecret once and exit: 0 if all synced, 1 otherwise");

  std::string state;
  auto* status_cmd = app.add_subcommand("status", "show every ExternalSecret in the state store");
  status_cmd->add_option("--state", state, "SQLite state file");

  std::string which;
  int limit = 50;
  auto* history_cmd = app.add_subcommand("history", "show recent sync attempts");
  history_cmd->add_option("which", which, "NAMESPACE/NAME (default: all)");
  history_cmd->add_option("--state", state, "SQLite state file");
  history_cmd->add_option("--limit", limit, "rows to show")->capture_default_str();

  auto* version_cmd = app.add_subcommand("version", "print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return (rc == 0) ? 0 : 2;
  }
  if (state.empty()) state = default_state_path();
  if (*run_cmd) return run_daemon(run);
  if (*status_cmd) return show_status(state);
  if (*history_cmd) return show_history(state, which, limit);
  if (*version_cmd) {
    std::printf("extsecretd %s\n", kVersion);
    return 0;
  }
  return 2;
}

}  // namespace esd::cli
