// FakeApiServer: runs tests/fakes/kube_apiserver.py (contract: tests/fakes/KUBE_FAKE_API.md) as a
// child process for one test, and offers blocking HTTP calls to it (libcurl easy) for test setup
// and assertions. Owned by the test on the stack; the destructor stops and reaps the process.
// Blocking calls are fine here: the fake is another process, and the test's loop is not running
// while they are made.
#pragma once

#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/kube/kube_config.h"

namespace esd::testing {

struct FakeApiServerOptions {
  std::string token = "test-token";
  bool tls = false;                     // --tls-dir <tmp>: serve HTTPS with a generated CA
  std::vector<std::string> extra_args;  // e.g. {"--bookmark-interval", "0.2"}
};

struct FakeResponse {
  long status = 0;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

class FakeApiServer {
 public:
  // Spawns the fake and waits (up to 15 s) for its port file. kInternal with the reason if it
  // fails to start.
  static Result<std::unique_ptr<FakeApiServer>> start(FakeApiServerOptions opts = {});
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  int port() const { return port_; }
  std::string url() const;      // http(s)://127.0.0.1:<port>
  std::string ca_file() const;  // TLS mode: the generated CA (PEM)
  // A KubeConfig pointing at the fake with the given bearer token (default: the fake's token).
  kube::KubeConfig kube_config(const std::string& token = "\x01") const;

  // Blocking request; `path` is absolute (/api..., /_fake/...). API calls carry the fake's token.
  FakeResponse call(const std::string& method, const std::string& path,
                    const std::string& body = "",
                    const std::string& content_type = "application/json") const;
  // Shorthands for the control API.
  void add_fault(const nlohmann::json& rule) const;
  void drop_watches() const;
  void expire_watches(bool http_410 = false) const;
  nlohmann::json requests() const;  // GET /_fake/requests
  int open_watches() const;

 private:
  FakeApiServer() = default;
  bool wait_for_port(double seconds);
  void stop();

  FakeApiServerOptions opts_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;  // temp dir holding the port file (and TLS material)
};

}  // namespace esd::testing
