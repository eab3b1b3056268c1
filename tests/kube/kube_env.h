// KubeEnv: what a kube-layer integration test needs: a loop with watchdog, the fake API server
// process, an HttpClient and a KubeClient pointing at the fake. close() tears down in the order
// the handle rules require and returns uv_loop_close()'s result.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "daemon/http/http_client.h"
#include "daemon/kube/kube_client.h"
#include "kube/fake_apiserver_process.h"
#include "kube/test_loop.h"

namespace esd::testing {

struct KubeEnv {
  TestLoop loop;  // first: destroyed last
  std::unique_ptr<FakeApiServer> fake;
  std::unique_ptr<HttpClient> http;
  std::unique_ptr<kube::KubeClient> kube;

  explicit KubeEnv(FakeApiServerOptions opts = {}) {
    auto f = FakeApiServer::start(std::move(opts));
    if (!f.ok()) FAIL("fake API server: " << f.error().message);
    fake = std::move(f).value();
    http = std::make_unique<HttpClient>(loop.get());
    kube = std::make_unique<kube::KubeClient>(loop.get(), *http, fake->kube_config());
  }

  // Waits for one JsonDone-style call issued by `start`.
  template <typename Start>
  Result<nlohmann::json> await(Start start, uint64_t timeout_ms = 10'000) {
    std::optional<Result<nlohmann::json>> out;
    start([&](Result<nlohmann::json> r) { out.emplace(std::move(r)); });
    if (!loop.run_until([&] { return out.has_value(); }, timeout_ms)) {
      return Error(ErrorCode::kInternal, "test: watchdog fired");
    }
    return std::move(*out);
  }

  int close() {
    kube.reset();
    if (http) http->shutdown();
    http.reset();
    return loop.finish();
  }
};

// A ConfigMap manifest (configmaps need no data validation in the fake).
inline nlohmann::json config_map(const std::string& name, const nlohmann::json& labels = nullptr,
                                 const std::string& value = "v") {
  nlohmann::json cm = {{"apiVersion", "v1"},
                       {"kind", "ConfigMap"},
                       {"metadata", {{"name", name}}},
                       {"data", {{"k", value}}}};
  if (!labels.is_null()) cm["metadata"]["labels"] = labels;
  return cm;
}

constexpr const char* kConfigMaps = "/api/v1/namespaces/default/configmaps";

}  // namespace esd::testing
