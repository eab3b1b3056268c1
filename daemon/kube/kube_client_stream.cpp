// KubeClient's streaming GET (watches). Bytes arrive inside libcurl's write callback, where no
// user code may run (it could start or cancel transfers); they are only buffered there, and the
// complete lines are handed out from a Deferrer turn. The end of the transfer is queued behind
// them, so `done` always follows the last line.
#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

#include "daemon/kube/kube_client.h"

namespace esd::kube {
namespace {
constexpr size_t kMaxErrorBody = 64 << 10;
}  // namespace

struct KubeClient::Stream {
  RequestId id = 0;
  TransferId http_id = 0;
  std::function<void(std::string_view)> on_line;
  std::function<void(Status)> done;
  long status = 0;
  std::string buffer;      // bytes not delivered yet: complete lines, then a partial tail
  size_t tail = 0;         // length of the partial tail (bytes after the last '\n')
  std::string error_body;  // non-200 responses: the body so far, capped
  std::optional<Status> final;
  bool http_done = false;
  bool too_large = false;
  bool pump_posted = false;
  bool cancelled = false;
};

TransferId KubeClient::stream(const std::string& path,
                              std::function<void(std::string_view line)> on_line,
                              std::function<void(Status)> done) {
  auto st = std::make_shared<Stream>();
  st->id = next_id_++;
  st->on_line = std::move(on_line);
  st->done = std::move(done);
  HttpRequest req = base_request("GET", path);
  req.timeout_ms = 0;
  // The per-line cap below bounds memory; the stream as a whole may run for hours.
  req.max_response_bytes = std::numeric_limits<size_t>::max();
  req.on_headers = [st](long status) { st->status = status; };
  req.on_data = [this, st](std::string_view chunk) { return on_stream_data(st, chunk); };
  streams_.emplace(st->id, st);
  st->http_id = http_.start(
      std::move(req), [this, st](Result<HttpResponse> r) { on_stream_done(st, std::move(r)); });
  return st->id;
}

bool KubeClient::on_stream_data(const std::shared_ptr<Stream>& st, std::string_view chunk) {
  if (st->cancelled) return false;
  if (st->status != 200) {
    const size_t room = kMaxErrorBody - std::min(kMaxErrorBody, st->error_body.size());
    st->error_body.append(chunk.substr(0, room));
    return true;
  }
  const size_t nl = chunk.rfind('\n');
  st->tail = nl == std::string_view::npos ? st->tail + chunk.size() : chunk.size() - nl - 1;
  if (st->tail > kMaxLineBytes) {
    st->too_large = true;
    return false;  // aborts the transfer; on_stream_done reports kTooLarge
  }
  st->buffer.append(chunk);
  if (nl != std::string_view::npos) post_pump(st);
  return true;
}

void KubeClient::on_stream_done(const std::shared_ptr<Stream>& st, Result<HttpResponse> r) {
  st->http_done = true;
  if (st->cancelled) return;
  if (st->too_large) {
    st->final = Error(ErrorCode::kTooLarge, "kube: watch event larger than 16 MiB");
  } else if (!r) {
    st->final = std::move(r).error();
  } else {
    const long status = st->status != 0 ? st->status : r->status;
    if (status == 200) {
      st->final = ok_status();
    } else {
      if (status == 401) token_loaded_ = false;
      const std::string body =
          st->error_body.empty() ? std::string(r->body.view()) : st->error_body;
      st->final = classify_status(status, body, r->header("retry-after"));
    }
  }
  post_pump(st);
}

void KubeClient::post_pump(const std::shared_ptr<Stream>& st) {
  if (st->pump_posted) return;
  st->pump_posted = true;
  deferrer_.post([this, id = st->id] { pump(id); });
}

void KubeClient::pump(RequestId id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  const std::shared_ptr<Stream> st = it->second;  // on_line may cancel (and erase) the stream
  st->pump_posted = false;
  size_t pos = 0;
  while (!st->cancelled) {
    const size_t nl = st->buffer.find('\n', pos);
    if (nl == std::string::npos) break;
    std::string_view line(st->buffer.data() + pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) st->on_line(line);
  }
  if (st->cancelled) return;
  st->buffer.erase(0, pos);
  if (!st->final) return;
  streams_.erase(id);
  auto done = std::move(st->done);
  done(std::move(*st->final));
}

void KubeClient::cancel_stream(TransferId id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  const std::shared_ptr<Stream> st = it->second;
  st->cancelled = true;
  if (!st->http_done) http_.cancel(st->http_id);
  streams_.erase(it);
}

}  // namespace esd::kube
