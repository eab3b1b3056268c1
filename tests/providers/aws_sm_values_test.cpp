// Secrets Manager bodies and value shaping (pure): request bodies, reply parsing, id matching,
// ESO's property / extract / metadata rules.
#include "providers/aws/aws_sm_values.h"

#include <catch2/catch.hpp>

#include <string>

#include "daemon/common/crypto.h"

using esd::ErrorCode;
using esd::Sensitive;
using nlohmann::json;
namespace aws = esd::providers::aws;
using esd::providers::FindRef;
using esd::providers::MetadataPolicy;
using esd::providers::RemoteRef;

namespace {

Sensitive body(const json& j) { return Sensitive(j.dump()); }

aws::SmValue value(std::string name, std::string arn, std::string data) {
  aws::SmValue v;
  v.name = std::move(name);
  v.arn = std::move(arn);
  v.data = Sensitive(std::move(data));
  return v;
}

}  // namespace

TEST_CASE("aws values: request bodies", "[providers][aws]") {
  CHECK(json::parse(aws::get_secret_value_body("app/db", "")) ==
        json{{"SecretId", "app/db"}, {"VersionStage", "AWSCURRENT"}});
  CHECK(json::parse(aws::get_secret_value_body("app/db", "AWSPREVIOUS")) ==
        json{{"SecretId", "app/db"}, {"VersionStage", "AWSPREVIOUS"}});
  CHECK(json::parse(aws::get_secret_value_body("app/db", "uuid/1234-abcd")) ==
        json{{"SecretId", "app/db"}, {"VersionId", "1234-abcd"}});
  CHECK(json::parse(aws::describe_secret_body("x")) == json{{"SecretId", "x"}});
  CHECK(json::parse(aws::batch_ids_body({"a", "b"})) == json{{"SecretIdList", {"a", "b"}}});

  FindRef f;
  f.path = "team/";
  f.tags = {{"env", "prod"}, {"app", "web"}};
  const json filters = aws::find_filters(f);
  CHECK(filters == json::parse(R"([{"Key":"name","Values":["team/"]},
      {"Key":"tag-key","Values":["app"]},{"Key":"tag-value","Values":["web"]},
      {"Key":"tag-key","Values":["env"]},{"Key":"tag-value","Values":["prod"]}])"));
  CHECK(json::parse(aws::batch_filters_body(filters, "")) ==
        json{{"Filters", filters}, {"MaxResults", 20}});
  CHECK(json::parse(aws::batch_filters_body(filters, "tok")) ==
        json{{"Filters", filters}, {"MaxResults", 20}, {"NextToken", "tok"}});
  CHECK(json::parse(aws::list_secrets_body(json::array(), "")) == json{{"MaxResults", 100}});
  CHECK(json::parse(aws::list_secrets_body(filters, "n")) ==
        json{{"MaxResults", 100}, {"Filters", filters}, {"NextToken", "n"}});
  CHECK(aws::find_filters(FindRef{}).empty());
}

TEST_CASE("aws values: keys, prefixes and which refs are batched", "[providers][aws]") {
  aws::AwsSpec spec;
  spec.prefix = "prod/";
  CHECK(aws::secret_id(spec, "db") == "prod/db");
  RemoteRef r;
  r.key = "db";
  CHECK(aws::is_plain(r));
  r.version = "AWSCURRENT";
  CHECK(aws::is_plain(r));
  r.version = "AWSPREVIOUS";
  CHECK_FALSE(aws::is_plain(r));
  r.version = "";
  r.metadata_policy = MetadataPolicy::kFetch;
  CHECK_FALSE(aws::is_plain(r));
}

