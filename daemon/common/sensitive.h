// Secret bytes. Sensitive owns a byte string that came from a provider or a credential; it is
// move-only, wiped with OPENSSL_cleanse on destruction, and has no operator<<, no to_json and no
// implicit conversion to std::string, so it cannot reach a log line, status or the database by
// accident. Read it with view() only where the bytes are really needed (HMAC, base64, HTTP body).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace esd {

class Sensitive {
 public:
  Sensitive() = default;
  explicit Sensitive(std::string bytes) : bytes_(std::move(bytes)) {}
  explicit Sensitive(std::string_view bytes) : bytes_(bytes) {}
  Sensitive(const Sensitive&) = delete;
  Sensitive& operator=(const Sensitive&) = delete;
  Sensitive(Sensitive&& other) noexcept;
  Sensitive& operator=(Sensitive&& other) noexcept;
  ~Sensitive();

  // An explicit copy, so that copies are visible in review.
  Sensitive clone() const { return Sensitive(std::string_view(bytes_)); }

  std::string_view view() const noexcept { return bytes_; }
  size_t size() const noexcept { return bytes_.size(); }
  bool empty() const noexcept { return bytes_.empty(); }
  bool operator==(const Sensitive& o) const noexcept { return bytes_ == o.bytes_; }

 private:
  void wipe() noexcept;
  std::string bytes_;
};

// The shaped data of one Secret: key -> value bytes, sorted by key.
using SecretMap = std::map<std::string, Sensitive>;

SecretMap clone_map(const SecretMap& m);

}  // namespace esd
