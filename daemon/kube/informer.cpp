#include "daemon/kube/informer.h"

#include <curl/curl.h>

#include <algorithm>
#include <optional>
#include <random>
#include <utility>

#include "daemon/common/log.h"
#include "daemon/loop/uv_handle.h"

namespace esd::kube {
namespace {

using nlohmann::json;

constexpr const char* kComponent = "informer";
constexpr int64_t kBackoffStartMs = 200;
constexpr int64_t kBackoffMaxMs = 30'000;

std::string url_escape(const std::string& s) {
  // The handle argument is ignored since curl 7.82.
  char* out = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
  if (out == nullptr) return {};
  std::string r(out);
  curl_free(out);
  return r;
}

std::string string_at(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string resource_version_of(const json& obj) {
  auto meta = obj.find("metadata");
  return meta != obj.end() && meta->is_object() ? string_at(*meta, "resourceVersion") : "";
}

// Built-in list items carry no kind/apiVersion; fill them from the list so handlers see the
// same shape as in watch events.
void fill_kind(json& item, const std::string& list_kind, const std::string& api_version) {
  if (!item.contains("kind") && list_kind.size() > 4 &&
      list_kind.compare(list_kind.size() - 4, 4, "List") == 0) {
    item["kind"] = list_kind.substr(0, list_kind.size() - 4);
  }
  if (!item.contains("apiVersion") && !api_version.empty()) item["apiVersion"] = api_version;
}

}  // namespace

struct Informer::Impl {
  enum class Next { kList, kWatch };

  Impl(uv_loop_t* l, KubeClient& c, InformerOptions o, InformerHandler h)
      : loop(l),
        client(c),
        opts(std::move(o)),
        handler(std::move(h)),
        rng(std::random_device{}()) {}

  uv_loop_t* loop;
  KubeClient& client;
  InformerOptions opts;
  InformerHandler handler;
  std::optional<UvHandle<uv_timer_t>> timer;     // retries; exists between start() and stop()
  std::optional<UvHandle<uv_timer_t>> deadline;  // a watch outliving its timeoutSeconds
  Next next = Next::kList;
  bool running = false;
  bool synced = false;
  bool first_page = true;
  bool watch_got_line = false;
  uint64_t gen = 0;  // bumped by start/stop: stale work checks it after each handler call
  uint64_t relists = 0;
  uint64_t watches = 0;
  std::string rv;       // resume point: list RV, then the last event/bookmark RV
  std::string list_rv;  // the RV of the list in progress
  std::string continue_token;
  KubeClient::RequestId list_req = 0;
  TransferId watch_id = 0;
  int64_t backoff_ms = 0;
  std::mt19937_64 rng;

  bool alive(uint64_t g) const { return running && g == gen; }
  char sep() const { return opts.collection_path.find('?') == std::string::npos ? '?' : '&'; }

