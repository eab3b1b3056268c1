// HttpServer: the daemon's tiny HTTP/1.1 endpoint on the loop: GET /metrics, /healthz, /readyz.
// One uv_tcp_t listener, one handle per connection, each freed in its close callback. Requests
// are parsed with a size cap; anything else gets 404/405. Owned by main; close() before the loop
// is drained.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "daemon/common/result.h"

namespace esd {

struct HttpRoute {
  std::string path;
  // Returns {status, content_type, body}.
  std::function<void(int& status, std::string& content_type, std::string& body)> handler;
};

class HttpServer {
 public:
  explicit HttpServer(uv_loop_t* loop);
  ~HttpServer();
  void add_route(HttpRoute route);
  // addr is "HOST:PORT" (IPv4, IPv6 in brackets, or a host name such as localhost); port 0 picks
  // one.
  Status listen(const std::string& addr);
  int port() const;  // the bound port, after listen()
  // Stops listening and closes every connection. Idempotent; also done by the destructor.
  void close();
  size_t open_connections() const;
  // Limits per connection: the request head must arrive within request_ms (default 10 s);
  // after the response, the peer's FIN is awaited for at most linger_ms (default 2 s).
  void set_timeouts(uint64_t request_ms, uint64_t linger_ms);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace esd
