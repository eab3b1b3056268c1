// parse_aws_spec: defaults, every field, auth precedence, and errors that name the field.
#include "providers/aws/aws_spec.h"

#include <catch2/catch.hpp>

#include <string>

using esd::ErrorCode;
using nlohmann::json;
namespace aws = esd::providers::aws;

TEST_CASE("parse_aws_spec: minimal spec uses the default chain", "[providers][aws]") {
  auto s = aws::parse_aws_spec(json{{"service", "SecretsManager"}, {"region", "eu-west-1"}});
  REQUIRE(s.ok());
  CHECK(s->service == aws::AwsService::kSecretsManager);
  CHECK(s->region == "eu-west-1");
  CHECK(s->auth.kind == aws::AuthKind::kDefaultChain);
  CHECK(s->role.empty());
  CHECK(s->additional_roles.empty());
  CHECK(s->prefix.empty());
  CHECK(s->max_retries == -1);
  CHECK(s->retry_interval_ms == -1);
  CHECK(s->session_tags_policy == aws::SessionTagsPolicy::kNone);

  auto ps = aws::parse_aws_spec(json{{"service", "ParameterStore"}, {"region", "eu-west-1"}});
  REQUIRE(ps.ok());
  CHECK(ps->service == aws::AwsService::kParameterStore);
}

TEST_CASE("parse_aws_spec: every field", "[providers][aws]") {
  const json spec = json::parse(R"({
    "service": "SecretsManager", "region": "us-east-1",
    "role": "arn:aws:iam::111122223333:role/app",
    "additionalRoles": ["arn:aws:iam::111122223333:role/a", "arn:aws:iam::111122223333:role/b"],
    "externalID": "ext-1",
    "sessionTags": [{"key": "team", "value": "blue"}, {"key": "env", "value": ""}],
    "transitiveTagKeys": ["team"],
    "sessionTagsPolicy": "Custom",
    "customSessionTags": {"cost": "42"},
    "prefix": "prod/",
    "retrySettings": {"maxRetries": 5, "retryInterval": "1.5s"},
    "secretsManager": {"forceDeleteWithoutRecovery": true},
    "somethingNew": 1,
    "auth": {"secretRef": {
      "accessKeyIDSecretRef": {"name": "aws", "key": "id"},
      "secretAccessKeySecretRef": {"name": "aws", "key": "secret", "namespace": "ops"},
      "sessionTokenSecretRef": {"name": "aws", "key": "token"}}}
  })");
  auto s = aws::parse_aws_spec(spec);
  REQUIRE(s.ok());
  CHECK(s->role == "arn:aws:iam::111122223333:role/app");
  REQUIRE(s->additional_roles.size() == 2);
  CHECK(s->additional_roles[1] == "arn:aws:iam::111122223333:role/b");
  CHECK(s->external_id == "ext-1");
  REQUIRE(s->session_tags.size() == 2);
  CHECK(s->session_tags[0] == std::make_pair(std::string("team"), std::string("blue")));
  CHECK(s->session_tags[1].second.empty());
  CHECK(s->transitive_tag_keys == std::vector<std::string>{"team"});
  CHECK(s->session_tags_policy == aws::SessionTagsPolicy::kCustom);
  CHECK(s->custom_session_tags.at("cost") == "42");
  CHECK(s->prefix == "prod/");
  CHECK(s->max_retries == 5);
  CHECK(s->retry_interval_ms == 1500);
  CHECK(s->auth.kind == aws::AuthKind::kSecretRef);
  CHECK(s->auth.access_key_id.name == "aws");
  CHECK(s->auth.access_key_id.key == "id");
  CHECK(s->auth.secret_access_key.ns == "ops");
  CHECK(s->auth.session_token.key == "token");
}

TEST_CASE("parse_aws_spec: jwt.serviceAccountRef wins over secretRef", "[providers][aws]") {
  const json spec = json::parse(R"({
    "service": "SecretsManager", "region": "us-east-1",
    "auth": {"jwt": {"serviceAccountRef": {"name": "app-sa", "namespace": "apps",
                                           "audiences": ["extra"]}},
             "secretRef": {"accessKeyIDSecretRef": {"name": "a", "key": "b"}}}
  })");
  auto s = aws::parse_aws_spec(spec);
  REQUIRE(s.ok());
  CHECK(s->auth.kind == aws::AuthKind::kServiceAccount);
  CHECK(s->auth.sa_name == "app-sa");
  CHECK(s->auth.sa_ns == "apps");
  CHECK(s->auth.sa_audiences == std::vector<std::string>{"extra"});
  CHECK_FALSE(s->auth.access_key_id.set());
}

