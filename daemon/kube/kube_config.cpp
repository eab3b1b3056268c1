#include "daemon/kube/kube_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "daemon/common/crypto.h"

namespace esd::kube {
namespace {

constexpr size_t kMaxConfigFileBytes = 16 << 20;

Error config_error(const std::string& msg) {
  return Error(ErrorCode::kInvalidConfig, "kubeconfig: " + msg);
}

std::string quote(const std::string& s) { return "\"" + s + "\""; }

// Reads a whole (small) file. `what` names it in the error, e.g. `certificate-authority`.
Result<std::string> read_file(const std::string& path, const std::string& what) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return Error(ErrorCode::kInvalidConfig,
                 what + ": cannot read " + quote(path) + ": " + std::strerror(errno), errno);
  }
  std::string out;
  char buf[8192];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    out.append(buf, n);
    if (out.size() > kMaxConfigFileBytes) break;
  }
  const bool failed = std::ferror(f) != 0;
  (void)std::fclose(f);  // read-only: nothing to flush
  if (failed) return Error(ErrorCode::kInvalidConfig, what + ": read error on " + quote(path));
  if (out.size() > kMaxConfigFileBytes) {
    return Error(ErrorCode::kInvalidConfig, what + ": file too large: " + quote(path));
  }
  return out;
}

std::string resolve_path(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p.front() == '/' || base_dir.empty()) return p;
  return (std::filesystem::path(base_dir) / p).string();
}

