#include "daemon/http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "daemon/common/log.h"
#include "daemon/http/transfer.h"
#include "daemon/loop/deferrer.h"
#include "daemon/loop/uv_handle.h"

namespace esd {
namespace {

constexpr std::string_view kComponent = "http";

}  // namespace

// The multi/libuv bridge (style-anchors §2). `transfers` is the authority on what is in flight;
// every CURL* in the multi has an entry there. `in_curl` is true while curl_multi_socket_action
// runs (our write/header callbacks, hence on_data/on_headers, run inside it); multi API calls
// that user code makes during that time are queued and applied right after it returns.
struct HttpClient::Impl {
  struct SocketWatch {
    uv_poll_t poll;  // closed with uv_close; the watch deletes itself in the close callback
    Impl* owner;
    curl_socket_t fd;
  };
  struct Posted {  // an error found in start(), delivered on the next loop turn
    Done done;
    Error error;
  };

  explicit Impl(uv_loop_t* l) : loop(l), deferrer(l) {}

  uv_loop_t* loop;
  CURLM* multi = nullptr;
  UvHandle<uv_timer_t> timer;
  Deferrer deferrer;
  std::unordered_map<CURL*, std::unique_ptr<detail::Transfer>> transfers;
  std::unordered_map<TransferId, CURL*> by_id;
  std::unordered_map<TransferId, Posted> posted;
  std::unordered_set<SocketWatch*> watches;
  std::vector<CURL*> pending_add;     // started from inside a curl callback
  std::vector<CURL*> pending_remove;  // cancelled from inside a curl callback
  TransferId next_id = 1;
  uint64_t started = 0;
  bool in_curl = false;
  bool closing = false;           // tearing a multi down: ignore new socket registrations
  bool shutdown_pending = false;  // shutdown() was called from inside a curl callback
  bool shut = false;              // shutdown() ran (or began): start() is a no-op
  bool broken = false;            // no usable multi (init failed): start() fails every request

  bool init_multi();
  void post_error(TransferId id, Done done, Error error);
  void add(CURL* easy);
  void remove(CURL* easy);
  void cancel(TransferId id);
  void socket_action(curl_socket_t fd, int flags);
  void after_curl();
  void drain();
  void fail_all(const Error& error);
  void teardown();
  void close_watch(SocketWatch* w);
  void close_all_watches();

  int on_socket(curl_socket_t fd, int what, SocketWatch* w);
  static int socket_cb(CURL*, curl_socket_t fd, int what, void* self, void* sockp) noexcept;
  static int timer_cb(CURLM*, long timeout_ms, void* self) noexcept;
  static void poll_cb(uv_poll_t* p, int status, int events) noexcept;
  static void uv_timer_cb(uv_timer_t* t) noexcept;
  static void watch_closed_cb(uv_handle_t* h) noexcept;
};

bool HttpClient::Impl::init_multi() {
  multi = curl_multi_init();
  if (multi == nullptr) return false;
  CURLMcode rc = curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::socket_cb);
  if (rc == CURLM_OK) rc = curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
  if (rc == CURLM_OK) rc = curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::timer_cb);
  if (rc == CURLM_OK) rc = curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  // HTTP/2 without multiplexing: one stream per connection (connections are still reused).
  // libcurl 7.88 (Debian 12) stalls multiplexed streams under curl_multi_socket_action: with two
  // concurrent 100 kB GETs to nghttpd, one stopped at 98,304 bytes in about half the runs.
  if (rc == CURLM_OK) rc = curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_NOTHING);
  if (rc != CURLM_OK) {
    curl_multi_cleanup(multi);
    multi = nullptr;
    return false;
  }
  return true;
}

// ---- libcurl -> libuv ------------------------------------------------------------------------

int HttpClient::Impl::socket_cb(CURL*, curl_socket_t fd, int what, void* self,
                                void* sockp) noexcept {
  // `easy` may be an internal handle (connection shutdown): never read its PRIVATE.
  return static_cast<Impl*>(self)->on_socket(fd, what, static_cast<SocketWatch*>(sockp));
}

int HttpClient::Impl::on_socket(curl_socket_t fd, int what, SocketWatch* w) {
  if (what == CURL_POLL_REMOVE) {
    if (w != nullptr) {
      curl_multi_assign(multi, fd, nullptr);
      close_watch(w);
    }
    return 0;
  }
  if (closing) return 0;  // curl_multi_cleanup may ask for POLL_IN on cached connections
  if (w == nullptr) {
    w = new SocketWatch{};
    w->owner = this;
    w->fd = fd;
    const int rc = uv_poll_init_socket(loop, &w->poll, fd);
    if (rc != 0) {
      log::error(kComponent, "uv_poll_init_failed", {{"uv_error", uv_err_name(rc)}});
      delete w;  // never initialised, so not on the loop
      return -1;
    }
    w->poll.data = w;
    watches.insert(w);
    curl_multi_assign(multi, fd, w);
  }
  int events = 0;
  if (what & CURL_POLL_IN) events |= UV_READABLE;
  if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
  const int rc = uv_poll_start(&w->poll, events, &Impl::poll_cb);
  if (rc != 0) {
    log::error(kComponent, "uv_poll_start_failed", {{"uv_error", uv_err_name(rc)}});
    return -1;
  }
  return 0;
}

