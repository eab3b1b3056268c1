// Internal to daemon/http: one request in flight. A Transfer owns its curl easy handle and every
// buffer curl points into (body, header lists, TLS blobs, error buffer); HttpClient owns the
// Transfer through its map and destroys it after curl_multi_remove_handle. The write/header
// trampolines run inside curl_multi_socket_action on the loop thread and never call the multi API.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <string_view>

#include "daemon/common/result.h"
#include "daemon/http/http_client.h"
#include "daemon/http/http_url.h"

namespace esd::detail {

struct EasyDeleter {
  void operator()(CURL* easy) const noexcept { curl_easy_cleanup(easy); }
};
// Wipes each line before freeing it: header lines carry Authorization and tokens.
struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept;
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

class Transfer {
 public:
  // Validates the request and builds the easy handle. kInvalidConfig for a refused URL, method
  // or header; kInternal when curl rejects an option.
  [[nodiscard]] static Result<std::unique_ptr<Transfer>> create(TransferId id, HttpRequest req);
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  CURL* easy() const noexcept { return easy_.get(); }
  TransferId id() const noexcept { return id_; }
  // After kill(), curl callbacks return short and nothing reaches the caller's callbacks.
  void kill() noexcept { killed_ = true; }
  bool killed() const noexcept { return killed_; }
  void set_done(HttpClient::Done done) { done_ = std::move(done); }
  HttpClient::Done take_done() { return std::move(done_); }
  // The outcome, from curl's result code. Call once, after curl_multi_remove_handle.
  Result<HttpResponse> finish(CURLcode result);

 private:
  Transfer(TransferId id, HttpRequest req);
  static size_t on_write(char* data, size_t size, size_t n, void* self) noexcept;
  static size_t on_header(char* data, size_t size, size_t n, void* self) noexcept;
  size_t write(std::string_view chunk);
  size_t header(std::string_view line);
  void headers_complete();
  Error classify(CURLcode result) const;

  Status set_basics(const ParsedUrl& url);
  Status set_method_and_body();
  Status set_headers();
  Status set_tls(const ParsedUrl& url);

  TransferId id_;
  HttpRequest req_;
  HttpClient::Done done_;
  std::string url_;
  SlistPtr headers_;
  SlistPtr connect_to_;
  std::string body_;  // buffered response body (wiped when it grows)
  HttpResponse response_;
  char errbuf_[CURL_ERROR_SIZE] = {};
  bool headers_done_ = false;
  bool too_large_ = false;
  bool aborted_ = false;  // on_data returned false
  bool killed_ = false;
  std::unique_ptr<CURL, EasyDeleter> easy_;  // last: cleaned up before what it points into
};

}  // namespace esd::detail
