#include "daemon/kube/kube_client.h"

#include <cstdio>
#include <utility>
#include <vector>

#include "daemon/common/log.h"

namespace esd::kube {
namespace {

constexpr const char* kUserAgent = "extsecretd/0.1";
constexpr const char* kComponent = "kube";

bool is_write(const std::string& method) { return method != "GET" && method != "HEAD"; }

ErrorCode code_for_status(long status) {
  switch (status) {
    case 401:
      return ErrorCode::kAuth;
    case 403:
      return ErrorCode::kPermission;
    case 404:
      return ErrorCode::kNotFound;
    case 409:
      return ErrorCode::kConflict;
    case 410:
      return ErrorCode::kGone;
    case 429:
      return ErrorCode::kRateLimited;
    case 400:
    case 405:
    case 406:
    case 413:
    case 415:
    case 422:
      return ErrorCode::kInvalidConfig;
    case 408:
      return ErrorCode::kTransient;
    default:
      return status >= 500 && status < 600 ? ErrorCode::kTransient : ErrorCode::kInternal;
  }
}

// Seconds as a non-negative integer; anything else (HTTP-date, garbage) → -1.
int64_t parse_seconds(const std::string& s) {
  if (s.empty() || s.size() > 9) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string json_string(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Reads the token file, trimmed of surrounding whitespace. Empty result = failure.
std::string read_token_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return {};
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && out.size() < (1 << 20)) out.append(buf, n);
  (void)std::fclose(f);  // read-only
  const auto b = out.find_first_not_of(" \t\r\n");
  const auto e = out.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : out.substr(b, e - b + 1);
}

Result<nlohmann::json> to_json_result(Result<HttpResponse> r) {
  if (!r) return std::move(r).error();
  const HttpResponse& resp = r.value();
  const std::string body(resp.body.view());
  if (resp.status < 200 || resp.status >= 300) {
    return classify_status(resp.status, body, resp.header("retry-after"));
  }
  if (body.empty()) return nlohmann::json();
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    return Error(ErrorCode::kTransient, "kube: response body is not JSON",
                 static_cast<int>(resp.status));
  }
  return j;
}

}  // namespace

struct KubeClient::Call {
  std::string method;
  std::string path;
  std::string content_type;
  Sensitive body;
  JsonDone done;
  bool retried = false;
  TransferId http_id = 0;
};

Error classify_status(long http_status, const std::string& body, const std::string& retry_after) {
  std::string reason;
  std::string message;
  int64_t retry_ms = -1;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && json_string(j, "kind") == "Status") {
    reason = json_string(j, "reason");
    message = json_string(j, "message");
    auto details = j.find("details");
    if (details != j.end() && details->is_object()) {
      auto ras = details->find("retryAfterSeconds");
      if (ras != details->end() && ras->is_number_integer() && ras->get<int64_t>() >= 0) {
        retry_ms = ras->get<int64_t>() * 1000;
      }
    }
  }
  if (const int64_t s = parse_seconds(retry_after); s >= 0) retry_ms = s * 1000;
  std::string text = "HTTP " + std::to_string(http_status);
  if (!reason.empty()) text += " " + reason;
  if (!message.empty()) text += ": " + message;
  Error e(code_for_status(http_status), std::move(text), static_cast<int>(http_status));
  if (e.code == ErrorCode::kRateLimited || e.code == ErrorCode::kTransient)
    e.retry_after_ms = retry_ms;
  return e;
}

KubeClient::KubeClient(uv_loop_t* loop, HttpClient& http, KubeConfig config)
    : loop_(loop), http_(http), config_(std::move(config)), deferrer_(loop) {}

KubeClient::~KubeClient() {
  for (auto& [id, call] : calls_) http_.cancel(call->http_id);
  calls_.clear();
  std::vector<RequestId> ids;
  for (const auto& [id, st] : streams_) ids.push_back(id);
  for (RequestId id : ids) cancel_stream(id);
  deferrer_.close();
}

