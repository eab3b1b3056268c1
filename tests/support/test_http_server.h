// TestHttpServer: a scriptable HTTP/1.1 server for tests, on the test's own uv loop, bound to
// 127.0.0.1:0 (header-only; include "support/test_http_server.h"). A handler decides per request
// whether to answer, hang, reset, truncate, or start a chunked stream that the test then
// feeds with send_chunk()/end_stream(). It records every request and counts connections, so
// tests can assert what the client sent and whether it reused connections. Keep-alive is on.
// Owned by the test; call close() (or destroy it) before draining the loop.
#pragma once

#include <uv.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace esd::test {

struct TestRequest {
  std::string method;
  std::string target;                          // path and query as sent
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // Content-Length bodies only
  int connection = 0;                          // id of the connection it came on
};

struct TestReply {
  // kPartial: headers announce twice the body's length, the body follows, then the server
  // closes the connection (a truncated response).
  enum class Action { kRespond, kHang, kReset, kStream, kPartial };
  Action action = Action::kRespond;
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool close = false;  // send "Connection: close" and close after the response
};

class TestHttpServer {
 public:
  using Handler = std::function<TestReply(const TestRequest&)>;

  TestHttpServer(uv_loop_t* loop, Handler handler) : loop_(loop), handler_(std::move(handler)) {
    listener_ = new uv_tcp_t();
    uv_tcp_init(loop_, listener_);
    listener_->data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_bind(listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
    uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 128, &TestHttpServer::on_connection);
    sockaddr_storage bound{};
    int len = sizeof(bound);
    uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  ~TestHttpServer() { close(); }
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  const std::vector<TestRequest>& requests() const { return requests_; }
  int connections_accepted() const { return accepted_; }
  int connections_closed() const { return closed_; }
  int open_connections() const { return static_cast<int>(conns_.size()); }

  // Answers a request that the handler left hanging (kHang).
  void respond(int connection, const TestReply& reply) {
    if (Conn* c = find(connection)) send_reply(c, reply);
  }
  // Feeds a stream started with kStream (one HTTP chunk per call).
  void send_chunk(int connection, const std::string& data) {
    if (data.empty()) return;
    char size[32];
    std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
    if (Conn* c = find(connection)) write(c, size + data + "\r\n", false);
  }
  void end_stream(int connection) {
    if (Conn* c = find(connection)) write(c, "0\r\n\r\n", false);
  }
  // Closes a connection with a TCP RST.
  void reset(int connection) {
    if (Conn* c = find(connection)) close_conn(c, true);
  }

  void close() {
    if (listener_ != nullptr) {
      uv_close(reinterpret_cast<uv_handle_t*>(listener_),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
      listener_ = nullptr;
    }
    std::vector<Conn*> all;
    for (auto& [id, c] : conns_) all.push_back(c);
    for (Conn* c : all) close_conn(c, false);
  }

 private:
  struct Conn {
    uv_tcp_t tcp;
    TestHttpServer* server = nullptr;
    int id = 0;
    std::string in;
    bool parked = false;   // hanging or streaming: no more parsing on this connection
    bool closing = false;  // uv_close called; the server may already be gone
  };
  struct WriteReq {
    uv_write_t req;
    std::string data;
    Conn* conn = nullptr;  // alive until its close callback, which runs after ours
    bool close_after = false;
  };

  Conn* find(int id) {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : it->second;
  }

  static void on_connection(uv_stream_t* listener, int status) {
    auto* self = static_cast<TestHttpServer*>(listener->data);
    if (status < 0) return;
    auto* c = new Conn();
    c->server = self;
    c->id = ++self->next_id_;
    uv_tcp_init(self->loop_, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &TestHttpServer::on_closed);
      return;
    }
    ++self->accepted_;
    self->conns_[c->id] = c;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), &TestHttpServer::on_alloc,
                  &TestHttpServer::on_read);
  }

  static void on_alloc(uv_handle_t*, size_t suggested, uv_buf_t* buf) {
    buf->base = new char[suggested];
    buf->len = suggested;
  }

  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    auto* c = static_cast<Conn*>(s->data);
    if (n > 0) c->in.append(buf->base, static_cast<size_t>(n));
    delete[] buf->base;
    if (n < 0) {
      c->server->close_conn(c, false);
      return;
    }
    c->server->parse(c);
  }

  static void on_closed(uv_handle_t* h) { delete static_cast<Conn*>(h->data); }

  void close_conn(Conn* c, bool reset) {
    if (c->closing) return;
    c->closing = true;
    conns_.erase(c->id);
    ++closed_;
    auto* h = reinterpret_cast<uv_handle_t*>(&c->tcp);
    if (reset) {
      uv_tcp_close_reset(&c->tcp, &TestHttpServer::on_closed);
    } else {
      uv_close(h, &TestHttpServer::on_closed);
    }
  }

  // Handles every complete request in the buffer (pipelining included).
  void parse(Conn* c) {
    while (!c->parked && conns_.count(c->id) != 0) {
      const size_t end = c->in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      TestRequest req;
      req.connection = c->id;
      size_t body_len = parse_head(c->in.substr(0, end), req);
      if (c->in.size() < end + 4 + body_len) return;
      req.body = c->in.substr(end + 4, body_len);
      c->in.erase(0, end + 4 + body_len);
      requests_.push_back(req);
      TestReply reply = handler_(req);
      act(c, reply);
    }
  }

  static size_t parse_head(const std::string& head, TestRequest& req) {
    size_t pos = head.find("\r\n");
    const std::string line = head.substr(0, pos);
    const size_t sp1 = line.find(' ');
    const size_t sp2 = line.find(' ', sp1 + 1);
    req.method = line.substr(0, sp1);
    req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    while (pos != std::string::npos && pos < head.size()) {
      const size_t next = head.find("\r\n", pos + 2);
      const std::string h =
          head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      const size_t colon = h.find(':');
      if (colon != std::string::npos) {
        std::string name = h.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        const size_t v = h.find_first_not_of(' ', colon + 1);
        req.headers[name] = v == std::string::npos ? "" : h.substr(v);
      }
      pos = next;
    }
    auto it = req.headers.find("content-length");
    return it == req.headers.end() ? 0 : std::stoul(it->second);
  }

  void act(Conn* c, const TestReply& reply) {
    switch (reply.action) {
      case TestReply::Action::kRespond:
        send_reply(c, reply);
        break;
      case TestReply::Action::kHang:
        c->parked = true;
        break;
      case TestReply::Action::kReset:
        close_conn(c, true);
        break;
      case TestReply::Action::kPartial: {
        std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\n";
        out += "Content-Length: " + std::to_string(reply.body.size() * 2 + 1) + "\r\n\r\n";
        write(c, out + reply.body, true);
        break;
      }
      case TestReply::Action::kStream: {
        c->parked = true;
        std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\n";
        for (const auto& [k, v] : reply.headers) head += k + ": " + v + "\r\n";
        write(c, head + "Transfer-Encoding: chunked\r\n\r\n", false);
        break;
      }
    }
  }

  void send_reply(Conn* c, const TestReply& reply) {
    c->parked = false;
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\n";
    for (const auto& [k, v] : reply.headers) out += k + ": " + v + "\r\n";
    out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    if (reply.close) out += "Connection: close\r\n";
    out += "\r\n" + reply.body;
    write(c, std::move(out), reply.close);
  }

  void write(Conn* c, std::string data, bool close_after) {
    auto* w = new WriteReq();
    w->data = std::move(data);
    w->conn = c;
    w->close_after = close_after;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    const int rc =
        uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, [](uv_write_t* r, int) {
          auto* w = reinterpret_cast<WriteReq*>(r);
          Conn* conn = w->conn;
          if (w->close_after && !conn->closing) {
            conn->server->close_conn(conn, false);
          }
          delete w;
        });
    if (rc != 0) delete w;
  }

  uv_loop_t* loop_;
  Handler handler_;
  uv_tcp_t* listener_ = nullptr;
  int port_ = 0;
  int next_id_ = 0;
  int accepted_ = 0;
  int closed_ = 0;
  std::map<int, Conn*> conns_;
  std::vector<TestRequest> requests_;
};

}  // namespace esd::test
