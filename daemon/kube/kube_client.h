// KubeClient: typed access to the Kubernetes REST API over the shared HttpClient. It knows paths,
// auth headers, Status objects and error classes, and nothing about ESO. Owned by main; must
// outlive its requests. Callbacks: exactly once, on the loop, never synchronously.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/common/result.h"
#include "daemon/http/http_client.h"
#include "daemon/kube/kube_config.h"

namespace esd::kube {

// Maps an HTTP status + Kubernetes Status body to an Error: 401 kAuth, 403 kPermission,
// 404 kNotFound, 409 kConflict, 410 kGone, 413/422 kInvalidConfig, 429 kRateLimited (with
// Retry-After), 5xx kTransient. The message is the Status message (never a request body).
Error classify_status(long http_status, const std::string& body, const std::string& retry_after);

class KubeClient {
 public:
  using JsonDone = std::function<void(Result<nlohmann::json>)>;

  KubeClient(uv_loop_t* loop, HttpClient& http, KubeConfig config);
  ~KubeClient();

  // `path` starts with /api or /apis and may carry a query string.
  void get(const std::string& path, JsonDone done);
  void create(const std::string& collection_path, const nlohmann::json& obj, JsonDone done);
  void update(const std::string& object_path, const nlohmann::json& obj, JsonDone done);  // PUT
  void merge_patch(const std::string& object_path, const nlohmann::json& patch, JsonDone done);
  void remove(const std::string& object_path, JsonDone done);  // DELETE
  // Secret writes may carry bytes from providers: `body` is Sensitive so it is never logged.
  void send(const std::string& method, const std::string& path, Sensitive body,
            const std::string& content_type, JsonDone done);

  // Streaming GET for watches; returns an id for cancel_stream. on_line gets each complete
  // newline-delimited JSON document; done is called once when the stream ends for any reason.
  TransferId stream(const std::string& path, std::function<void(std::string_view line)> on_line,
                    std::function<void(Status)> done);
  void cancel_stream(TransferId id);

  const KubeConfig& config() const { return config_; }
  uint64_t writes() const { return writes_; }  // POST/PUT/PATCH/DELETE sent

 private:
  HttpRequest base_request(const std::string& method, const std::string& path);
  const Sensitive& current_token();

  uv_loop_t* loop_;
  HttpClient& http_;
  KubeConfig config_;
  Sensitive file_token_;
  uint64_t token_read_at_ = 0;  // uv_now of the last token_file read
  uint64_t writes_ = 0;
};

}  // namespace esd::kube
