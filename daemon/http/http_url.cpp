#include "daemon/http/http_url.h"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "daemon/common/log.h"
#include "daemon/http/http_client.h"

namespace esd {
namespace detail {
namespace {

struct UrlDeleter {
  void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
using UrlPtr = std::unique_ptr<CURLU, UrlDeleter>;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Reads one part; empty when absent.
std::string get_part(CURLU* u, CURLUPart part, unsigned flags) {
  char* out = nullptr;
  if (curl_url_get(u, part, &out, flags) != CURLUE_OK || out == nullptr) return {};
  std::string s(out);
  curl_free(out);
  return s;
}

Error bad_url(std::string why) { return Error(ErrorCode::kInvalidConfig, "url: " + why); }

}  // namespace

bool is_loopback_host(const std::string& raw) {
  std::string host = lower(raw);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost" || host == "localhost.") return true;
  unsigned char v4[4];
  if (inet_pton(AF_INET, host.c_str(), v4) == 1) return v4[0] == 127;
  unsigned char v6[16];
  if (inet_pton(AF_INET6, host.c_str(), v6) == 1) {
    static const unsigned char kLoop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(v6, kLoop, 16) == 0) return true;
    return std::memcmp(v6, kMapped, 12) == 0 && v6[12] == 127;
  }
  return false;
}

bool is_aws_metadata_host(const std::string& raw) {
  std::string host = raw;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned char v4[4];
  if (inet_pton(AF_INET, host.c_str(), v4) == 1) {
    return v4[0] == 169 && v4[1] == 254 &&
           ((v4[2] == 169 && v4[3] == 254) || (v4[2] == 170 && (v4[3] == 2 || v4[3] == 23)));
  }
  unsigned char v6[16];
  if (inet_pton(AF_INET6, host.c_str(), v6) != 1) return false;
  // fd00:ec2::254 and fd00:ec2::23: fd00:0ec2:0:0:0:0:0:0254 / ...:0023.
  static const unsigned char kPrefix[14] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(v6, kPrefix, sizeof(kPrefix)) != 0) return false;
  return (v6[14] == 0x02 && v6[15] == 0x54) || (v6[14] == 0x00 && v6[15] == 0x23);
}

Result<ParsedUrl> parse_request_url(const std::string& url, bool allow_metadata) {
  UrlPtr u(curl_url());
  if (!u) return Error(ErrorCode::kInternal, "url: out of memory");
  if (curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return bad_url("malformed");
  }
  ParsedUrl p;
  p.scheme = lower(get_part(u.get(), CURLUPART_SCHEME, 0));
  p.host = get_part(u.get(), CURLUPART_HOST, 0);
  if (p.host.size() >= 2 && p.host.front() == '[') p.host = p.host.substr(1, p.host.size() - 2);
  p.port = get_part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  p.url = get_part(u.get(), CURLUPART_URL, 0);
  if (p.host.empty() || p.url.empty()) return bad_url("no host");
  p.loopback = is_loopback_host(p.host);
  p.metadata = is_aws_metadata_host(p.host);
  if (p.scheme == "https") return p;
  if (p.scheme == "http") {
    if (p.loopback || (allow_metadata && p.metadata)) return p;
    return bad_url("plain http is only allowed to a loopback host: " + p.host);
  }
  return bad_url("unsupported scheme: " + p.scheme);
}

std::string with_host(const std::string& url, const std::string& host) {
  UrlPtr u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return {};
  if (curl_url_set(u.get(), CURLUPART_HOST, host.c_str(), 0) != CURLUE_OK) return {};
  return get_part(u.get(), CURLUPART_URL, 0);
}

}  // namespace detail

bool is_loopback_url(const std::string& url) {
  detail::UrlPtr u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return false;
  return detail::is_loopback_host(detail::get_part(u.get(), CURLUPART_HOST, 0));
}

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

void http_global_init() {
  static bool done = false;
  if (done) return;
  done = true;
  const CURLcode result = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (result != CURLE_OK) {
    // Nothing can work without it; this is a startup failure, not something to recover from.
    log::error("http", "curl_global_init_failed", {{"curl_code", static_cast<int>(result)}});
    std::abort();
  }
}

}  // namespace esd