const Sensitive& KubeClient::current_token() {
  if (config_.token_file.empty()) return config_.token;
  const uint64_t now = uv_now(loop_);
  if (!token_loaded_ || now - token_read_at_ >= config_.token_refresh_ms) {
    std::string t = read_token_file(config_.token_file);
    if (t.empty()) {
      log::warn(kComponent, "kube_token_file_unreadable", {{"path", config_.token_file}});
    } else {
      file_token_ = Sensitive(std::move(t));
    }
    token_loaded_ = true;
    token_read_at_ = now;
  }
  // The last successfully read file token takes precedence over a static one (client-go).
  return file_token_.empty() ? config_.token : file_token_;
}

HttpRequest KubeClient::base_request(const std::string& method, const std::string& path) {
  HttpRequest req;
  req.method = method;
  req.url = config_.server + path;
  req.tls = config_.tls;
  const Sensitive& token = current_token();
  if (!token.empty()) {
    req.headers.emplace_back("Authorization", "Bearer " + std::string(token.view()));
  }
  req.headers.emplace_back("Accept", "application/json");
  req.headers.emplace_back("User-Agent", kUserAgent);
  return req;
}

KubeClient::RequestId KubeClient::submit(const std::string& method, const std::string& path,
                                         Sensitive body, const std::string& content_type,
                                         JsonDone done) {
  const RequestId id = next_id_++;
  auto call = std::make_unique<Call>();
  call->method = method;
  call->path = path;
  call->content_type = content_type;
  call->body = std::move(body);
  call->done = std::move(done);
  Call& ref = *call;
  calls_.emplace(id, std::move(call));
  dispatch(id, ref);
  return id;
}

void KubeClient::dispatch(RequestId id, Call& call) {
  HttpRequest req = base_request(call.method, call.path);
  if (!call.content_type.empty()) req.headers.emplace_back("Content-Type", call.content_type);
  if (!call.body.empty()) req.body = call.body.clone();  // kept for a possible retry after 401
  if (is_write(call.method)) ++writes_;
  call.http_id = http_.start(
      std::move(req), [this, id](Result<HttpResponse> r) { on_call_done(id, std::move(r)); });
}

void KubeClient::on_call_done(RequestId id, Result<HttpResponse> result) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  Call& call = *it->second;
  if (result.ok() && result->status == 401) {
    token_loaded_ = false;  // re-read on the next request, whatever happens here
    if (!call.retried && !config_.token_file.empty()) {
      call.retried = true;
      log::info(kComponent, "kube_unauthorized_retry", {{"method", call.method}});
      dispatch(id, call);
      return;
    }
  }
  std::unique_ptr<Call> owned = std::move(it->second);
  calls_.erase(it);
  owned->done(to_json_result(std::move(result)));
}

void KubeClient::cancel(RequestId id) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  http_.cancel(it->second->http_id);
  calls_.erase(it);
}

KubeClient::RequestId KubeClient::get(const std::string& path, JsonDone done) {
  return submit("GET", path, Sensitive(), "", std::move(done));
}

namespace {
Sensitive dump(const nlohmann::json& obj) {
  // replace: invalid UTF-8 must not throw out of here.
  return Sensitive(obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}
}  // namespace

KubeClient::RequestId KubeClient::create(const std::string& collection_path,
                                         const nlohmann::json& obj, JsonDone done) {
  return submit("POST", collection_path, dump(obj), "application/json", std::move(done));
}

KubeClient::RequestId KubeClient::update(const std::string& object_path, const nlohmann::json& obj,
                                         JsonDone done) {
  return submit("PUT", object_path, dump(obj), "application/json", std::move(done));
}

KubeClient::RequestId KubeClient::merge_patch(const std::string& object_path,
                                              const nlohmann::json& patch, JsonDone done) {
  return submit("PATCH", object_path, dump(patch), "application/merge-patch+json", std::move(done));
}

KubeClient::RequestId KubeClient::remove(const std::string& object_path, JsonDone done) {
  return submit("DELETE", object_path, Sensitive(), "", std::move(done));
}

KubeClient::RequestId KubeClient::send(const std::string& method, const std::string& path,
                                       Sensitive body, const std::string& content_type,
                                       JsonDone done) {
  return submit(method, path, std::move(body), content_type, std::move(done));
}

}  // namespace esd::kube