std::string join_path(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

std::string trim(std::string s) {
  const auto* ws = " \t\r\n";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

// Scalar field as a string; absent or null → empty. `where` names the enclosing entry.
Result<std::string> get_string(const YAML::Node& map, const char* key, const std::string& where) {
  const YAML::Node n = map[key];
  if (!n || n.IsNull()) return std::string();
  if (!n.IsScalar()) return config_error(where + ": field " + key + " must be a string");
  return n.as<std::string>();
}

Result<bool> get_bool(const YAML::Node& map, const char* key, const std::string& where) {
  const YAML::Node n = map[key];
  if (!n || n.IsNull()) return false;
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
    return config_error(where + ": field " + key + " must be a boolean");
  }
  return v;
}

// Finds `{name: <name>, <inner>: {...}}` in a top-level list (clusters, users, contexts).
Result<YAML::Node> find_named(const YAML::Node& root, const char* list, const char* inner,
                              const std::string& name, const char* kind) {
  const YAML::Node seq = root[list];
  if (seq && !seq.IsNull() && !seq.IsSequence())
    return config_error(std::string(list) + " must be a list");
  if (seq && seq.IsSequence()) {
    for (const auto& entry : seq) {
      if (!entry.IsMap()) continue;
      const YAML::Node n = entry["name"];
      if (n && n.IsScalar() && n.as<std::string>() == name) {
        const YAML::Node body = entry[inner];
        if (body && !body.IsNull() && !body.IsMap()) {
          return config_error(std::string(kind) + " " + quote(name) + ": " + inner +
                              " must be a map");
        }
        return body ? body : YAML::Node(YAML::NodeType::Map);
      }
    }
  }
  return config_error(std::string(kind) + " " + quote(name) + " not found");
}

// PEM material given either inline (`<field>-data`, base64) or as a file path (`<field>`).
Result<std::string> pem_field(const YAML::Node& map, const std::string& field,
                              const std::string& where, const std::string& base_dir) {
  auto data = get_string(map, (field + "-data").c_str(), where);
  if (!data) return std::move(data).error();
  if (!data->empty()) {
    auto decoded = base64_decode(*data);
    if (!decoded) return config_error(where + ": " + field + "-data is not valid base64");
    return std::move(decoded).value();
  }
  auto path = get_string(map, field.c_str(), where);
  if (!path) return std::move(path).error();
  if (path->empty()) return std::string();
  auto text = read_file(resolve_path(base_dir, *path), where + ": " + field);
  if (!text) return Error(ErrorCode::kInvalidConfig, "kubeconfig: " + text.error().message);
  return std::move(text).value();
}

Status apply_cluster(const YAML::Node& cluster, const std::string& name,
                     const std::string& base_dir, KubeConfig& out, TlsOptions& tls) {
  const std::string where = "cluster " + quote(name);
  auto server = get_string(cluster, "server", where);
  if (!server) return std::move(server).error();
  if (server->empty()) return config_error(where + " has no server");
  out.server = *server;
  while (out.server.size() > 1 && out.server.back() == '/') out.server.pop_back();
  if (auto proxy = get_string(cluster, "proxy-url", where); !proxy || !proxy->empty()) {
    return config_error(where + ": proxy-url is not supported");
  }
  auto ca = pem_field(cluster, "certificate-authority", where, base_dir);
  if (!ca) return std::move(ca).error();
  tls.ca_pem = std::move(ca).value();
  auto insecure = get_bool(cluster, "insecure-skip-tls-verify", where);
  if (!insecure) return std::move(insecure).error();
  tls.insecure_skip_verify = *insecure;
  auto sni = get_string(cluster, "tls-server-name", where);
  if (!sni) return std::move(sni).error();
  tls.server_name = std::move(sni).value();
  return ok_status();
}

Status reject_unsupported_auth(const YAML::Node& user, const std::string& where) {
  if (user["exec"] && !user["exec"].IsNull()) {
    return config_error(where +
                        ": exec credential plugins are not supported; use a token, "
                        "tokenFile or client certificate");
  }
  if (user["auth-provider"] && !user["auth-provider"].IsNull()) {
    return config_error(where +
                        ": auth-provider plugins are not supported; use a token, "
                        "tokenFile or client certificate");
  }
  for (const char* key : {"username", "password"}) {
    if (user[key] && !user[key].IsNull()) {
      return config_error(where + ": basic auth (username/password) is not supported");
    }
  }
  for (const char* key : {"as", "as-groups", "as-uid", "as-user-extra"}) {
    if (user[key] && !user[key].IsNull()) {
      return config_error(where + ": impersonation (" + key + ") is not supported");
    }
  }
  return ok_status();
}

Status apply_user(const YAML::Node& user, const std::string& name, const std::string& base_dir,
                  KubeConfig& out, TlsOptions& tls) {
  const std::string where = "user " + quote(name);
  ESD_RETURN_IF_ERROR(reject_unsupported_auth(user, where));
  auto cert = pem_field(user, "client-certificate", where, base_dir);
  if (!cert) return std::move(cert).error();
  auto key = pem_field(user, "client-key", where, base_dir);
  if (!key) return std::move(key).error();
  if (cert->empty() != key->empty()) {
    return config_error(where + ": client-certificate and client-key must be given together");
  }
  tls.client_cert_pem = std::move(cert).value();
  tls.client_key_pem = Sensitive(std::move(key).value());
  auto token = get_string(user, "token", where);
  if (!token) return std::move(token).error();
  out.token = Sensitive(std::move(token).value());
  auto token_file = get_string(user, "tokenFile", where);
  if (!token_file) return std::move(token_file).error();
  if (!token_file->empty()) {
    out.token_file = resolve_path(base_dir, *token_file);
    auto probe = read_file(out.token_file, where + ": tokenFile");
    if (!probe) return Error(ErrorCode::kInvalidConfig, "kubeconfig: " + probe.error().message);
  }
  return ok_status();
}

Result<KubeConfig> parse_document(const YAML::Node& root, const std::string& base_dir,
                                  const std::string& context) {
  if (!root.IsMap()) return config_error("document is not a map");
  std::string ctx_name = context;
  if (ctx_name.empty()) {
    auto current = get_string(root, "current-context", "document");
    if (!current) return std::move(current).error();
    if (current->empty()) return config_error("no current-context set and no context given");
    ctx_name = *current;
  }
  auto ctx = find_named(root, "contexts", "context", ctx_name, "context");
  if (!ctx) return std::move(ctx).error();
  const std::string where = "context " + quote(ctx_name);
  auto cluster_name = get_string(*ctx, "cluster", where);
  if (!cluster_name) return std::move(cluster_name).error();
  if (cluster_name->empty()) return config_error(where + " has no cluster");
  auto user_name = get_string(*ctx, "user", where);
  if (!user_name) return std::move(user_name).error();
  auto ns = get_string(*ctx, "namespace", where);
  if (!ns) return std::move(ns).error();

  KubeConfig out;
  TlsOptions tls;
  auto cluster = find_named(root, "clusters", "cluster", *cluster_name, "cluster");
  if (!cluster) return std::move(cluster).error();
  ESD_RETURN_IF_ERROR(apply_cluster(*cluster, *cluster_name, base_dir, out, tls));
  if (!user_name->empty()) {
    auto user = find_named(root, "users", "user", *user_name, "user");
    if (!user) return std::move(user).error();
    ESD_RETURN_IF_ERROR(apply_user(*user, *user_name, base_dir, out, tls));
  }
  out.tls = std::make_shared<const TlsOptions>(std::move(tls));
  out.namespace_ = ns->empty() ? "default" : *ns;
  return out;
}

std::string env_value(const std::map<std::string, std::string>& env, const std::string& key) {
  auto it = env.find(key);
  return it == env.end() ? std::string() : it->second;
}

}  // namespace

