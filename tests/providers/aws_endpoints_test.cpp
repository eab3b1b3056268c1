// Endpoint resolution (aws_endpoints.h): regional defaults, the AWS_ENDPOINT_URL* variables and
// ESO's, their priority, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, China regions, trailing slashes,
// bad regions and bad URLs; host_of(); the environment lookups.
#include "providers/aws/aws_endpoints.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <string>

#include "providers/aws/aws_env.h"

using esd::ErrorCode;
namespace aws = esd::providers::aws;

namespace {

aws::Endpoints resolve(const std::string& region, std::map<std::string, std::string> env = {}) {
  auto r = aws::resolve_endpoints(region, aws::map_env(std::move(env)));
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("AWS endpoints: regional defaults", "[providers][aws]") {
  const auto e = resolve("eu-west-1");
  CHECK(e.secrets_manager == "https://secretsmanager.eu-west-1.amazonaws.com");
  CHECK(e.ssm == "https://ssm.eu-west-1.amazonaws.com");
  CHECK(e.sts == "https://sts.eu-west-1.amazonaws.com");
}

TEST_CASE("AWS endpoints: China regions use amazonaws.com.cn", "[providers][aws]") {
  const auto e = resolve("cn-north-1");
  CHECK(e.secrets_manager == "https://secretsmanager.cn-north-1.amazonaws.com.cn");
  CHECK(e.ssm == "https://ssm.cn-north-1.amazonaws.com.cn");
  CHECK(e.sts == "https://sts.cn-north-1.amazonaws.com.cn");
}

TEST_CASE("AWS endpoints: each variable overrides its service", "[providers][aws]") {
  struct Row {
    const char* var;
    std::string aws::Endpoints::*field;
  };
  const Row rows[] = {
      {"AWS_ENDPOINT_URL_SECRETS_MANAGER", &aws::Endpoints::secrets_manager},
      {"AWS_SECRETSMANAGER_ENDPOINT", &aws::Endpoints::secrets_manager},
      {"AWS_ENDPOINT_URL_SSM", &aws::Endpoints::ssm},
      {"AWS_SSM_ENDPOINT", &aws::Endpoints::ssm},
      {"AWS_ENDPOINT_URL_STS", &aws::Endpoints::sts},
      {"AWS_STS_ENDPOINT", &aws::Endpoints::sts},
  };
  for (const Row& row : rows) {
    INFO(row.var);
    const auto e = resolve("us-east-1", {{row.var, "http://127.0.0.1:4566"}});
    CHECK(e.*row.field == "http://127.0.0.1:4566");
    // The other services keep their regional endpoints.
    int overridden = 0;
    overridden += e.secrets_manager == "http://127.0.0.1:4566" ? 1 : 0;
    overridden += e.ssm == "http://127.0.0.1:4566" ? 1 : 0;
    overridden += e.sts == "http://127.0.0.1:4566" ? 1 : 0;
    CHECK(overridden == 1);
  }
}

TEST_CASE("AWS endpoints: AWS_ENDPOINT_URL applies to every service", "[providers][aws]") {
  const auto e = resolve("us-east-1", {{"AWS_ENDPOINT_URL", "https://localstack:4566"}});
  CHECK(e.secrets_manager == "https://localstack:4566");
  CHECK(e.ssm == "https://localstack:4566");
  CHECK(e.sts == "https://localstack:4566");
}

TEST_CASE("AWS endpoints: priority is service variable, ESO variable, global", "[providers][aws]") {
  const std::map<std::string, std::string> all = {
      {"AWS_ENDPOINT_URL_STS", "https://a"},
      {"AWS_STS_ENDPOINT", "https://b"},
      {"AWS_ENDPOINT_URL", "https://c"},
  };
  CHECK(resolve("us-east-1", all).sts == "https://a");
  auto no_sdk_service = all;
  no_sdk_service.erase("AWS_ENDPOINT_URL_STS");
  CHECK(resolve("us-east-1", no_sdk_service).sts == "https://b");
  auto only_global = no_sdk_service;
  only_global.erase("AWS_STS_ENDPOINT");
  CHECK(resolve("us-east-1", only_global).sts == "https://c");
}

TEST_CASE("AWS endpoints: AWS_IGNORE_CONFIGURED_ENDPOINT_URLS disables only the SDK variables",
          "[providers][aws]") {
  auto e = resolve("us-east-1", {{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"},
                                 {"AWS_ENDPOINT_URL_STS", "https://a"},
                                 {"AWS_ENDPOINT_URL", "https://c"},
                                 {"AWS_SECRETSMANAGER_ENDPOINT", "https://eso"}});
  CHECK(e.sts == "https://sts.us-east-1.amazonaws.com");
  CHECK(e.ssm == "https://ssm.us-east-1.amazonaws.com");
  CHECK(e.secrets_manager == "https://eso");
  e = resolve("us-east-1", {{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false"},
                            {"AWS_ENDPOINT_URL", "https://c"}});
  CHECK(e.sts == "https://c");
}

TEST_CASE("AWS endpoints: a trailing slash is removed", "[providers][aws]") {
  const auto e = resolve("us-east-1", {{"AWS_ENDPOINT_URL_STS", "http://localhost:4566/"},
                                       {"AWS_SECRETSMANAGER_ENDPOINT", "https://x/base//"}});
  CHECK(e.sts == "http://localhost:4566");
  CHECK(e.secrets_manager == "https://x/base");
}

TEST_CASE("AWS endpoints: bad regions and URLs are kInvalidConfig", "[providers][aws]") {
  for (const char* region : {"", "US-EAST-1", "us east 1", "us_east_1", "eu-west-1/x"}) {
    INFO(region);
    auto r = aws::resolve_endpoints(region, aws::map_env({}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidConfig);
  }
  for (const char* url : {"localhost:4566", "ftp://x", "https://", "http:///path"}) {
    INFO(url);
    auto r = aws::resolve_endpoints("us-east-1", aws::map_env({{"AWS_STS_ENDPOINT", url}}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidConfig);
    CHECK(r.error().message.find("AWS_STS_ENDPOINT") != std::string::npos);
  }
}

TEST_CASE("AWS endpoints: host_of gives the Host header", "[providers][aws]") {
  CHECK(aws::host_of("https://secretsmanager.us-east-1.amazonaws.com") ==
        "secretsmanager.us-east-1.amazonaws.com");
  CHECK(aws::host_of("http://127.0.0.1:4566") == "127.0.0.1:4566");
  CHECK(aws::host_of("http://127.0.0.1:4566/some/path?x=1") == "127.0.0.1:4566");
  CHECK(aws::host_of("https://sts.amazonaws.com:443/") == "sts.amazonaws.com");
  CHECK(aws::host_of("http://localhost:80") == "localhost");
  CHECK(aws::host_of("https://example.com:8443") == "example.com:8443");
  CHECK(aws::host_of("http://[::1]:8080/x") == "[::1]:8080");
  CHECK(aws::host_of("http://[fd00:ec2::23]/v1") == "[fd00:ec2::23]");
  CHECK(aws::host_of("https://user:pw@host.example:9000/") == "host.example:9000");
  CHECK(aws::host_of("not a url").empty());
}

TEST_CASE("AWS env: map_env and process_env", "[providers][aws]") {
  auto env = aws::map_env({{"A", "1"}});
  CHECK(env("A") == "1");
  CHECK(env("B").empty());
  ::setenv("ESD_AWS_ENV_TEST_VAR", "value", 1);
  auto proc = aws::process_env();
  CHECK(proc("ESD_AWS_ENV_TEST_VAR") == "value");
  ::unsetenv("ESD_AWS_ENV_TEST_VAR");
  CHECK(proc("ESD_AWS_ENV_TEST_VAR").empty());
}
