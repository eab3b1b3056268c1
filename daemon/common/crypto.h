// OpenSSL helpers (EVP only): digests, HMAC, strict base64, randomness and the daemon's HMAC key
// file. Everything here is synchronous and allocation-only; nothing touches the loop. Error
// messages never contain the input bytes, so callers may pass secret material freely. A failure
// of OpenSSL itself on a digest or HMAC (which cannot happen with the built-in provider) is a
// broken invariant: it is logged and the process aborts.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"

struct evp_md_ctx_st;
struct evp_mac_ctx_st;

namespace esd {

// Lowercase hex of arbitrary bytes.
std::string hex_encode(std::string_view bytes);

// One-shot digests, lowercase hex. SHA3-224 is FIPS-202 (not Keccak), as Go's x/crypto/sha3.
std::string sha3_224_hex(std::string_view data);
std::string sha256_hex(std::string_view data);
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// Raw (binary) HMAC-SHA256, 32 bytes; for key derivation chains such as SigV4's.
std::string hmac_sha256(std::string_view key, std::string_view data);

// Incremental SHA3-224, for hashing large formatted inputs without building them in memory.
class Sha3_224 {
 public:
  Sha3_224();
  ~Sha3_224();
  Sha3_224(const Sha3_224&) = delete;
  Sha3_224& operator=(const Sha3_224&) = delete;
  void update(std::string_view data);
  // Call once; later calls (and update() after it) abort.
  std::string hex_final();

 private:
  evp_md_ctx_st* ctx_;
  bool done_ = false;
};

// Incremental HMAC-SHA256 over EVP_MAC. The key is copied into OpenSSL and cleansed by it.
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;
  void update(std::string_view data);
  // Call one of these once; later calls (and update() after it) abort. final() is raw bytes.
  std::string hex_final();
  std::string final();

 private:
  evp_mac_ctx_st* ctx_;
  bool done_ = false;
};

// Standard alphabet, padded (Go's base64.StdEncoding.EncodeToString).
std::string base64_encode(std::string_view bytes);

// Strict decoding, like Go's base64.{Std,URL}Encoding (url=true: '-' and '_' instead of '+' and
// '/'). Characters outside the alphabet are rejected, except '\r' and '\n', which Go ignores too.
// require_padding=true: the length must be a multiple of 4 with '=' padding (Go's padded
// encodings); false: padding is optional but, if present, must be correct. Unused trailing bits
// are ignored (Go's non-Strict mode). Errors are kInvalidRef and never echo the input.
Result<std::string> base64_decode(std::string_view text, bool url = false,
                                  bool require_padding = true);

// Cryptographically secure bytes (RAND_bytes); kInternal if the RNG fails.
Result<std::string> random_bytes(size_t n);

// The daemon's HMAC key (data-hash annotations, state store). File format, decided here:
//  - a single line of exactly 64 hex characters (optionally followed by "\n" or "\r\n") is
//    decoded to its 32 bytes;
//  - otherwise the file's raw bytes are the key and there must be at least 32 of them (a mounted
//    Kubernetes Secret key holds raw bytes). Files over 4096 bytes are rejected.
// If the file does not exist it is created atomically (no clobbering of a concurrent creator)
// with 32 random raw bytes and mode 0600; a missing parent directory is created with mode 0700.
// A key file readable or writable by group/others is accepted with a warning log. The key bytes
// are never logged. Errors: kInvalidConfig (bad file), kInternal (I/O, RNG).
Result<Sensitive> load_or_create_key(const std::string& path);

}  // namespace esd
