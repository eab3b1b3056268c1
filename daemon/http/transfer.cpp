#include "daemon/http/transfer.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace esd::detail {
namespace {

// Records the first failing curl_easy_setopt so a configure step can check once at the end.
class OptSetter {
 public:
  explicit OptSetter(CURL* easy) : easy_(easy) {}
  template <typename T>
  void operator()(CURLoption opt, T value) {
    if (result_ == CURLE_OK) result_ = curl_easy_setopt(easy_, opt, value);
  }
  Status status() const {
    if (result_ == CURLE_OK) return ok_status();
    return Error(ErrorCode::kInternal,
                 std::string("http: curl rejected an option: ") + curl_easy_strerror(result_),
                 static_cast<int>(result_));
  }

 private:
  CURL* easy_;
  CURLcode result_ = CURLE_OK;
};

long to_long_ms(int64_t ms) { return ms > 0 ? static_cast<long>(ms) : 0L; }

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
  });
}

bool has_ctl(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](unsigned char c) { return c == '\r' || c == '\n' || c == 0; });
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Appends without leaving stale copies of earlier bytes in freed heap memory.
void append_wiping(std::string& buf, std::string_view chunk) {
  if (buf.size() + chunk.size() > buf.capacity()) {
    std::string bigger;
    bigger.reserve(std::max(buf.capacity() * 2, buf.size() + chunk.size()));
    bigger.append(buf);
    OPENSSL_cleanse(buf.data(), buf.size());
    buf.swap(bigger);
  }
  buf.append(chunk);
}

curl_blob nocopy_blob(std::string_view bytes) {
  curl_blob blob{};
  blob.data = const_cast<char*>(bytes.data());
  blob.len = bytes.size();
  blob.flags = CURL_BLOB_NOCOPY;
  return blob;
}

}  // namespace

void SlistDeleter::operator()(curl_slist* list) const noexcept {
  for (curl_slist* p = list; p != nullptr; p = p->next) {
    if (p->data != nullptr) OPENSSL_cleanse(p->data, std::strlen(p->data));
  }
  curl_slist_free_all(list);
}

Transfer::Transfer(TransferId id, HttpRequest req) : id_(id), req_(std::move(req)) {}

Result<std::unique_ptr<Transfer>> Transfer::create(TransferId id, HttpRequest req) {
  auto url = parse_request_url(req.url, req.allow_http_metadata);
  if (!url) return std::move(url).error();
  if (!is_token(req.method)) return Error(ErrorCode::kInvalidConfig, "http: bad method");
  std::unique_ptr<Transfer> t(new Transfer(id, std::move(req)));
  t->easy_.reset(curl_easy_init());
  if (!t->easy_) return Error(ErrorCode::kInternal, "http: curl_easy_init failed");
  ESD_RETURN_IF_ERROR(t->set_basics(*url));
  ESD_RETURN_IF_ERROR(t->set_method_and_body());
  ESD_RETURN_IF_ERROR(t->set_headers());
  ESD_RETURN_IF_ERROR(t->set_tls(*url));
  return t;
}

Status Transfer::set_basics(const ParsedUrl& url) {
  url_ = url.url;
  OptSetter set(easy_.get());
  set(CURLOPT_URL, url_.c_str());
  set(CURLOPT_PRIVATE, static_cast<void*>(this));
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_TIMEOUT_MS, to_long_ms(req_.timeout_ms));
  set(CURLOPT_CONNECTTIMEOUT_MS, to_long_ms(req_.connect_timeout_ms));
  const bool local = url.loopback || (req_.allow_http_metadata && url.metadata);
  const char* protocols = local ? "http,https" : "https";
  set(CURLOPT_PROTOCOLS_STR, protocols);
  set(CURLOPT_REDIR_PROTOCOLS_STR, protocols);
  // Proxies come from the environment (https_proxy, no_proxy), but never for loopback or the
  // link-local metadata hosts.
  if (local) set(CURLOPT_NOPROXY, "*");
  set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  set(CURLOPT_ERRORBUFFER, errbuf_);
  set(CURLOPT_WRITEFUNCTION, &Transfer::on_write);
  set(CURLOPT_WRITEDATA, static_cast<void*>(this));
  set(CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  set(CURLOPT_HEADERDATA, static_cast<void*>(this));
  return set.status();
}

