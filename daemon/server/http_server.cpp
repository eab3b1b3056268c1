#include "daemon/server/http_server.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <map>
#include <unordered_set>
#include <vector>

#include "daemon/common/log.h"
#include "daemon/loop/uv_handle.h"
#include "daemon/server/http_wire.h"

namespace esd {
namespace {

constexpr std::string_view kComponent = "http_server";
constexpr size_t kMaxConnections = 64;
constexpr int kBacklog = 128;

Error listen_error(const std::string& what, int rc = 0) {
  std::string msg = "metrics listen: " + what;
  if (rc != 0) msg += std::string(": ") + uv_strerror(rc);
  return Error(ErrorCode::kInvalidConfig, std::move(msg), rc);
}

}  // namespace

struct HttpServer::Impl {
  // One accepted connection. It embeds its tcp and timer handles and deletes itself once both
  // close callbacks have run; `owner` is null once closing is set (the server may be gone).
  struct Conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    Impl* owner = nullptr;
    std::string in;
    std::string out;       // the response head (or all of a short response)
    std::string out_body;  // a handler's body, sent as is: uv_write reads both until on_written
    int open_handles = 0;
    bool responded = false;
    bool closing = false;
  };

  explicit Impl(uv_loop_t* l) : loop(l) {}

  uv_loop_t* loop;
  UvHandle<uv_tcp_t> listener;
  bool listening = false;
  int port = 0;
  uint64_t request_ms = 10'000;  // the whole request head must arrive by then
  uint64_t linger_ms = 2'000;    // wait for the peer's FIN after our response
  std::map<std::string, decltype(HttpRoute::handler), std::less<>> routes;
  std::unordered_set<Conn*> conns;

  Status bind_and_listen(const sockaddr* addr);
  void accept_one();
  void on_data(Conn* c);
  void handle(Conn* c, const detail::RequestHead& head);
  void respond(Conn* c, std::string bytes, std::string body = {});
  void close_conn(Conn* c);

  static void on_connection(uv_stream_t* s, int status) noexcept;
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) noexcept;
  static void on_written(uv_write_t* req, int status) noexcept;
  static void on_shutdown(uv_shutdown_t* req, int status) noexcept;
  static void on_deadline(uv_timer_t* t) noexcept;
  static void on_conn_handle_closed(uv_handle_t* h) noexcept;
};

namespace {

// "HOST:PORT", "[V6]:PORT" or ":PORT" (all interfaces) into a socket address.
Result<sockaddr_storage> resolve(uv_loop_t* loop, const std::string& addr) {
  std::string host;
  std::string port;
  if (!addr.empty() && addr.front() == '[') {
    const size_t close = addr.find("]:");
    if (close == std::string::npos) return listen_error("bad address " + addr);
    host = addr.substr(1, close - 1);
    port = addr.substr(close + 2);
  } else {
    const size_t colon = addr.rfind(':');
    if (colon == std::string::npos) return listen_error("bad address " + addr);
    host = addr.substr(0, colon);
    port = addr.substr(colon + 1);
  }
  int port_num = -1;
  const auto pr = std::from_chars(port.data(), port.data() + port.size(), port_num);
  if (port.empty() || pr.ec != std::errc() || pr.ptr != port.data() + port.size() || port_num < 0 ||
      port_num > 65535) {
    return listen_error("bad port in " + addr);
  }
  if (host.empty()) host = "0.0.0.0";
  sockaddr_storage out{};
  if (uv_ip4_addr(host.c_str(), port_num, reinterpret_cast<sockaddr_in*>(&out)) == 0) return out;
  if (uv_ip6_addr(host.c_str(), port_num, reinterpret_cast<sockaddr_in6*>(&out)) == 0) return out;
  // A host name (e.g. localhost): resolved synchronously, once, at startup.
  uv_getaddrinfo_t req;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const int rc = uv_getaddrinfo(loop, &req, nullptr, host.c_str(), port.c_str(), &hints);
  if (rc != 0 || req.addrinfo == nullptr) return listen_error("cannot resolve " + host, rc);
  std::memcpy(&out, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
  uv_freeaddrinfo(req.addrinfo);
  return out;
}

}  // namespace

Status HttpServer::Impl::bind_and_listen(const sockaddr* addr) {
  int rc = uv_tcp_init(loop, listener.get());
  if (rc != 0) return listen_error("tcp init", rc);
  listener.mark_initialized();
  listener.get()->data = this;
  rc = uv_tcp_bind(listener.get(), addr, 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener.get()), kBacklog, &Impl::on_connection);
  }
  if (rc != 0) return listen_error("bind", rc);
  sockaddr_storage bound{};
  int len = sizeof(bound);
  rc = uv_tcp_getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound), &len);
  if (rc != 0) return listen_error("getsockname", rc);
  port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listening = true;
  return ok_status();
}

