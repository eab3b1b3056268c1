#include "daemon/server/http_wire.h"

#include <algorithm>
#include <cctype>

namespace esd::detail {
namespace {

bool is_token_char(unsigned char c) {
  return std::isalnum(c) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

}  // namespace

RequestHead parse_request_head(std::string_view received) {
  RequestHead head;
  const size_t end = received.find("\r\n\r\n");
  if (end == std::string_view::npos || end + 4 > kMaxRequestHead) {
    const bool too_large = received.size() >= kMaxRequestHead ||
                           (end != std::string_view::npos && end + 4 > kMaxRequestHead);
    head.state = too_large ? RequestHead::State::kTooLarge : RequestHead::State::kIncomplete;
    return head;
  }
  head.state = RequestHead::State::kBad;
  const std::string_view line = received.substr(0, received.find("\r\n"));
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return head;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return head;
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_token_char)) return head;
  if (target.empty() || target.front() != '/') return head;
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1.") return head;
  head.method = std::string(method);
  head.path = std::string(target.substr(0, target.find_first_of("?#")));
  head.state = RequestHead::State::kComplete;
  return head;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

std::string format_head(int status, std::string_view content_type, size_t body_size,
                        std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out += reason_phrase(status);
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body_size) + "\r\n";
  out += extra_headers;
  out += "Connection: close\r\n\r\n";
  return out;
}

std::string format_response(int status, std::string_view content_type, std::string_view body,
                            bool head_only, std::string_view extra_headers) {
  std::string out = format_head(status, content_type, body.size(), extra_headers);
  if (!head_only) out += body;
  return out;
}

}  // namespace esd::detail
