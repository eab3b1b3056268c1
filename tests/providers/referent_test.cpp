#include "providers/referent.h"

#include <catch2/catch.hpp>

#include "providers/registry.h"

using esd::providers::find_provider;
using esd::providers::has_namespaceless_refs;
using nlohmann::json;

TEST_CASE("referent: references without a namespace make a spec referent", "[providers][referent]") {
  // Vault auth shapes.
  CHECK(has_namespaceless_refs(json::parse(
      R"({"auth": {"tokenSecretRef": {"name": "t", "key": "token"}}})")));
  CHECK_FALSE(has_namespaceless_refs(json::parse(
      R"({"auth": {"tokenSecretRef": {"name": "t", "key": "token", "namespace": "vault"}}})")));
  CHECK(has_namespaceless_refs(json::parse(
      R"({"auth": {"kubernetes": {"role": "r", "serviceAccountRef": {"name": "sa"}}}})")));
  CHECK(has_namespaceless_refs(json::parse(
      R"({"auth": {"cert": {"clientCert": {"name": "c", "key": "tls.crt"}}}})")));
  CHECK(has_namespaceless_refs(json::parse(
      R"({"caProvider": {"type": "Secret", "name": "ca", "key": "ca.crt"}})")));
  CHECK(has_namespaceless_refs(json::parse(
      R"({"auth": {"jwt": {"kubernetesServiceAccountToken": {"serviceAccountRef": {"name": "sa"}}}}})")));
  // An empty namespace is no namespace.
  CHECK(has_namespaceless_refs(json::parse(
      R"({"auth": {"appRole": {"secretRef": {"name": "s", "key": "k", "namespace": ""}}}})")));
  // No reference at all (the daemon's own service-account token; static fake data).
  CHECK_FALSE(has_namespaceless_refs(json::parse(
      R"({"server": "https://v", "auth": {"kubernetes": {"role": "r", "mountPath": "kubernetes"}}})")));
  CHECK_FALSE(has_namespaceless_refs(json::parse(R"({"data": [{"key": "k", "value": "v"}]})")));
  // Every reference named with its namespace.
  CHECK_FALSE(has_namespaceless_refs(json::parse(R"({"auth": {"secretRef": {
      "accessKeyIDSecretRef": {"name": "a", "key": "id", "namespace": "aws"},
      "secretAccessKeySecretRef": {"name": "a", "key": "secret", "namespace": "aws"}}}})")));
  CHECK(has_namespaceless_refs(json::parse(R"({"auth": {"secretRef": {
      "accessKeyIDSecretRef": {"name": "a", "key": "id", "namespace": "aws"},
      "secretAccessKeySecretRef": {"name": "a", "key": "secret"}}}})")));
}

TEST_CASE("referent: AWS session tags make a client per namespace", "[providers][referent]") {
  const auto* aws = find_provider("aws");
  REQUIRE(aws != nullptr);
  json spec = json::parse(R"({"service": "SecretsManager", "region": "eu-west-1", "auth":
      {"secretRef": {"accessKeyIDSecretRef": {"name": "a", "key": "id", "namespace": "aws"},
                     "secretAccessKeySecretRef": {"name": "a", "key": "s", "namespace": "aws"}}}})");
  CHECK_FALSE(aws->per_namespace(spec));
  spec["role"] = "arn:aws:iam::123456789012:role/r";
  spec["sessionTagsPolicy"] = "Simple";
  CHECK(aws->per_namespace(spec));  // the esoNamespace session tag differs per namespace
  const auto* fake = find_provider("fake");
  REQUIRE(fake != nullptr);
  CHECK_FALSE(fake->per_namespace(json::parse(R"({"data": []})")));
}