void HttpServer::Impl::on_connection(uv_stream_t* s, int status) noexcept {
  auto* self = static_cast<Impl*>(s->data);
  if (status < 0) {
    log::warn(kComponent, "accept_failed", {{"uv_error", uv_err_name(status)}});
    return;
  }
  self->accept_one();
}

void HttpServer::Impl::accept_one() {
  auto* c = new Conn();
  c->owner = this;
  uv_tcp_init(loop, &c->tcp);  // cannot fail on Unix for AF_UNSPEC
  uv_timer_init(loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->open_handles = 2;
  conns.insert(c);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listener.get()),
                reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0 ||
      conns.size() > kMaxConnections) {
    close_conn(c);  // over the limit: accept and drop, so the backlog does not fill up
    return;
  }
  uv_timer_start(&c->timer, &Impl::on_deadline, request_ms, 0);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), &Impl::on_alloc, &Impl::on_read);
}

void HttpServer::Impl::on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) noexcept {
  static char scratch[4096];  // single thread; data is copied out in on_read at once
  buf->base = scratch;
  buf->len = sizeof(scratch);
}

void HttpServer::Impl::on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) noexcept {
  auto* c = static_cast<Conn*>(s->data);
  if (c->closing) return;
  if (n < 0) {  // EOF or error: nothing more to say to this peer
    c->owner->close_conn(c);
    return;
  }
  if (c->responded || n == 0) return;  // after the response, input is read and dropped
  c->in.append(buf->base, static_cast<size_t>(n));
  c->owner->on_data(c);
}

void HttpServer::Impl::on_data(Conn* c) {
  const detail::RequestHead head = detail::parse_request_head(c->in);
  switch (head.state) {
    case detail::RequestHead::State::kIncomplete:
      return;
    case detail::RequestHead::State::kTooLarge:
      respond(c, detail::format_response(431, "text/plain", "request head too large\n", false));
      return;
    case detail::RequestHead::State::kBad:
      respond(c, detail::format_response(400, "text/plain", "bad request\n", false));
      return;
    case detail::RequestHead::State::kComplete:
      handle(c, head);
      return;
  }
}

void HttpServer::Impl::handle(Conn* c, const detail::RequestHead& head) {
  const bool head_only = head.method == "HEAD";
  if (head.method != "GET" && !head_only) {
    respond(c, detail::format_response(405, "text/plain", "method not allowed\n", false,
                                       "Allow: GET, HEAD\r\n"));
    return;
  }
  auto route = routes.find(head.path);
  if (route == routes.end() || !route->second) {
    respond(c, detail::format_response(404, "text/plain", "not found\n", head_only));
    return;
  }
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  try {
    route->second(status, content_type, body);
  } catch (...) {  // a handler bug must not take the process down through a libuv callback
    status = 500;
    content_type = "text/plain";
    body = "internal error\n";
  }
  if (c->closing) return;
  // The body (the metrics page can be megabytes) is not copied into the head.
  std::string head_bytes = detail::format_head(status, content_type, body.size());
  if (head_only) body.clear();
  respond(c, std::move(head_bytes), std::move(body));
}

