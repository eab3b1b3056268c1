// Parameter Store's pure pieces: names of remoteRefs, request bodies, reply parsing, name matching
// and error classes (aws_ps_values.h).
#include "providers/aws/aws_ps_values.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using esd::ErrorCode;
using esd::Sensitive;
using esd::providers::FindRef;
using esd::providers::MetadataPolicy;
using esd::providers::RemoteRef;
using nlohmann::json;
namespace aws = esd::providers::aws;

namespace {

RemoteRef ref(std::string key, std::string version = "") {
  RemoteRef r;
  r.key = std::move(key);
  r.version = std::move(version);
  return r;
}

Sensitive body(const json& j) { return Sensitive(j.dump()); }

}  // namespace

TEST_CASE("aws ps values: names, plain refs and request bodies", "[providers][aws]") {
  aws::AwsSpec spec;
  spec.prefix = "/prod";
  CHECK(aws::parameter_name(spec, ref("/db")) == "/prod/db");
  CHECK(aws::parameter_name(spec, ref("/db", "3")) == "/prod/db:3");
  CHECK(aws::parameter_name(spec, ref("/db", "label")) == "/prod/db:label");
  CHECK(aws::is_plain_parameter(ref("/db")));
  CHECK_FALSE(aws::is_plain_parameter(ref("/db", "3")));
  RemoteRef meta = ref("/db");
  meta.metadata_policy = MetadataPolicy::kFetch;
  CHECK_FALSE(aws::is_plain_parameter(meta));

  CHECK(json::parse(aws::get_parameter_body("/a:2")) ==
        json{{"Name", "/a:2"}, {"WithDecryption", true}});
  CHECK(json::parse(aws::get_parameters_body({"/a", "/b"})) ==
        json{{"Names", {"/a", "/b"}}, {"WithDecryption", true}});
  CHECK(json::parse(aws::get_parameters_by_path_body("", "")) ==
        json{{"Path", "/"}, {"Recursive", true}, {"WithDecryption", true}, {"MaxResults", 10}});
  CHECK(json::parse(aws::get_parameters_by_path_body("/x", "tok"))["NextToken"] == "tok");
  CHECK(json::parse(aws::list_tags_body("/a")) ==
        json{{"ResourceType", "Parameter"}, {"ResourceId", "/a"}});

  FindRef find;
  CHECK(aws::parameter_filters(find, false).empty());
  CHECK(aws::parameter_filters(find, true) ==
        json::array({{{"Key", "Path"}, {"Option", "Recursive"}, {"Values", {"/"}}}}));
  find.tags = {{"env", "prod"}};
  find.path = "/app";
  const json filters = aws::parameter_filters(find, false);
  CHECK(filters == json::array({{{"Key", "tag:env"}, {"Option", "Equals"}, {"Values", {"prod"}}},
                                {{"Key", "Path"}, {"Option", "Recursive"}, {"Values", {"/app"}}}}));
  CHECK(json::parse(aws::describe_parameters_body(filters, "")) ==
        json{{"ParameterFilters", filters}});
  CHECK(json::parse(aws::describe_parameters_body(filters, "t2"))["NextToken"] == "t2");
}

TEST_CASE("aws ps values: replies", "[providers][aws]") {
  auto one = aws::parse_get_parameter(body(
      {{"Parameter",
        {{"Name", "/a"}, {"Value", "v"}, {"Version", 4}, {"Selector", ":4"}, {"ARN", "arn:x"}}}}));
  REQUIRE(one.ok());
  CHECK(one->name == "/a");
  CHECK(one->value.view() == "v");
  CHECK(one->version == "4");
  CHECK(one->selector == ":4");
  CHECK(aws::parse_get_parameter(Sensitive(std::string("not json"))).error().code ==
        ErrorCode::kTransient);
  CHECK(aws::parse_get_parameter(body({{"Parameter", {{"Name", "/a"}}}})).error().code ==
        ErrorCode::kTransient);

  auto batch = aws::parse_get_parameters(
      body({{"Parameters", {{{"Name", "/a"}, {"Value", "1"}, {"Version", 1}}}},
            {"InvalidParameters", {"/b", "/c:9"}}}));
  REQUIRE(batch.ok());
  REQUIRE(batch->values.size() == 1);
  CHECK(batch->values[0].value.view() == "1");
  CHECK(batch->invalid == std::vector<std::string>{"/b", "/c:9"});
  CHECK(aws::parse_get_parameters(body({{"Parameters", "x"}})).error().code ==
        ErrorCode::kTransient);

  auto page = aws::parse_parameters_page(
      body({{"Parameters", {{{"Name", "/a/b"}, {"Value", "x"}}}}, {"NextToken", "n"}}));
  REQUIRE(page.ok());
  CHECK(page->values.at(0).name == "/a/b");
  CHECK(page->next_token == "n");
  auto desc = aws::parse_describe_page(
      body({{"Parameters", {{{"Name", "/a"}, {"Type", "String"}}, {{"Name", "/b"}}}}}));
  REQUIRE(desc.ok());
  CHECK(desc->names == std::vector<std::string>{"/a", "/b"});
  CHECK(desc->next_token.empty());

  auto tags = aws::parse_tag_list(
      body({{"TagList", {{{"Key", "z"}, {"Value", "1"}}, {{"Key", "a"}, {"Value", "<2>"}}}}}));
  REQUIRE(tags.ok());
  CHECK(tags->view() == R"({"a":"\u003c2\u003e","z":"1"})");
  CHECK(aws::parse_tag_list(body(json::object()))->view() == "{}");
}

TEST_CASE("aws ps values: name matching and error classes", "[providers][aws]") {
  aws::PsValue v;
  v.name = "/a";
  v.arn = "arn:aws:ssm:us-east-1:1:parameter/a";
  CHECK(aws::answers_name(v, "/a"));
  CHECK(aws::answers_name(v, v.arn));
  CHECK_FALSE(aws::answers_name(v, "/a:1"));
  CHECK_FALSE(aws::answers_name(v, ""));
  v.selector = ":1";
  CHECK(aws::answers_name(v, "/a:1"));
  CHECK_FALSE(aws::answers_name(v, "/a"));
  CHECK_FALSE(aws::answers_name(v, "/a:2"));

  struct Row {
    const char* code;
    long status;
    ErrorCode want;
  };
  const std::vector<Row> rows = {
      {"ParameterNotFound", 400, ErrorCode::kNotFound},
      {"ParameterVersionNotFound", 400, ErrorCode::kNotFound},
      {"InvalidResourceId", 400, ErrorCode::kNotFound},
      {"AccessDeniedException", 400, ErrorCode::kPermission},
      {"ThrottlingException", 400, ErrorCode::kRateLimited},
      {"InternalServerError", 500, ErrorCode::kTransient},
      {"UnrecognizedClientException", 400, ErrorCode::kAuth},
      {"ValidationException", 400, ErrorCode::kInvalidRef},
  };
  for (const auto& row : rows) {
    aws::AwsError e;
    e.status = row.status;
    e.code = row.code;
    e.message = "m";
    INFO(row.code);
    const auto err = aws::classify_ps_error(e, "/p");
    CHECK(err.code == row.want);
    if (row.want == ErrorCode::kNotFound) CHECK(err.message == "parameter /p not found");
  }
}
