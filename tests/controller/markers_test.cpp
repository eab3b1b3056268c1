#include "daemon/controller/markers.h"

#include <catch2/catch.hpp>

#include <string>

#include "daemon/common/crypto.h"

namespace {

esd::SecretMap make_map(std::initializer_list<std::pair<const char*, std::string>> items) {
  esd::SecretMap m;
  for (const auto& [k, v] : items) m.emplace(k, esd::Sensitive(v));
  return m;
}

}  // namespace

using namespace esd::controller;

TEST_CASE("markers: created-by label is SHA3-224 of ns/name", "[controller][markers]") {
  CHECK(created_by_label("default", "my-es") ==
        "b8464376b5fe3535e690594280bfe59b60be2603cb6cbb6d6c8bcbb4");
  CHECK(created_by_label("default", "my-es").size() == 56);
  CHECK(created_by_label("default", "other") != created_by_label("default", "my-es"));
}

TEST_CASE("markers: ESO data hash matches ESO's vectors", "[controller][markers]") {
  CHECK(eso_data_hash({}) == "74a974446e359fb3e6baff9bd0058950e6edd0f040888d9989b0a11b");
  CHECK(eso_data_hash(make_map({{"foo", "bar"}})) ==
        "f2a604b87eb0cf673761e8cfea850f901fe73a3d1b2f338802107f36");
  CHECK(eso_data_hash(make_map({{"foo", "value1"}, {"bar", "value2"}})) ==
        "1bed8bcbcb4547ffe19a19cd47d9078e84aa6598266d86b99f992d64");
  SECTION("empty value and high bytes print as Go does: map[a:[] b:[0 255]]") {
    CHECK(eso_data_hash(make_map({{"a", ""}, {"b", std::string("\x00\xff", 2)}})) ==
          esd::sha3_224_hex("map[a:[] b:[0 255]]"));
    CHECK(esd::sha3_224_hex("map[a:[] b:[0 255]]") ==
          "0c3532280428794e95d63a63521cf84b41c26e13df508848a1b4c76b");
  }
}

TEST_CASE("markers: data HMAC is keyed and unambiguous", "[controller][markers]") {
  const std::string key(32, 'k');
  // Independent computation (Python hmac over u64be-length-prefixed sorted entries).
  CHECK(data_hmac(key, make_map({{"foo", "value1"}, {"bar", "value2"}})) ==
        "b5e086bd40f532b53e81b41f12ea701334864a84670729dabc7bf0059d904661");
  CHECK(data_hmac(key, {}) == esd::hmac_sha256_hex(key, ""));
  // Moving bytes between key and value, or between entries, changes the hash.
  CHECK(data_hmac(key, make_map({{"ab", "c"}})) != data_hmac(key, make_map({{"a", "bc"}})));
  CHECK(data_hmac(key, make_map({{"a", ""}, {"b", ""}})) != data_hmac(key, make_map({{"a", "b"}})));
  CHECK(data_hmac(key, make_map({{"a", "1"}})) != data_hmac(std::string(32, 'j'),
                                                            make_map({{"a", "1"}})));
  CHECK(data_hmac(key, make_map({{"a", "1"}})).size() == 64);
}

TEST_CASE("markers: field manager switches to the sha3 form past 63 chars",
          "[controller][markers]") {
  CHECK(field_manager("my-es") == "externalsecrets.external-secrets.io/my-es");
  const std::string name27(27, 'a');
  CHECK(field_manager(name27) == "externalsecrets.external-secrets.io/" + name27);
  CHECK(field_manager(name27).size() == 63);
  const std::string name28(28, 'a');
  CHECK(field_manager(name28) ==
        "externalsecrets.external-secrets.io/sha3/" + esd::sha3_224_hex(name28));
  CHECK(esd::sha3_224_hex(name28) == "52a6f48b37cd3535ef771a530c08d9cc4b78350ccdd33f2405e22ebb");
}

TEST_CASE("markers: syncedResourceVersion matches ESO's format", "[controller][markers]") {
  CHECK(synced_resource_version(1, {}, {}) ==
        "1-f47fe3c0b255b6dd8047cdffa772587bb829efe7a1cb70febeda2eb2");
  CHECK(synced_resource_version(3, {{"app", "x"}}, {{"b", "2"}, {"a", "1"}}) ==
        "3-" + esd::sha3_224_hex("{annotations:map[a:1 b:2] labels:map[app:x]}"));
  CHECK(esd::sha3_224_hex("{annotations:map[a:1 b:2] labels:map[app:x]}") ==
        "7a9d14fc4c98c8b2363ada4bb72d815002f918edc3da4746679c79ee");
  // Labels and annotations are not interchangeable.
  CHECK(synced_resource_version(1, {{"a", "1"}}, {}) !=
        synced_resource_version(1, {}, {{"a", "1"}}));
}

TEST_CASE("markers: constants", "[controller][markers]") {
  CHECK(kManagedLabel == "reconcile.external-secrets.io/managed");
  CHECK(kCreatedByLabel == "reconcile.external-secrets.io/created-by");
  CHECK(kDataHashAnnotation == "reconcile.external-secrets.io/data-hash");
  CHECK(kEsFinalizer == "externalsecrets.external-secrets.io/externalsecret-cleanup");
}
