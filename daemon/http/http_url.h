// Internal to daemon/http: URL checks done before a request reaches libcurl (scheme policy,
// loopback detection). Pure functions, no loop, no state; used by HttpClient and its tests.
#pragma once

#include <string>

#include "daemon/common/result.h"

namespace esd::detail {

struct ParsedUrl {
  std::string url;     // normalised by curl's URL parser
  std::string scheme;  // lower-case: "http" or "https"
  std::string host;    // without IPv6 brackets
  std::string port;    // explicit or the scheme default
  bool loopback = false;
  bool metadata = false;  // an AWS metadata host (see is_aws_metadata_host)
};

// Parses an absolute http(s) URL. kInvalidConfig when it does not parse, has another scheme,
// or is plain http to a host that is not loopback (nor, with allow_metadata, an AWS metadata
// host). The message never holds the query string.
[[nodiscard]] Result<ParsedUrl> parse_request_url(const std::string& url,
                                                  bool allow_metadata = false);

// True for 127.0.0.0/8, ::1 (and ::ffff:127.x), and "localhost".
bool is_loopback_host(const std::string& host);

// True for the link-local AWS metadata endpoints: 169.254.169.254 (IMDS), 169.254.170.2 (ECS),
// 169.254.170.23 (EKS Pod Identity), fd00:ec2::254 and fd00:ec2::23 (their IPv6 forms).
bool is_aws_metadata_host(const std::string& host);

}  // namespace esd::detail

namespace esd::detail {

// The same URL with its host replaced (used to verify TLS against a server-name override while
// CURLOPT_CONNECT_TO still dials the real host). Empty when the URL or host does not parse.
std::string with_host(const std::string& url, const std::string& host);

}  // namespace esd::detail
