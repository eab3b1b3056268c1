// Where and how to reach the Kubernetes API server: parsed from a kubeconfig file (YAML) or from
// the in-cluster service-account files. Pure parsing; no I/O besides reading the named files.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"
#include "daemon/http/http_client.h"

namespace esd::kube {

struct KubeConfig {
  std::string server;                     // https://host:port (no trailing slash)
  std::shared_ptr<const TlsOptions> tls;  // CA, client cert/key, insecure flag, server name
  Sensitive token;                        // static bearer token (may be empty)
  std::string token_file;                 // re-read at least every minute when set
  uint64_t token_refresh_ms = 60'000;     // token_file re-read period (tests shorten it)
  std::string namespace_;                 // context namespace / pod namespace (informational)
  std::string source;                     // "kubeconfig:<path>" or "in-cluster", for logs
};

// Parses kubeconfig text. `base_dir` resolves relative file paths; `context` empty means
// current-context. Errors are kInvalidConfig with a message naming the missing/bad field.
Result<KubeConfig> parse_kubeconfig(const std::string& yaml_text, const std::string& base_dir,
                                    const std::string& context);
Result<KubeConfig> load_kubeconfig_file(const std::string& path, const std::string& context);

// In-cluster config from KUBERNETES_SERVICE_HOST/PORT and the files under `sa_dir`
// (default /var/run/secrets/kubernetes.io/serviceaccount).
Result<KubeConfig> in_cluster_config(
    const std::map<std::string, std::string>& env,
    const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// The daemon's order: --kubeconfig flag, else $KUBECONFIG (first non-empty entry of a ':' list),
// else in-cluster (when KUBERNETES_SERVICE_HOST/PORT are set; `sa_dir` as above), else
// $HOME/.kube/config if it exists. Nothing found: kInvalidConfig saying what was tried.
// Unsupported auth (exec/auth-provider plugins, basic auth, impersonation, proxy-url) is rejected
// with kInvalidConfig rather than silently ignored.
Result<KubeConfig> resolve_config(
    const std::string& flag_path, const std::string& context,
    const std::map<std::string, std::string>& env,
    const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace esd::kube
