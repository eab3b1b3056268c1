#include "daemon/controller/markers.h"

#include <array>

#include "daemon/common/crypto.h"

namespace esd::controller {
namespace {

constexpr size_t kMaxFieldManager = 63;

// Go's "%+v" of a map[string]string: "map[k:v k2:v2]", keys sorted (std::map order is bytewise).
std::string go_string_map(const std::map<std::string, std::string>& m) {
  std::string out = "map[";
  bool first = true;
  for (const auto& [k, v] : m) {
    if (!first) out += ' ';
    first = false;
    out += k;
    out += ':';
    out += v;
  }
  out += ']';
  return out;
}

// Go's "%v" of a []byte: "[98 97 114]".
void append_go_bytes(std::string& out, std::string_view bytes) {
  out += '[';
  bool first = true;
  for (unsigned char c : bytes) {
    if (!first) out += ' ';
    first = false;
    out += std::to_string(static_cast<unsigned>(c));
  }
  out += ']';
}

std::array<char, 8> u64_be(uint64_t v) {
  std::array<char, 8> b{};
  for (int i = 7; i >= 0; --i) {
    b[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return b;
}

}  // namespace

std::string created_by_label(std::string_view ns, std::string_view name) {
  std::string s;
  s.reserve(ns.size() + 1 + name.size());
  s.append(ns).append("/").append(name);
  return sha3_224_hex(s);
}

std::string eso_data_hash(const SecretMap& data) {
  // Hashed in pieces so that a large Secret is never formatted whole (4 bytes of text per byte).
  Sha3_224 h;
  h.update("map[");
  bool first = true;
  std::string piece;
  for (const auto& [k, v] : data) {
    piece.clear();
    if (!first) piece += ' ';
    first = false;
    piece += k;
    piece += ':';
    append_go_bytes(piece, v.view());
    h.update(piece);
  }
  h.update("]");
  return h.hex_final();
}

std::string data_hmac(std::string_view key, const SecretMap& data) {
  HmacSha256 h(key);
  for (const auto& [k, v] : data) {
    const auto klen = u64_be(k.size());
    h.update(std::string_view(klen.data(), klen.size()));
    h.update(k);
    const auto vlen = u64_be(v.size());
    h.update(std::string_view(vlen.data(), vlen.size()));
    h.update(v.view());
  }
  return h.hex_final();
}

std::string field_manager(std::string_view es_name) {
  std::string full(kFieldManagerPrefix);
  full += es_name;
  if (full.size() <= kMaxFieldManager) return full;
  std::string out(kFieldManagerPrefix);
  out += "sha3/";
  out += sha3_224_hex(es_name);
  return out;
}

std::string synced_resource_version(int64_t generation,
                                    const std::map<std::string, std::string>& labels,
                                    const std::map<std::string, std::string>& annotations) {
  const std::string meta =
      "{annotations:" + go_string_map(annotations) + " labels:" + go_string_map(labels) + "}";
  return std::to_string(generation) + "-" + sha3_224_hex(meta);
}

}  // namespace esd::controller