TEST_CASE("aws values: GetSecretValue and BatchGetSecretValue replies", "[providers][aws]") {
  auto s = aws::parse_get_secret_value(
      body({{"ARN", "arn:x"}, {"Name", "n"}, {"VersionId", "v1"}, {"SecretString", "hello"},
            {"CreatedDate", 1.523477145713E9}}));
  REQUIRE(s.ok());
  CHECK(s->name == "n");
  CHECK(s->arn == "arn:x");
  CHECK(s->version_id == "v1");
  CHECK(s->data.view() == "hello");
  CHECK_FALSE(s->binary);

  const std::string raw("\x00\xff\x01 bin", 6);
  auto b = aws::parse_get_secret_value(body({{"Name", "b"}, {"SecretBinary", esd::base64_encode(raw)}}));
  REQUIRE(b.ok());
  CHECK(b->binary);
  CHECK(b->data.view() == raw);

  auto none = aws::parse_get_secret_value(body({{"Name", "empty"}}));
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ErrorCode::kTransient);
  CHECK_FALSE(aws::parse_get_secret_value(Sensitive(std::string("not json"))).ok());
  CHECK_FALSE(aws::parse_get_secret_value(body({{"Name", "x"}, {"SecretBinary", "!!"}})).ok());

  auto batch = aws::parse_batch_reply(body(json::parse(R"({
      "SecretValues": [{"Name": "a", "ARN": "arn:a", "VersionId": "1", "SecretString": "A"}],
      "Errors": [{"SecretId": "b", "ErrorCode": "ResourceNotFoundException", "Message": "gone"}],
      "NextToken": "t2"})")));
  REQUIRE(batch.ok());
  REQUIRE(batch->values.size() == 1);
  CHECK(batch->values[0].data.view() == "A");
  REQUIRE(batch->errors.size() == 1);
  CHECK(batch->errors[0].secret_id == "b");
  CHECK(batch->errors[0].error.code == "ResourceNotFoundException");
  CHECK(batch->errors[0].error.message == "gone");
  CHECK(batch->next_token == "t2");

  auto empty = aws::parse_batch_reply(body({{"SecretValues", json::array()}, {"NextToken", nullptr}}));
  REQUIRE(empty.ok());
  CHECK(empty->values.empty());
  CHECK(empty->next_token.empty());

  auto list = aws::parse_list_reply(
      body({{"SecretList", {{{"Name", "x"}}, {{"Name", "y"}, {"Tags", json::array()}}}}, {"NextToken", "n"}}));
  REQUIRE(list.ok());
  CHECK(list->names == std::vector<std::string>{"x", "y"});
  CHECK(list->next_token == "n");
}

TEST_CASE("aws values: DescribeSecret tags as ESO's metadata JSON", "[providers][aws]") {
  auto tags = aws::parse_describe_tags(body(json::parse(
      R"({"Name":"n","Tags":[{"Key":"z","Value":"1"},{"Key":"a","Value":"<b>&"}]})")));
  REQUIRE(tags.ok());
  CHECK(tags->view() == R"({"a":"\u003cb\u003e\u0026","z":"1"})");
  auto none = aws::parse_describe_tags(body({{"Name", "n"}}));
  REQUIRE(none.ok());
  CHECK(none->view() == "{}");
}

TEST_CASE("aws values: a reply answers a request by name, ARN or partial ARN", "[providers][aws]") {
  const auto v = value("app/db", "arn:aws:secretsmanager:us-east-1:1:secret:app/db-AbCdEf", "");
  CHECK(aws::matches_id(v, "app/db"));
  CHECK(aws::matches_id(v, "arn:aws:secretsmanager:us-east-1:1:secret:app/db-AbCdEf"));
  CHECK(aws::matches_id(v, "arn:aws:secretsmanager:us-east-1:1:secret:app/db"));
  CHECK_FALSE(aws::matches_id(v, "arn:aws:secretsmanager:us-east-1:1:secret:app/d"));
  CHECK_FALSE(aws::matches_id(v, "app/db2"));
  CHECK_FALSE(aws::matches_id(v, ""));
}

TEST_CASE("aws values: property, extract and ESO's missing-key error", "[providers][aws]") {
  const Sensitive doc(std::string(R"({"user":"admin","db.port":5432,"nested":{"a":[1,2]}})"));
  CHECK(aws::select_property(doc, "", "app")->view() == doc.view());
  CHECK(aws::select_property(doc, "user", "app")->view() == "admin");
  CHECK(aws::select_property(doc, "db.port", "app")->view() == "5432");
  CHECK(aws::select_property(doc, "nested.a.1", "app")->view() == "2");
  auto missing = aws::select_property(doc, "password", "app");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kInvalidRef);
  CHECK(missing.error().message == "key password does not exist in secret app");
  auto text = aws::select_property(Sensitive(std::string("plain s3cr3t")), "user", "app");
  REQUIRE_FALSE(text.ok());
  CHECK(text.error().message == "key user does not exist in secret app");

  auto m = aws::explode_value(doc, "app");
  REQUIRE(m.ok());
  CHECK(m->at("user").view() == "admin");
  CHECK(m->at("db.port").view() == "5432");
  CHECK(m->at("nested").view() == R"({"a":[1,2]})");
  auto bad = aws::explode_value(Sensitive(std::string("\x01\x02 s3cr3t")), "bin");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidRef);
  CHECK(bad.error().message.find("s3cr3t") == std::string::npos);
}