  void start();
  void stop();
  void start_list();
  void request_page();
  void on_page(Result<json> r);
  void on_list_error(const Error& e);
  void start_watch();
  void on_watch_line(std::string_view line);
  void on_watch_error_event(const json& status);
  void on_watch_done(Status s);
  void drop_watch();
  void retry_later(Next what, int64_t hint_ms = -1);
  void on_timer();
  void on_deadline();
  bool init_timer(std::optional<UvHandle<uv_timer_t>>& t);
  static void on_timer_cb(uv_timer_t* t) noexcept { static_cast<Impl*>(t->data)->on_timer(); }
  static void on_deadline_cb(uv_timer_t* t) noexcept { static_cast<Impl*>(t->data)->on_deadline(); }
};

bool Informer::Impl::init_timer(std::optional<UvHandle<uv_timer_t>>& t) {
  t.emplace();
  if (uv_timer_init(loop, t->get()) != 0) {
    t.reset();
    return false;
  }
  t->mark_initialized();
  t->get()->data = this;
  return true;
}

void Informer::Impl::start() {
  if (running) return;
  if (!init_timer(timer) || !init_timer(deadline)) {
    // Cannot happen for a live loop; without timers there would be no retries.
    log::error(kComponent, "informer_timer_init_failed", {{"path", opts.collection_path}});
    timer.reset();
    deadline.reset();
    return;
  }
  running = true;
  ++gen;
  start_list();
}

void Informer::Impl::stop() {
  if (!running) return;
  running = false;
  ++gen;
  if (list_req != 0) client.cancel(std::exchange(list_req, 0));
  drop_watch();
  timer.reset();  // uv_close; memory freed in the close callback
  deadline.reset();
}

void Informer::Impl::start_list() {
  continue_token.clear();
  first_page = true;
  request_page();
}

void Informer::Impl::request_page() {
  std::string path = opts.collection_path + sep();
  if (!opts.label_selector.empty())
    path += "labelSelector=" + url_escape(opts.label_selector) + "&";
  path += "limit=" + std::to_string(std::max(1, opts.page_limit));
  if (!continue_token.empty()) path += "&continue=" + url_escape(continue_token);
  list_req = client.get(path, [this](Result<json> r) {
    list_req = 0;
    on_page(std::move(r));
  });
}

void Informer::Impl::on_page(Result<json> r) {
  if (r.ok() && !(r->is_object() && r->contains("items") &&
                  ((*r)["items"].is_array() || (*r)["items"].is_null()))) {
    r = Error(ErrorCode::kTransient, "kube: list response has no items");
  }
  if (!r) {
    on_list_error(r.error());
    return;
  }
  json& list = r.value();
  const uint64_t g = gen;
  const std::string kind = string_at(list, "kind");
  const std::string api_version = string_at(list, "apiVersion");
  const std::string cont = list.contains("metadata") && list["metadata"].is_object()
                               ? string_at(list["metadata"], "continue")
                               : "";
  if (first_page) {
    first_page = false;
    list_rv = resource_version_of(list);
    if (handler.on_relist_begin) handler.on_relist_begin();
    if (!alive(g)) return;
  }
  if (list["items"].is_array()) {
    for (json& item : list["items"]) {
      fill_kind(item, kind, api_version);
      if (handler.on_event) handler.on_event(EventType::kAdded, item);
      if (!alive(g)) return;
    }
  }
  if (!cont.empty()) {
    continue_token = cont;
    request_page();
    return;
  }
  continue_token.clear();
  rv = list_rv;
  synced = true;
  ++relists;
  backoff_ms = 0;
  if (handler.on_synced) handler.on_synced();
  if (alive(g)) start_watch();
}

void Informer::Impl::on_list_error(const Error& e) {
  if (e.code == ErrorCode::kGone && !continue_token.empty()) {
    // The continue token expired between pages: start over without it (a new snapshot).
    log::info(kComponent, "informer_continue_expired", {{"path", opts.collection_path}});
    start_list();
    return;
  }
  log::warn(kComponent, "informer_list_failed", {{"path", opts.collection_path}, {"error", e}});
  retry_later(Next::kList, e.retry_after_ms);
}

void Informer::Impl::start_watch() {
  ++watches;
  watch_got_line = false;
  const int t = std::max(1, opts.watch_timeout_s);
  const int timeout = t + static_cast<int>(rng() % static_cast<uint64_t>(t + 1));
  std::string path = opts.collection_path + sep() + "watch=1&allowWatchBookmarks=true";
  if (!rv.empty()) path += "&resourceVersion=" + url_escape(rv);
  path += "&timeoutSeconds=" + std::to_string(timeout);
  if (!opts.label_selector.empty()) path += "&labelSelector=" + url_escape(opts.label_selector);
  watch_id = client.stream(
      path, [this](std::string_view line) { on_watch_line(line); },
      [this](Status s) {
        watch_id = 0;
        uv_timer_stop(deadline->get());
        on_watch_done(std::move(s));
      });
  // The server ends the stream after `timeout` seconds. If it is still open well after that,
  // the connection is dead without us being told (no RST): replace it.
  const uint64_t ms = static_cast<uint64_t>(timeout + std::max(1, opts.watch_grace_s)) * 1000;
  const int rc = uv_timer_start(deadline->get(), &Impl::on_deadline_cb, ms, 0);
  if (rc != 0) log::error(kComponent, "informer_timer_start_failed", {{"uv_error", rc}});
}

void Informer::Impl::on_watch_line(std::string_view line) {
  json ev = json::parse(line.begin(), line.end(), nullptr, false);
  auto obj = ev.is_object() ? ev.find("object") : ev.end();
  if (ev.is_discarded() || !ev.is_object() || obj == ev.end() || !obj->is_object()) {
    // Something is wrong with the stream; resume from the last good RV.
    log::warn(kComponent, "informer_bad_watch_event", {{"path", opts.collection_path}});
    drop_watch();
    retry_later(Next::kWatch);
    return;
  }
  watch_got_line = true;
  backoff_ms = 0;
  const std::string type = string_at(ev, "type");
  if (type == "ERROR") {
    on_watch_error_event(*obj);
    return;
  }
  if (std::string obj_rv = resource_version_of(*obj); !obj_rv.empty()) rv = std::move(obj_rv);
  EventType t;
  if (type == "ADDED") {
    t = EventType::kAdded;
  } else if (type == "MODIFIED") {
    t = EventType::kModified;
  } else if (type == "DELETED") {
    t = EventType::kDeleted;
  } else {
    return;  // BOOKMARK (RV checkpoint only) or an unknown type
  }
  if (handler.on_event) handler.on_event(t, *obj);
}

void Informer::Impl::on_watch_error_event(const json& status) {
  auto code_it = status.find("code");
  const long code =
      code_it != status.end() && code_it->is_number_integer() ? code_it->get<long>() : 500;
  const Error e =
      classify_status(code, status.dump(-1, ' ', false, json::error_handler_t::replace), "");
  drop_watch();
  if (e.code == ErrorCode::kGone) {
    log::info(kComponent, "informer_watch_expired", {{"path", opts.collection_path}});
    start_list();
    return;
  }
  log::warn(kComponent, "informer_watch_error", {{"path", opts.collection_path}, {"error", e}});
  retry_later(Next::kWatch, e.retry_after_ms);
}

void Informer::Impl::on_watch_done(Status s) {
  if (s.ok()) {
    // The server's timeoutSeconds elapsed: resume at once. A stream that ended without a single
    // line gets the backoff instead, so a server that closes at once cannot make us spin.
    if (watch_got_line) {
      start_watch();
    } else {
      retry_later(Next::kWatch);
    }
    return;
  }
  const Error& e = s.error();
  if (e.code == ErrorCode::kGone) {
    log::info(kComponent, "informer_watch_expired", {{"path", opts.collection_path}});
    start_list();
    return;
  }
  log::warn(kComponent, "informer_watch_failed", {{"path", opts.collection_path}, {"error", e}});
  retry_later(Next::kWatch, e.retry_after_ms);
}

void Informer::Impl::drop_watch() {
  if (watch_id != 0) client.cancel_stream(std::exchange(watch_id, 0));
  if (deadline) uv_timer_stop(deadline->get());
}

void Informer::Impl::on_deadline() {
  if (!running || watch_id == 0) return;
  log::warn(kComponent, "informer_watch_stalled", {{"path", opts.collection_path}});
  drop_watch();
  start_watch();
}

void Informer::Impl::retry_later(Next what, int64_t hint_ms) {
  if (!running || !timer) return;
  backoff_ms = next_retry_backoff_ms(backoff_ms);
  int64_t delay = jittered_retry_delay_ms(backoff_ms, rng());
  delay = std::max(delay, std::min(hint_ms, kBackoffMaxMs));
  next = what;
  const int rc = uv_timer_start(timer->get(), &Impl::on_timer_cb, static_cast<uint64_t>(delay), 0);
  if (rc != 0) log::error(kComponent, "informer_timer_start_failed", {{"uv_error", rc}});
}

void Informer::Impl::on_timer() {
  if (!running) return;
  if (next == Next::kList) {
    start_list();
  } else {
    start_watch();
  }
}

Informer::Informer(uv_loop_t* loop, KubeClient& client, InformerOptions opts,
                   InformerHandler handler)
    : impl_(std::make_unique<Impl>(loop, client, std::move(opts), std::move(handler))) {}

Informer::~Informer() { impl_->stop(); }

void Informer::start() { impl_->start(); }
void Informer::stop() { impl_->stop(); }
bool Informer::synced() const { return impl_->synced; }
uint64_t Informer::relists() const { return impl_->relists; }
int64_t next_retry_backoff_ms(int64_t previous_ms) {
  return previous_ms <= 0 ? kBackoffStartMs : std::min(previous_ms * 2, kBackoffMaxMs);
}

int64_t jittered_retry_delay_ms(int64_t backoff_ms, uint64_t random) {
  const int64_t half = backoff_ms / 2;
  return half + static_cast<int64_t>(random % static_cast<uint64_t>(half + 1));
}

uint64_t Informer::watches() const { return impl_->watches; }
const std::string& Informer::resource_version() const { return impl_->rv; }

}  // namespace esd::kube
