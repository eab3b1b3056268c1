// KubeClient: typed access to the Kubernetes REST API over the shared HttpClient. It knows paths,
// auth headers, Status objects and error classes, and nothing about ESO. Owned by main, on the
// loop thread; destroying it cancels what it started. Callbacks: exactly once, on the loop, never
// synchronously, never after cancel. The HttpClient must outlive it; destroy it before
// uv_loop_close (it owns an idle handle).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "daemon/common/result.h"
#include "daemon/http/http_client.h"
#include "daemon/kube/kube_config.h"
#include "daemon/loop/deferrer.h"

namespace esd::kube {

// Maps an HTTP status + Kubernetes Status body to an Error: 401 kAuth, 403 kPermission,
// 404 kNotFound, 409 kConflict, 410 kGone, 400/405/406/413/415/422 kInvalidConfig, 429
// kRateLimited (retry_after_ms from Retry-After seconds or details.retryAfterSeconds), 408/5xx
// kTransient, anything else kInternal; native = the status. Message: "HTTP <n> <reason>:
// <Status message>" (never a request body; bodies that are not a Status are not quoted).
Error classify_status(long http_status, const std::string& body, const std::string& retry_after);

class KubeClient {
 public:
  using JsonDone = std::function<void(Result<nlohmann::json>)>;
  using RequestId = uint64_t;  // KubeClient's own ids (stable across a 401 retry), never 0

  KubeClient(uv_loop_t* loop, HttpClient& http, KubeConfig config);
  // Cancels every request and stream of this client: no callback follows.
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  // `path` starts with /api or /apis and may carry a query string. A 2xx body is parsed as JSON
  // (empty body: null); other statuses go through classify_status. With a token file, a 401 makes
  // the client re-read the file and retry once.
  RequestId get(const std::string& path, JsonDone done);
  RequestId create(const std::string& collection_path, const nlohmann::json& obj, JsonDone done);
  RequestId update(const std::string& object_path, const nlohmann::json& obj,
                   JsonDone done);  // PUT
  RequestId merge_patch(const std::string& object_path, const nlohmann::json& patch, JsonDone done);
  RequestId remove(const std::string& object_path, JsonDone done);  // DELETE
  // Secret writes may carry bytes from providers: `body` is Sensitive so it is never logged.
  RequestId send(const std::string& method, const std::string& path, Sensitive body,
                 const std::string& content_type, JsonDone done);
  // Cancels a get/create/update/... request: its callback is never called. Unknown ids: no-op.
  void cancel(RequestId id);

  // Streaming GET for watches; returns an id for cancel_stream. on_line gets each complete
  // newline-delimited JSON document (never from inside a libcurl callback, so it may start or
  // cancel requests); done is called once when the stream ends for any reason: ok for a clean
  // end of a 200 stream, classify_status for another HTTP status (body so far), kTooLarge for a
  // line over kMaxLineBytes, the transport error otherwise. After cancel_stream (also from
  // inside on_line) neither callback is called again.
  TransferId stream(const std::string& path, std::function<void(std::string_view line)> on_line,
                    std::function<void(Status)> done);
  void cancel_stream(TransferId id);

  const KubeConfig& config() const { return config_; }
  uint64_t writes() const { return writes_; }  // POST/PUT/PATCH/DELETE sent (retries included)
  size_t in_flight() const { return calls_.size() + streams_.size(); }

  static constexpr size_t kMaxLineBytes = 16 << 20;    // one watch event

 private:
  struct Call;
  struct Stream;

  HttpRequest base_request(const std::string& method, const std::string& path);
  const Sensitive& current_token();
  RequestId submit(const std::string& method, const std::string& path, Sensitive body,
                   const std::string& content_type, JsonDone done);
  void dispatch(RequestId id, Call& call);
  void on_call_done(RequestId id, Result<HttpResponse> result);
  bool on_stream_data(const std::shared_ptr<Stream>& st, std::string_view chunk);
  void on_stream_done(const std::shared_ptr<Stream>& st, Result<HttpResponse> result);
  void post_pump(const std::shared_ptr<Stream>& st);
  void pump(RequestId id);

  uv_loop_t* loop_;
  HttpClient& http_;
  KubeConfig config_;
  Deferrer deferrer_;
  Sensitive file_token_;
  bool token_loaded_ = false;
  uint64_t token_read_at_ = 0;  // uv_now of the last token_file read
  uint64_t writes_ = 0;
  RequestId next_id_ = 1;
  std::map<RequestId, std::unique_ptr<Call>> calls_;
  std::map<RequestId, std::shared_ptr<Stream>> streams_;
};

}  // namespace esd::kube
