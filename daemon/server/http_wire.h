// Internal to daemon/server: the HTTP/1.1 bytes of HttpServer, as pure functions (no loop, no
// state), so request parsing and response formatting are unit-tested on their own. Only what a
// GET-only endpoint needs: the request line and the end of the header block.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace esd::detail {

inline constexpr size_t kMaxRequestHead = 16 * 1024;  // request line + headers

struct RequestHead {
  enum class State { kIncomplete, kComplete, kBad, kTooLarge };
  State state = State::kIncomplete;
  std::string method;
  std::string path;  // target without query string or fragment
};

// Looks at the bytes received so far. kIncomplete until the blank line after the headers;
// kTooLarge when no blank line appears within kMaxRequestHead bytes; kBad for a malformed
// request line, a target that is not origin-form, or a version other than HTTP/1.x.
RequestHead parse_request_head(std::string_view received);

// A complete response with Content-Length and "Connection: close". head_only omits the body
// (HEAD) but keeps its Content-Length. extra_headers is "Name: value\r\n" lines or empty.
std::string format_response(int status, std::string_view content_type, std::string_view body,
                            bool head_only, std::string_view extra_headers = {});

// The status line and headers of such a response (through the blank line), for a body of
// body_size bytes sent separately.
std::string format_head(int status, std::string_view content_type, size_t body_size,
                        std::string_view extra_headers = {});

std::string_view reason_phrase(int status);

}  // namespace esd::detail
