#include <catch2/catch.hpp>

#include "daemon/common/crypto.h"
#include "daemon/controller/markers.h"
#include "daemon/controller/secret_builder.h"

using namespace esd;
using namespace esd::controller;
using nlohmann::json;

namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef";

EsIdentity es_id() { return EsIdentity{"ns1", "my-es", "uid-1", "external-secrets.io/v1", {}, {}}; }

EsSpec spec_with(CreationPolicy p) {
  EsSpec s;
  s.target_name = "target";
  s.creation = p;
  return s;
}

SecretMap data_of(std::initializer_list<std::pair<const char*, const char*>> kv) {
  SecretMap m;
  for (const auto& [k, v] : kv) m.emplace(k, Sensitive(std::string(v)));
  return m;
}

std::string b64(const char* s) { return base64_encode(s); }

}  // namespace

TEST_CASE("SecretBuilder: a new Owner secret carries exactly ESO's markers", "[controller][secret]") {
  auto built = build_secret(es_id(), spec_with(CreationPolicy::kOwner), data_of({{"a", "1"}}),
                            std::nullopt, {}, kKey);
  REQUIRE(built);
  const json& o = built->object;
  CHECK(built->create);
  CHECK(built->changed);
  CHECK(o["type"] == "Opaque");
  CHECK(o["data"] == json{{"a", b64("1")}});
  CHECK(o["metadata"]["labels"] ==
        json{{"reconcile.external-secrets.io/managed", "true"},
             {"reconcile.external-secrets.io/created-by", created_by_label("ns1", "my-es")}});
  CHECK(o["metadata"]["annotations"] ==
        json{{"reconcile.external-secrets.io/data-hash", built->data_hmac}});
  CHECK(built->data_hmac == data_hmac(kKey, data_of({{"a", "1"}})));
  REQUIRE(o["metadata"]["ownerReferences"].size() == 1);
  CHECK(o["metadata"]["ownerReferences"][0]["uid"] == "uid-1");
  CHECK(o["metadata"]["ownerReferences"][0]["controller"] == true);
}

TEST_CASE("SecretBuilder: unchanged live secret is reported as unchanged", "[controller][secret]") {
  auto first = build_secret(es_id(), spec_with(CreationPolicy::kOwner), data_of({{"a", "1"}}),
                            std::nullopt, {}, kKey);
  REQUIRE(first);
  json live = first->object;
  live["metadata"]["resourceVersion"] = "7";
  auto again = build_secret(es_id(), spec_with(CreationPolicy::kOwner), data_of({{"a", "1"}}), live,
                            first->owned, kKey);
  REQUIRE(again);
  CHECK_FALSE(again->create);
  CHECK_FALSE(again->changed);
  auto rotated = build_secret(es_id(), spec_with(CreationPolicy::kOwner), data_of({{"a", "2"}}),
                              live, first->owned, kKey);
  REQUIRE(rotated);
  CHECK(rotated->changed);
  CHECK(rotated->object["metadata"]["resourceVersion"] == "7");
}

TEST_CASE("SecretBuilder: Owner drops foreign keys, Merge keeps them", "[controller][secret]") {
  json live = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", "Opaque"},
               {"metadata", {{"name", "target"}, {"namespace", "ns1"}, {"resourceVersion", "3"},
                             {"labels", {{"team", "x"}}}}},
               {"data", {{"foreign", b64("keep")}, {"old", b64("o")}}}};
  std::vector<storage::OwnedField> owned = {{"data", "old"}};
  auto owner = build_secret(es_id(), spec_with(CreationPolicy::kOwner), data_of({{"a", "1"}}), live,
                            owned, kKey);
  REQUIRE(owner);
  CHECK(owner->object["data"] == json{{"a", b64("1")}});
  CHECK(owner->object["metadata"]["labels"]["team"] == "x");  // foreign labels survive
  auto merge = build_secret(es_id(), spec_with(CreationPolicy::kMerge), data_of({{"a", "1"}}), live,
                            owned, kKey);
  REQUIRE(merge);
  CHECK(merge->object["data"] == json{{"a", b64("1")}, {"foreign", b64("keep")}});
  CHECK_FALSE(merge->object["metadata"]["labels"].contains("reconcile.external-secrets.io/created-by"));
  CHECK_FALSE(merge->object["metadata"].contains("ownerReferences"));
}

TEST_CASE("SecretBuilder: refuses a secret controlled by another ExternalSecret", "[controller][secret]") {
  json live = {{"metadata",
                {{"name", "target"},
                 {"ownerReferences",
                  {{{"kind", "ExternalSecret"}, {"uid", "other"}, {"controller", true}}}}}},
               {"data", json::object()}};
  auto r = build_secret(es_id(), spec_with(CreationPolicy::kOwner), data_of({{"a", "1"}}), live, {},
                        kKey);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "target is owned by another ExternalSecret");
  auto orphan = build_secret(es_id(), spec_with(CreationPolicy::kOrphan), data_of({{"a", "1"}}),
                             live, {}, kKey);
  CHECK(orphan);  // Orphan does not take ownership
}

TEST_CASE("SecretBuilder: an immutable secret is never given new data", "[controller][secret]") {
  json live = {{"metadata", {{"name", "target"}}}, {"immutable", true},
               {"data", {{"a", b64("1")}}}};
  auto same = build_secret(es_id(), spec_with(CreationPolicy::kOrphan), data_of({{"a", "1"}}), live,
                           {}, kKey);
  CHECK(same);
  auto changed = build_secret(es_id(), spec_with(CreationPolicy::kOrphan), data_of({{"a", "2"}}),
                              live, {}, kKey);
  REQUIRE_FALSE(changed);
  CHECK(changed.error().message == "could not update secret, target is immutable");
}

TEST_CASE("SecretBuilder: ES labels are copied, kubectl's last-applied is not", "[controller][secret]") {
  EsIdentity id = es_id();
  id.labels = {{"app", "web"}};
  id.annotations = {{"note", "n"}, {"kubectl.kubernetes.io/last-applied-configuration", "{}"}};
  auto r = build_secret(id, spec_with(CreationPolicy::kOwner), data_of({{"a", "1"}}), std::nullopt,
                        {}, kKey);
  REQUIRE(r);
  CHECK(r->object["metadata"]["labels"]["app"] == "web");
  CHECK(r->object["metadata"]["annotations"]["note"] == "n");
  CHECK_FALSE(r->object["metadata"]["annotations"].contains(
      "kubectl.kubernetes.io/last-applied-configuration"));
}

TEST_CASE("SecretBuilder: live_data_hmac matches the HMAC of what was written", "[controller][secret]") {
  auto r = build_secret(es_id(), spec_with(CreationPolicy::kOwner), data_of({{"a", "1"}, {"b", ""}}),
                        std::nullopt, {}, kKey);
  REQUIRE(r);
  CHECK(live_data_hmac(kKey, r->object) == r->data_hmac);
  json bad = {{"data", {{"a", "%%%"}}}};
  CHECK(live_data_hmac(kKey, bad).empty());
}