Status Transfer::set_method_and_body() {
  OptSetter set(easy_.get());
  const std::string& m = req_.method;
  const bool wants_body = !req_.body.empty() || m == "POST" || m == "PUT" || m == "PATCH";
  if (m == "GET" && !wants_body) {
    set(CURLOPT_HTTPGET, 1L);
  } else if (m == "HEAD") {
    set(CURLOPT_NOBODY, 1L);
  } else if (wants_body) {
    // POSTFIELDS does not copy: it points into req_.body, which lives as long as this Transfer.
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req_.body.size()));
    set(CURLOPT_POSTFIELDS, req_.body.view().data());
    if (m != "POST") set(CURLOPT_CUSTOMREQUEST, m.c_str());
  } else {
    set(CURLOPT_CUSTOMREQUEST, m.c_str());
  }
  return set.status();
}

Status Transfer::set_headers() {
  curl_slist* list = nullptr;
  bool has_expect = false;
  for (const auto& [name, value] : req_.headers) {
    if (!is_token(name) || has_ctl(value)) {
      SlistDeleter{}(list);
      return Error(ErrorCode::kInvalidConfig, "http: bad request header " + lower(name));
    }
    has_expect = has_expect || lower(name) == "expect";
    // "Name;" is curl's way of sending a header with an empty value.
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    curl_slist* next = curl_slist_append(list, line.c_str());
    OPENSSL_cleanse(line.data(), line.size());
    if (next == nullptr) {
      SlistDeleter{}(list);
      return Error(ErrorCode::kInternal, "http: out of memory");
    }
    list = next;
  }
  // No "Expect: 100-continue" round trip for larger bodies; our peers answer directly.
  if (!has_expect) {
    curl_slist* next = curl_slist_append(list, "Expect:");
    if (next == nullptr) {
      SlistDeleter{}(list);
      return Error(ErrorCode::kInternal, "http: out of memory");
    }
    list = next;
  }
  headers_.reset(list);
  OptSetter set(easy_.get());
  set(CURLOPT_HTTPHEADER, headers_.get());
  return set.status();
}