TEST_CASE("parse_aws_spec: retrySettings defaults and the Simple tags policy", "[providers][aws]") {
  auto s = aws::parse_aws_spec(json{{"service", "SecretsManager"},
                                    {"region", "us-east-1"},
                                    {"sessionTagsPolicy", "Simple"},
                                    {"retrySettings", json::object()}});
  REQUIRE(s.ok());
  CHECK(s->max_retries == 3);  // ESO: retrySettings without maxRetries
  CHECK(s->retry_interval_ms == -1);
  CHECK(s->session_tags_policy == aws::SessionTagsPolicy::kSimple);
}

TEST_CASE("parse_aws_spec: errors name the field, never a value", "[providers][aws]") {
  struct Case {
    const char* spec;
    const char* message;
  };
  const Case cases[] = {
      {R"({"region":"us-east-1"})", "spec.provider.aws.service is required"},
      {R"({"service":"CertificateManager","region":"us-east-1"})",
       "spec.provider.aws.service must be SecretsManager or ParameterStore"},
      {R"({"service":"SecretsManager"})", "spec.provider.aws.region is required"},
      {R"({"service":"SecretsManager","region":7})", "spec.provider.aws.region must be a string"},
      {R"({"service":"SecretsManager","region":"r","role":"admin-role-x"})",
       "spec.provider.aws.role must be an IAM role ARN"},
      {R"({"service":"SecretsManager","region":"r","additionalRoles":["nope-x"]})",
       "spec.provider.aws.additionalRoles must hold IAM role ARNs"},
      {R"({"service":"SecretsManager","region":"r","sessionTags":[{"value":"v-x"}]})",
       "spec.provider.aws.sessionTags.key is required"},
      {R"({"service":"SecretsManager","region":"r","sessionTagsPolicy":"All"})",
       "spec.provider.aws.sessionTagsPolicy must be None, Simple or Custom"},
      {R"({"service":"SecretsManager","region":"r","customSessionTags":{"a":1}})",
       "spec.provider.aws.customSessionTags must be an object of strings"},
      {R"({"service":"SecretsManager","region":"r","retrySettings":{"retryInterval":"soon-x"}})",
       "retrySettings.retryInterval is not a valid duration"},
      {R"({"service":"SecretsManager","region":"r","retrySettings":{"maxRetries":-1}})",
       "retrySettings.maxRetries must be an integer between 0 and 100"},
      {R"({"service":"SecretsManager","region":"r","auth":{"jwt":{}}})",
       "spec.provider.aws.auth.jwt.serviceAccountRef is required"},
      {R"({"service":"SecretsManager","region":"r","auth":{"jwt":{"serviceAccountRef":{}}}})",
       "spec.provider.aws.auth.jwt.serviceAccountRef.name is required"},
      {R"({"service":"SecretsManager","region":"r","auth":{"secretRef":{
           "accessKeyIDSecretRef":{"name":"a","key":"b"}}}})",
       "spec.provider.aws.auth.secretRef.secretAccessKeySecretRef is required"},
      {R"({"service":"SecretsManager","region":"r","auth":{"secretRef":{
           "accessKeyIDSecretRef":{"name":"a"},"secretAccessKeySecretRef":{"name":"a","key":"b"}}}})",
       "spec.provider.aws.auth.secretRef.accessKeyIDSecretRef.key is required"},
      {R"({"service":"SecretsManager","region":"r","auth":{"secretRef":{
           "accessKeyIDSecretRef":{"key":"k"},"secretAccessKeySecretRef":{"name":"a","key":"b"}}}})",
       "spec.provider.aws.auth.secretRef.accessKeyIDSecretRef.name is required"},
      {R"("just a string")", "spec.provider.aws must be an object"},
  };
  for (const Case& c : cases) {
    INFO(c.spec);
    auto s = aws::parse_aws_spec(json::parse(c.spec));
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::kInvalidConfig);
    CHECK(s.error().message == c.message);
    CHECK(s.error().message.find("-x") == std::string::npos);
  }
}