void HttpServer::Impl::respond(Conn* c, std::string bytes, std::string body) {
  c->responded = true;
  c->in.clear();
  c->out = std::move(bytes);
  c->out_body = std::move(body);
  uv_buf_t bufs[2] = {uv_buf_init(c->out.data(), static_cast<unsigned>(c->out.size())),
                      uv_buf_init(c->out_body.data(), static_cast<unsigned>(c->out_body.size()))};
  c->write_req.data = c;
  if (uv_write(&c->write_req, reinterpret_cast<uv_stream_t*>(&c->tcp), bufs,
               c->out_body.empty() ? 1 : 2, &Impl::on_written) != 0) {
    close_conn(c);
  }
}

void HttpServer::Impl::on_written(uv_write_t* req, int status) noexcept {
  auto* c = static_cast<Conn*>(req->data);
  if (c->closing) return;  // cancelled by close
  c->shutdown_req.data = c;
  if (status < 0 || uv_shutdown(&c->shutdown_req, reinterpret_cast<uv_stream_t*>(&c->tcp),
                                &Impl::on_shutdown) != 0) {
    c->owner->close_conn(c);
  }
}

// Our FIN is out. Closing now could turn unread input into an RST that destroys the response
// before the peer reads it, so wait (bounded) for the peer to close first.
void HttpServer::Impl::on_shutdown(uv_shutdown_t* req, int status) noexcept {
  auto* c = static_cast<Conn*>(req->data);
  if (c->closing) return;
  if (status < 0) {
    c->owner->close_conn(c);
    return;
  }
  uv_timer_start(&c->timer, &Impl::on_deadline, c->owner->linger_ms, 0);
}

void HttpServer::Impl::on_deadline(uv_timer_t* t) noexcept {
  auto* c = static_cast<Conn*>(t->data);
  if (!c->closing) c->owner->close_conn(c);
}

void HttpServer::Impl::close_conn(Conn* c) {
  if (c->closing) return;
  c->closing = true;
  conns.erase(c);
  c->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &Impl::on_conn_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), &Impl::on_conn_handle_closed);
}

void HttpServer::Impl::on_conn_handle_closed(uv_handle_t* h) noexcept {
  auto* c = static_cast<Conn*>(h->data);
  if (--c->open_handles == 0) delete c;
}

// ---- public API ------------------------------------------------------------------------------

HttpServer::HttpServer(uv_loop_t* loop) : impl_(std::make_unique<Impl>(loop)) {}

HttpServer::~HttpServer() { close(); }

void HttpServer::add_route(HttpRoute route) {
  impl_->routes[route.path] = std::move(route.handler);
}

Status HttpServer::listen(const std::string& addr) {
  if (impl_->listening) return listen_error("already listening");
  auto resolved = resolve(impl_->loop, addr);
  if (!resolved) return std::move(resolved).error();
  Status s = impl_->bind_and_listen(reinterpret_cast<const sockaddr*>(&resolved.value()));
  if (!s) {
    impl_->listener = UvHandle<uv_tcp_t>();  // closes the failed one; a retry gets a fresh handle
    return s;
  }
  log::info(kComponent, "http_server_listening", {{"port", impl_->port}});
  return s;
}

int HttpServer::port() const { return impl_->port; }

size_t HttpServer::open_connections() const { return impl_->conns.size(); }

void HttpServer::set_timeouts(uint64_t request_ms, uint64_t linger_ms) {
  impl_->request_ms = request_ms;
  impl_->linger_ms = linger_ms;
}

void HttpServer::close() {
  impl_->listener.close();
  impl_->listening = false;
  std::vector<Impl::Conn*> all(impl_->conns.begin(), impl_->conns.end());
  for (Impl::Conn* c : all) impl_->close_conn(c);
}

}  // namespace esd