Status Transfer::set_tls(const ParsedUrl& url) {
  const TlsOptions* tls = req_.tls.get();
  if (tls == nullptr || url.scheme != "https") return ok_status();
  OptSetter set(easy_.get());
  // Blobs are NOCOPY: req_.tls (a shared_ptr) keeps the bytes alive for the whole transfer.
  // A configured CA replaces the system store; it does not add to it (as kubectl does).
  if (!tls->ca_pem.empty()) {
    curl_blob ca = nocopy_blob(tls->ca_pem);
    set(CURLOPT_CAINFO, static_cast<char*>(nullptr));
    set(CURLOPT_CAPATH, static_cast<char*>(nullptr));
    set(CURLOPT_CAINFO_BLOB, &ca);
  } else if (!tls->ca_file.empty()) {
    set(CURLOPT_CAPATH, static_cast<char*>(nullptr));
    set(CURLOPT_CAINFO, tls->ca_file.c_str());
  }
  if (!tls->client_cert_pem.empty()) {
    curl_blob cert = nocopy_blob(tls->client_cert_pem);
    set(CURLOPT_SSLCERT_BLOB, &cert);
    set(CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (!tls->client_key_pem.empty()) {
    curl_blob key = nocopy_blob(tls->client_key_pem.view());
    set(CURLOPT_SSLKEY_BLOB, &key);
    set(CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (tls->insecure_skip_verify) {
    set(CURLOPT_SSL_VERIFYPEER, 0L);
    set(CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!tls->server_name.empty()) {
    // Verify against server_name while dialling the real host: rewrite the URL's host and map
    // it back with CONNECT_TO.
    std::string renamed = with_host(url.url, tls->server_name);
    if (renamed.empty()) return Error(ErrorCode::kInvalidConfig, "http: bad tls server name");
    const std::string real =
        url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    const std::string entry = tls->server_name + ":" + url.port + ":" + real + ":" + url.port;
    connect_to_.reset(curl_slist_append(nullptr, entry.c_str()));
    if (!connect_to_) return Error(ErrorCode::kInternal, "http: out of memory");
    url_ = std::move(renamed);
    set(CURLOPT_URL, url_.c_str());
    set(CURLOPT_CONNECT_TO, connect_to_.get());
  }
  return set.status();
}

size_t Transfer::on_write(char* data, size_t size, size_t n, void* self) noexcept {
  return static_cast<Transfer*>(self)->write(std::string_view(data, size * n));
}

size_t Transfer::on_header(char* data, size_t size, size_t n, void* self) noexcept {
  return static_cast<Transfer*>(self)->header(std::string_view(data, size * n));
}

size_t Transfer::write(std::string_view chunk) {
  if (killed_) return 0;
  if (req_.on_data) {
    if (!req_.on_data(chunk)) {
      aborted_ = true;
      return 0;
    }
    return killed_ ? 0 : chunk.size();  // on_data may have cancelled us
  }
  if (body_.size() + chunk.size() > req_.max_response_bytes) {
    too_large_ = true;
    return 0;
  }
  append_wiping(body_, chunk);
  return chunk.size();
}

size_t Transfer::header(std::string_view line) {
  if (killed_) return 0;
  if (line.rfind("HTTP/", 0) == 0) {  // a new status line (after 1xx): start over
    response_.headers.clear();
    headers_done_ = false;
    return line.size();
  }
  const std::string_view content = trim(line);
  if (content.empty()) {
    if (!headers_done_) headers_complete();
    return killed_ ? 0 : line.size();
  }
  const size_t colon = content.find(':');
  if (headers_done_ || colon == std::string_view::npos || line[0] == ' ' || line[0] == '\t') {
    return line.size();  // trailers, folded lines and junk are ignored
  }
  response_.headers[lower(content.substr(0, colon))] = std::string(trim(content.substr(colon + 1)));
  return line.size();
}

void Transfer::headers_complete() {
  long status = 0;
  if (curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
  if (status >= 100 && status < 200) return;  // interim response; the real one follows
  headers_done_ = true;
  response_.status = status;
  if (req_.on_headers) req_.on_headers(status);
}

Result<HttpResponse> Transfer::finish(CURLcode result) {
  if (result != CURLE_OK) return classify(result);
  long status = 0;
  if (curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &status) == CURLE_OK) {
    response_.status = status;
  }
  long version = 0;
  if (curl_easy_getinfo(easy_.get(), CURLINFO_HTTP_VERSION, &version) == CURLE_OK) {
    response_.http_version = version == CURL_HTTP_VERSION_2_0 ? 2 : 1;
  }
  long connects = 0;
  if (curl_easy_getinfo(easy_.get(), CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK) {
    response_.new_connections = connects;
  }
  response_.body = Sensitive(std::move(body_));
  return std::move(response_);
}

Error Transfer::classify(CURLcode result) const {
  const int native = static_cast<int>(result);
  if (too_large_) {
    return Error(ErrorCode::kTooLarge,
                 "http: response over " + std::to_string(req_.max_response_bytes) + " bytes",
                 native);
  }
  if (aborted_) return Error(ErrorCode::kCancelled, "http: stream aborted by its consumer", native);
  std::string msg = std::string("http: ") + curl_easy_strerror(result);
  if (errbuf_[0] != '\0') msg += std::string(": ") + errbuf_;
  switch (result) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_SSL_CERTPROBLEM:     // our client certificate or key does not load
    case CURLE_SSL_CACERT_BADFILE:  // our CA bundle does not load
    case CURLE_BAD_FUNCTION_ARGUMENT:
      return Error(ErrorCode::kInvalidConfig, std::move(msg), native);
    case CURLE_OUT_OF_MEMORY:
      return Error(ErrorCode::kInternal, std::move(msg), native);
    default:
      return Error(ErrorCode::kTransient, std::move(msg), native);
  }
}

}  // namespace esd::detail