Result<KubeConfig> parse_kubeconfig(const std::string& yaml_text, const std::string& base_dir,
                                    const std::string& context) {
  // yaml-cpp reports everything (syntax, bad conversions) by exception: contain them here.
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    if (!root || root.IsNull()) return config_error("empty document");
    auto cfg = parse_document(root, base_dir, context);
    if (cfg) cfg->source = "kubeconfig";
    return cfg;
  } catch (const YAML::Exception& e) {
    return config_error(std::string("malformed YAML: ") + e.what());
  } catch (const std::exception& e) {
    return config_error(std::string("cannot parse: ") + e.what());
  }
}

Result<KubeConfig> load_kubeconfig_file(const std::string& path, const std::string& context) {
  auto text = read_file(path, "kubeconfig");
  if (!text) return std::move(text).error();
  const std::string dir = std::filesystem::path(path).parent_path().string();
  auto cfg = parse_kubeconfig(*text, dir.empty() ? "." : dir, context);
  if (!cfg) {
    Error e = std::move(cfg).error();
    e.message += " (" + path + ")";
    return e;
  }
  cfg->source = "kubeconfig:" + path;
  return cfg;
}

Result<KubeConfig> in_cluster_config(const std::map<std::string, std::string>& env,
                                     const std::string& sa_dir) {
  const std::string host = env_value(env, "KUBERNETES_SERVICE_HOST");
  const std::string port = env_value(env, "KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return Error(ErrorCode::kInvalidConfig,
                 "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  const bool v6 = host.find(':') != std::string::npos && host.front() != '[';
  KubeConfig out;
  out.server = "https://" + (v6 ? "[" + host + "]" : host) + ":" + port;
  out.token_file = join_path(sa_dir, "token");
  auto token = read_file(out.token_file, "in-cluster: token");
  if (!token) return std::move(token).error();
  if (trim(*token).empty()) {
    return Error(ErrorCode::kInvalidConfig,
                 "in-cluster: token file " + out.token_file + " is empty");
  }
  auto ca = read_file(join_path(sa_dir, "ca.crt"), "in-cluster: ca.crt");
  if (!ca) return std::move(ca).error();
  TlsOptions tls;
  tls.ca_pem = std::move(ca).value();
  out.tls = std::make_shared<const TlsOptions>(std::move(tls));
  auto ns = read_file(join_path(sa_dir, "namespace"), "in-cluster: namespace");
  out.namespace_ = ns ? trim(*ns) : std::string();
  if (out.namespace_.empty()) out.namespace_ = "default";
  out.source = "in-cluster";
  return out;
}

Result<KubeConfig> resolve_config(const std::string& flag_path, const std::string& context,
                                  const std::map<std::string, std::string>& env,
                                  const std::string& sa_dir) {
  if (!flag_path.empty()) return load_kubeconfig_file(flag_path, context);
  const std::string list = env_value(env, "KUBECONFIG");
  size_t start = 0;
  while (start <= list.size() && !list.empty()) {
    const size_t end = std::min(list.find(':', start), list.size());
    const std::string first = list.substr(start, end - start);
    if (!first.empty()) return load_kubeconfig_file(first, context);
    start = end + 1;
  }
  if (!env_value(env, "KUBERNETES_SERVICE_HOST").empty() &&
      !env_value(env, "KUBERNETES_SERVICE_PORT").empty()) {
    return in_cluster_config(env, sa_dir);
  }
  const std::string home = env_value(env, "HOME");
  if (!home.empty()) {
    const std::string path = join_path(home, ".kube/config");
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return load_kubeconfig_file(path, context);
  }
  return Error(ErrorCode::kInvalidConfig,
               "no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, run in a "
               "cluster (KUBERNETES_SERVICE_HOST/PORT), or create $HOME/.kube/config");
}

}  // namespace esd::kube
