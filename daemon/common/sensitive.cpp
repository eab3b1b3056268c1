#include "daemon/common/sensitive.h"

#include <openssl/crypto.h>

namespace esd {

Sensitive::Sensitive(Sensitive&& other) noexcept : bytes_(std::move(other.bytes_)) {
  other.wipe();
}

Sensitive& Sensitive::operator=(Sensitive&& other) noexcept {
  if (this != &other) {
    wipe();
    bytes_ = std::move(other.bytes_);
    other.wipe();
  }
  return *this;
}

Sensitive::~Sensitive() { wipe(); }

void Sensitive::wipe() noexcept {
  if (!bytes_.empty()) {
    OPENSSL_cleanse(bytes_.data(), bytes_.size());
  }
  bytes_.clear();
}

SecretMap clone_map(const SecretMap& m) {
  SecretMap out;
  for (const auto& [k, v] : m) {
    out.emplace(k, v.clone());
  }
  return out;
}

}  // namespace esd