int HttpClient::Impl::timer_cb(CURLM*, long timeout_ms, void* self) noexcept {
  auto* impl = static_cast<Impl*>(self);
  uv_timer_t* t = impl->timer.get();
  if (t == nullptr) return 0;  // already closed (shutdown)
  if (timeout_ms < 0) {
    uv_timer_stop(t);
    return 0;
  }
  // libuv 1.44: a 0 ms timer started from a timer callback runs in the same pass (#4245).
  const uint64_t ms = static_cast<uint64_t>(std::max(timeout_ms, 1L));
  return uv_timer_start(t, &Impl::uv_timer_cb, ms, 0) == 0 ? 0 : -1;
}

void HttpClient::Impl::uv_timer_cb(uv_timer_t* t) noexcept {
  static_cast<Impl*>(t->data)->socket_action(CURL_SOCKET_TIMEOUT, 0);
}

void HttpClient::Impl::poll_cb(uv_poll_t* p, int status, int events) noexcept {
  auto* w = static_cast<SocketWatch*>(p->data);
  Impl* owner = w->owner;  // copy first: curl may REMOVE (and we close) this watch inside
  const curl_socket_t fd = w->fd;
  int flags = 0;
  if (status < 0) {
    flags = CURL_CSELECT_ERR;
  } else {
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  }
  owner->socket_action(fd, flags);
}

void HttpClient::Impl::close_watch(SocketWatch* w) {
  watches.erase(w);
  uv_poll_stop(&w->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), &Impl::watch_closed_cb);
}

void HttpClient::Impl::watch_closed_cb(uv_handle_t* h) noexcept {
  delete static_cast<SocketWatch*>(h->data);
}

void HttpClient::Impl::close_all_watches() {
  std::vector<SocketWatch*> left(watches.begin(), watches.end());
  for (SocketWatch* w : left) close_watch(w);
}

// ---- driving ---------------------------------------------------------------------------------

void HttpClient::Impl::socket_action(curl_socket_t fd, int flags) {
  if (multi == nullptr || closing) return;
  int running = 0;
  in_curl = true;
  const CURLMcode rc = curl_multi_socket_action(multi, fd, flags, &running);
  in_curl = false;
  if (rc != CURLM_OK) {
    // "The state of all transfers is uncertain": fail them all and start from a fresh multi.
    log::error(kComponent, "curl_multi_failed", {{"curl_code", static_cast<int>(rc)}});
    fail_all(Error(ErrorCode::kTransient, std::string("http: ") + curl_multi_strerror(rc),
                   static_cast<int>(rc)));
    return;
  }
  after_curl();
}

// Applies what user callbacks asked for while curl was on the stack, then delivers completions.
void HttpClient::Impl::after_curl() {
  if (shutdown_pending) {
    teardown();
    return;
  }
  std::vector<CURL*> removes;
  removes.swap(pending_remove);
  for (CURL* easy : removes) remove(easy);
  std::vector<CURL*> adds;
  adds.swap(pending_add);
  for (CURL* easy : adds) add(easy);
  drain();
}

void HttpClient::Impl::drain() {
  int left = 0;
  while (multi != nullptr && !closing) {
    CURLMsg* msg = curl_multi_info_read(multi, &left);
    if (msg == nullptr) break;
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;  // copy: msg dies with remove_handle
    const CURLcode result = msg->data.result;
    curl_multi_remove_handle(multi, easy);
    auto it = transfers.find(easy);
    if (it == transfers.end()) continue;
    std::unique_ptr<detail::Transfer> t = std::move(it->second);
    transfers.erase(it);
    by_id.erase(t->id());
    if (t->killed()) continue;
    Result<HttpResponse> r = t->finish(result);
    Done done = t->take_done();
    t.reset();
    if (done) done(std::move(r));  // may start, cancel or shut down
  }
}

void HttpClient::Impl::add(CURL* easy) {
  auto it = transfers.find(easy);
  if (it == transfers.end()) return;  // cancelled before it was added
  const CURLMcode rc = curl_multi_add_handle(multi, easy);
  if (rc == CURLM_OK) return;
  std::unique_ptr<detail::Transfer> t = std::move(it->second);
  transfers.erase(it);
  by_id.erase(t->id());
  post_error(t->id(), t->take_done(),
             Error(ErrorCode::kInternal, std::string("http: ") + curl_multi_strerror(rc),
                   static_cast<int>(rc)));
}

