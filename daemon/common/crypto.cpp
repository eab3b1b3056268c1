#include "daemon/common/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <climits>
#include <cstdlib>

#include "daemon/common/log.h"

namespace esd {
namespace {

[[noreturn]] void crypto_failure(std::string_view what) {
  log::error("crypto", "openssl_failure", {{"call", what}});
  std::abort();
}

const unsigned char* as_bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string digest_hex(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (md == nullptr || EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) {
    crypto_failure("EVP_Digest");
  }
  return hex_encode(std::string_view(reinterpret_cast<const char*>(out), len));
}

// The HMAC algorithm object is fetched once and kept for the life of the process.
EVP_MAC* hmac_algorithm() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) crypto_failure("EVP_MAC_fetch");
  return mac;
}

int decode_char(char c, bool url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

Error bad_base64(std::string_view why) {
  return Error(ErrorCode::kInvalidRef, "invalid base64 data: " + std::string(why));
}

// Strips Go-ignored newlines, checks the alphabet and padding, and returns the standard-alphabet,
// padded form that EVP_DecodeBlock accepts, plus the number of padding characters.
Result<std::pair<std::string, size_t>> normalize_base64(std::string_view text, bool url,
                                                        bool require_padding) {
  std::string s;
  s.reserve(text.size() + 3);
  size_t pad = 0;
  for (char c : text) {
    if (c == '\r' || c == '\n') continue;
    if (c == '=') {
      ++pad;
      s.push_back(c);
      continue;
    }
    if (pad > 0) return bad_base64("data after padding");
    const int v = decode_char(c, url);
    if (v < 0) return bad_base64("illegal character");
    s.push_back(url ? (v == 62 ? '+' : v == 63 ? '/' : c) : c);
  }
  if (pad > 2) return bad_base64("too much padding");
  if (pad > 0 && s.size() % 4 != 0) return bad_base64("wrong padding");
  if (pad == 0 && s.size() % 4 != 0) {
    if (require_padding) return bad_base64("missing padding");
    if (s.size() % 4 == 1) return bad_base64("truncated input");
    pad = 4 - s.size() % 4;
    s.append(pad, '=');
  }
  return std::make_pair(std::move(s), pad);
}

}  // namespace

std::string hex_encode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0x0f]);
  }
  return out;
}

std::string sha3_224_hex(std::string_view data) { return digest_hex(EVP_sha3_224(), data); }

std::string sha256_hex(std::string_view data) { return digest_hex(EVP_sha256(), data); }

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  HmacSha256 h(key);
  h.update(data);
  return h.hex_final();
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  HmacSha256 h(key);
  h.update(data);
  return h.final();
}

Sha3_224::Sha3_224() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha3_224(), nullptr) != 1) {
    crypto_failure("EVP_DigestInit_ex");
  }
}

Sha3_224::~Sha3_224() { EVP_MD_CTX_free(ctx_); }

void Sha3_224::update(std::string_view data) {
  if (done_ || EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1) {
    crypto_failure("EVP_DigestUpdate");
  }
}

std::string Sha3_224::hex_final() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (done_ || EVP_DigestFinal_ex(ctx_, out, &len) != 1) crypto_failure("EVP_DigestFinal_ex");
  done_ = true;
  return hex_encode(std::string_view(reinterpret_cast<const char*>(out), len));
}

HmacSha256::HmacSha256(std::string_view key) : ctx_(EVP_MAC_CTX_new(hmac_algorithm())) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  // An empty key is legal for HMAC, but EVP_MAC_init wants a non-null pointer.
  static const unsigned char kEmpty = 0;
  const unsigned char* k = key.empty() ? &kEmpty : as_bytes(key);
  if (ctx_ == nullptr || EVP_MAC_init(ctx_, k, key.size(), params) != 1) {
    crypto_failure("EVP_MAC_init");
  }
}

HmacSha256::~HmacSha256() { EVP_MAC_CTX_free(ctx_); }

void HmacSha256::update(std::string_view data) {
  if (done_ || EVP_MAC_update(ctx_, as_bytes(data), data.size()) != 1) {
    crypto_failure("EVP_MAC_update");
  }
}

std::string HmacSha256::hex_final() { return hex_encode(final()); }

std::string HmacSha256::final() {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  if (done_ || EVP_MAC_final(ctx_, out, &len, sizeof out) != 1) crypto_failure("EVP_MAC_final");
  done_ = true;
  std::string raw(reinterpret_cast<const char*>(out), len);
  OPENSSL_cleanse(out, sizeof out);
  return raw;
}

std::string base64_encode(std::string_view bytes) {
  if (bytes.empty()) return {};
  if (bytes.size() > static_cast<size_t>(INT_MAX / 4 * 3)) crypto_failure("base64 input size");
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), as_bytes(bytes),
                                static_cast<int>(bytes.size()));
  if (n < 0) crypto_failure("EVP_EncodeBlock");
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> base64_decode(std::string_view text, bool url, bool require_padding) {
  auto norm = normalize_base64(text, url, require_padding);
  if (!norm) return std::move(norm).error();
  auto& [s, pad] = norm.value();
  if (s.empty()) return std::string();
  if (s.size() > static_cast<size_t>(INT_MAX)) return bad_base64("input too large");
  std::string out(s.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), as_bytes(s),
                                static_cast<int>(s.size()));
  OPENSSL_cleanse(s.data(), s.size());
  if (n < 0 || static_cast<size_t>(n) != out.size()) {
    OPENSSL_cleanse(out.data(), out.size());
    return bad_base64("undecodable input");
  }
  out.resize(out.size() - pad);
  return out;
}

Result<std::string> random_bytes(size_t n) {
  std::string out(n, '\0');
  if (n == 0) return out;
  if (n > static_cast<size_t>(INT_MAX) ||
      RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return Error(ErrorCode::kInternal, "RAND_bytes failed");
  }
  return out;
}

}  // namespace esd
