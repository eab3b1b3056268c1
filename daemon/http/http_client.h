// HttpClient: every outbound HTTP request of the process (Kubernetes API, providers) goes through
// one libcurl multi handle driven by the libuv loop (one uv_poll per socket, one uv_timer).
// Owned by main (or a test); must outlive every request. Single-threaded, on the loop thread.
// Contract: `done` is called exactly once, on the loop thread, never from inside start(); after
// cancel(id) or shutdown() returns, no callback for that request follows. Callbacks must not
// throw and must not destroy the HttpClient; they may start, cancel or shut down.
// Teardown: shutdown(), run the loop until it returns, then uv_loop_close (see style §2.4).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"

namespace esd {

struct TlsOptions {
  std::string ca_file;          // PEM bundle file; empty = system default
  std::string ca_pem;           // PEM bundle in memory (CURLOPT_CAINFO_BLOB); wins over ca_file
  std::string client_cert_pem;  // mTLS client certificate (PEM)
  Sensitive client_key_pem;     // mTLS client key (PEM)
  bool insecure_skip_verify = false;  // only honoured for kubeconfig's insecure-skip-tls-verify
  std::string server_name;            // SNI / verification name override; empty = host of the URL
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // never logged
  Sensitive body;                                            // request body (may hold credentials)
  int64_t timeout_ms = 30'000;  // whole request; 0 = none (watch streams)
  int64_t connect_timeout_ms = 10'000;
  size_t max_response_bytes = 8 << 20;    // over the cap: kTooLarge
  std::shared_ptr<const TlsOptions> tls;  // null = system CAs, full verification
  // Also permits plain http:// to the AWS metadata hosts 169.254.169.254, 169.254.170.2,
  // 169.254.170.23, [fd00:ec2::254] and [fd00:ec2::23] (container credentials, IMDS), which
  // are link-local and never proxied. Loopback is always allowed.
  bool allow_http_metadata = false;
  // Streaming: when set, body bytes are handed to on_data as they arrive instead of being
  // buffered (used by watches); whatever the status, and without a size cap. Returning false
  // aborts the transfer (done gets kCancelled). done's response then has an empty body.
  std::function<bool(std::string_view chunk)> on_data;
  // Called once when the status line and headers are complete (streaming requests only).
  std::function<void(long status)> on_headers;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; last value wins
  Sensitive body;                              // may hold secrets: never log it
  int http_version = 0;      // 1 (HTTP/1.x) or 2 (HTTP/2, negotiated by ALPN over TLS)
  long new_connections = 0;  // connections opened for this transfer (0: an existing one reused)
  std::string header(const std::string& lower_name) const;
};

using TransferId = uint64_t;

class HttpClient {
 public:
  using Done = std::function<void(Result<HttpResponse>)>;

  explicit HttpClient(uv_loop_t* loop);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts a request. Errors (bad URL, refused scheme, connect failure, timeout, TLS failure,
  // size cap) arrive through `done` as classified Errors (mostly kTransient; kTooLarge;
  // kInvalidConfig for a refused URL). Plain http:// is refused unless the host is loopback.
  TransferId start(HttpRequest req, Done done);
  void cancel(TransferId id);
  // Cancels everything without callbacks, cleans up the multi, closes the timer. Idempotent.
  void shutdown();

  size_t in_flight() const;           // started, not yet completed or cancelled
  uint64_t requests_started() const;  // every start() before shutdown, failed ones included

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True if the URL's host is a loopback address (127.0.0.0/8, ::1) or "localhost" (plain http is
// allowed there). False for anything that does not parse as a URL.
bool is_loopback_url(const std::string& url);

// curl_global_init(CURL_GLOBAL_DEFAULT), once per process; later calls do nothing. main calls it
// before anything else; tests call it freely. Not thread-safe (call it on the main thread).
void http_global_init();

}  // namespace esd