// Removes a transfer without any callback. Safe for a transfer that was never added.
void HttpClient::Impl::remove(CURL* easy) {
  auto it = transfers.find(easy);
  if (it == transfers.end()) return;
  if (multi != nullptr) curl_multi_remove_handle(multi, easy);
  by_id.erase(it->second->id());
  transfers.erase(it);
}

void HttpClient::Impl::cancel(TransferId id) {
  posted.erase(id);
  auto it = by_id.find(id);
  if (it == by_id.end()) return;
  CURL* easy = it->second;
  auto t = transfers.find(easy);
  if (t != transfers.end()) t->second->kill();
  if (in_curl) {
    // curl is on the stack (this is on_data or on_headers): removing now would be a recursive
    // API call. The killed transfer stays silent until after_curl() removes it.
    pending_remove.push_back(easy);
    return;
  }
  remove(easy);
}

void HttpClient::Impl::post_error(TransferId id, Done done, Error error) {
  posted.emplace(id, Posted{std::move(done), std::move(error)});
  deferrer.post([this, id] {
    auto it = posted.find(id);
    if (it == posted.end()) return;  // cancelled meanwhile
    Posted p = std::move(it->second);
    posted.erase(it);
    if (p.done) p.done(std::move(p.error));
  });
}

void HttpClient::Impl::fail_all(const Error& error) {
  std::vector<std::unique_ptr<detail::Transfer>> failed;
  for (auto& [easy, t] : transfers) {
    curl_multi_remove_handle(multi, easy);
    failed.push_back(std::move(t));
  }
  transfers.clear();
  by_id.clear();
  pending_add.clear();
  pending_remove.clear();
  closing = true;  // curl_multi_cleanup must not register new sockets
  curl_multi_cleanup(multi);
  multi = nullptr;
  close_all_watches();
  closing = false;
  if (!init_multi()) broken = true;
  for (auto& t : failed) {
    if (!t->killed()) post_error(t->id(), t->take_done(), error);
  }
}

// Style §2.4: drop every transfer silently, clean up the multi (its socket callbacks close the
// watches), close whatever watch is left, then the timer and the deferrer.
void HttpClient::Impl::teardown() {
  closing = true;
  shutdown_pending = false;
  if (multi != nullptr) {
    for (auto& [easy, t] : transfers) curl_multi_remove_handle(multi, easy);
  }
  transfers.clear();
  by_id.clear();
  posted.clear();
  pending_add.clear();
  pending_remove.clear();
  if (multi != nullptr) {
    curl_multi_cleanup(multi);
    multi = nullptr;
  }
  close_all_watches();
  timer.close();
  deferrer.close();
}

// ---- public API ------------------------------------------------------------------------------

HttpClient::HttpClient(uv_loop_t* loop) : impl_(std::make_unique<Impl>(loop)) {
  const int rc = uv_timer_init(loop, impl_->timer.get());
  if (rc == 0) {
    impl_->timer.mark_initialized();
    impl_->timer.get()->data = impl_.get();
  }
  if (rc != 0 || !impl_->init_multi()) {
    log::error(kComponent, "http_client_init_failed", {{"uv_error", rc}});
    impl_->broken = true;  // every start() then fails through its callback
  }
}

HttpClient::~HttpClient() { shutdown(); }

TransferId HttpClient::start(HttpRequest req, Done done) {
  Impl& m = *impl_;
  if (m.shut) return 0;  // after shutdown nothing is started and nothing is delivered
  const TransferId id = m.next_id++;
  ++m.started;
  if (m.broken) {
    m.post_error(id, std::move(done), Error(ErrorCode::kInternal, "http: client unusable"));
    return id;
  }
  auto t = detail::Transfer::create(id, std::move(req));
  if (!t) {
    m.post_error(id, std::move(done), std::move(t).error());
    return id;
  }
  (*t)->set_done(std::move(done));
  CURL* easy = (*t)->easy();
  m.by_id.emplace(id, easy);
  m.transfers.emplace(easy, std::move(*t));
  if (m.in_curl) {
    m.pending_add.push_back(easy);
  } else {
    m.add(easy);
  }
  return id;
}

void HttpClient::cancel(TransferId id) { impl_->cancel(id); }

void HttpClient::shutdown() {
  Impl& m = *impl_;
  if (m.shut) return;
  m.shut = true;
  if (m.in_curl) {
    // Called from on_data/on_headers: silence everything now, tear down once curl returns.
    m.shutdown_pending = true;
    for (auto& [easy, t] : m.transfers) t->kill();
    m.posted.clear();
    return;
  }
  m.teardown();
}

size_t HttpClient::in_flight() const { return impl_->transfers.size() + impl_->posted.size(); }

uint64_t HttpClient::requests_started() const { return impl_->started; }

}  // namespace esd
