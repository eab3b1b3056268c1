// AWS Signature Version 4, header signing (protocols.md b.4), on the OpenSSL helpers of
// daemon/common/crypto.h. Pure functions with no state: any thread, no loop, no I/O. The caller
// owns the request and the credentials; nothing here keeps a reference after returning. The
// secret key and the session token never appear in an error message. Presigned URLs and SigV4A
// are not implemented.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"

namespace esd::providers::aws {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One HTTP request as it will be sent. `path` is the raw path (may hold %XX sequences, raw spaces
// or UTF-8 bytes); `query` is the raw query without '?', pairs split on '&' and the first '=',
// '+' taken literally (encode spaces as %20). Headers in sending order, duplicates allowed; a
// value may hold folded continuation lines. `body` must outlive the calls below.
struct SigV4Request {
  std::string method;
  std::string path;
  std::string query;
  HeaderList headers;
  std::string_view body;
};

struct Credentials {
  std::string access_key_id;
  Sensitive secret_access_key;
  Sensitive session_token;  // empty for long-term keys
};

struct SigningParams {
  std::string region;
  std::string service;
  std::string amz_date;               // "20150830T123600Z" (see amz_date_from_unix)
  bool normalize_path = true;         // remove dot segments, collapse '//'; S3: false
  bool double_uri_encode = true;      // encode '%' of the raw path again; S3: false
  bool sign_body_sha_header = false;  // add and sign x-amz-content-sha256 (S3 needs it)
};

// "YYYYMMDD'T'HHMMSS'Z'" in UTC for seconds since the epoch.
std::string amz_date_from_unix(int64_t unix_seconds);

// "20150830/us-east-1/service/aws4_request".
std::string credential_scope(const SigningParams& params);

// The canonical request over exactly the headers in `req` (minus Authorization and the few
// hop-by-hop headers proxies rewrite: User-Agent, Expect, Transfer-Encoding, Connection,
// X-Amzn-Trace-Id). The payload line is the x-amz-content-sha256 header's value when present
// (e.g. UNSIGNED-PAYLOAD), else hex SHA-256 of the body. Writes the SignedHeaders list to
// *signed_headers_out when it is not null.
std::string canonical_request(const SigV4Request& req, const SigningParams& params,
                              std::string* signed_headers_out);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical request)>".
std::string string_to_sign(const std::string& canonical_request, const SigningParams& params);

// Lowercase hex HMAC of the string to sign under the derived key (AWS4+secret, date, region,
// service, "aws4_request"). Intermediate keys are wiped.
std::string signature(const Sensitive& secret_key, const std::string& string_to_sign,
                      const SigningParams& params);

// "AWS4-HMAC-SHA256 Credential=<akid>/<scope>, SignedHeaders=<list>, Signature=<hex>".
std::string authorization_header(const std::string& access_key_id,
                                 const std::string& signed_headers, const std::string& signature,
                                 const SigningParams& params);

// Signs `req` in place: first removes any earlier Authorization, X-Amz-Date,
// X-Amz-Security-Token and x-amz-content-sha256 (so a retry can re-sign the same request), then
// appends X-Amz-Date, X-Amz-Security-Token (when the credentials carry a session token) and
// x-amz-content-sha256 (when params ask for it), signs every remaining header, and appends
// Authorization. req.headers is then the complete list to send; the return value holds only the
// headers that sign() appended, in that order. Errors: kAuth (no access key or secret key),
// kInternal (no Host header, empty method/region/service, path not starting with '/',
// malformed amz_date).
[[nodiscard]] Result<HeaderList> sign(SigV4Request& req, const Credentials& creds,
                                      const SigningParams& params);

}  // namespace esd::providers::aws
