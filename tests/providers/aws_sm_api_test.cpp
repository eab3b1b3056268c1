// SmApi: error parsing and classification (b.3), backoff math, and one signed JSON 1.1 call
// against a same-loop fake that verifies the signature: retries, credential refresh, counting,
// close().
#include "providers/aws/aws_sm_api.h"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "daemon/common/log.h"
#include "providers/aws_sm_fixture.h"

using esd::Error;
using esd::ErrorCode;
using esd::HttpResponse;
using esd::Sensitive;
using esd::test::TestReply;
using esd::test::awssm::aws_error;
using esd::test::awssm::Fixture;
using nlohmann::json;
namespace aws = esd::providers::aws;

namespace {

HttpResponse response(long status, std::string body, std::string error_type = "") {
  HttpResponse r;
  r.status = status;
  r.body = Sensitive(std::move(body));
  if (!error_type.empty()) r.headers["x-amzn-errortype"] = std::move(error_type);
  return r;
}

aws::AwsError err(std::string code, std::string message = "", long status = 400) {
  return aws::AwsError{status, std::move(code), std::move(message)};
}

struct ApiFixture : Fixture {
  std::shared_ptr<aws::SmApi> api;

  void make_api(aws::SmOptions options = {}) {
    aws::SmSetup setup;
    setup.ctx = ctx();
    setup.creds = creds;
    setup.endpoint = server.url("");
    setup.region = "us-east-1";
    if (options.retry_interval_ms < 0) options.retry_interval_ms = 1;
    setup.options = options;
    api = aws::SmApi::create(std::move(setup));
  }

  aws::SmReply call(const std::string& op, const json& body) {
    std::optional<aws::SmReply> out;
    api->call(op, body.dump(), [&](aws::SmReply r) { out = std::move(r); });
    CHECK_FALSE(out.has_value());  // never synchronous
    REQUIRE(loop.run_until([&] { return out.has_value(); }));
    return std::move(*out);
  }

  void end() {
    api->close();
    api.reset();
    finish();
  }
};

}  // namespace

TEST_CASE("aws api: error codes are parsed and normalized", "[providers][aws]") {
  CHECK(aws::normalize_error_code("ResourceNotFoundException") == "ResourceNotFoundException");
  CHECK(aws::normalize_error_code("com.amazonaws.secretsmanager#ResourceNotFoundException") ==
        "ResourceNotFoundException");
  CHECK(aws::normalize_error_code("ThrottlingException:http://internal.amazon.com/") ==
        "ThrottlingException");
  CHECK(aws::normalize_error_code("aws#X:y:z") == "X");

  auto a = aws::parse_aws_error(response(400, R"({"__type":"a#AccessDeniedException","Message":"no"})"));
  CHECK(a.status == 400);
  CHECK(a.code == "AccessDeniedException");
  CHECK(a.message == "no");
  auto b = aws::parse_aws_error(response(400, R"({"message":"Rate exceeded"})", "ThrottlingException:x"));
  CHECK(b.code == "ThrottlingException");
  CHECK(b.message == "Rate exceeded");
  auto c = aws::parse_aws_error(response(503, "<html>oops</html>"));
  CHECK(c.code.empty());
  CHECK(c.status == 503);
}

TEST_CASE("aws api: errors are classified like ESO", "[providers][aws]") {
  struct Case {
    aws::AwsError e;
    ErrorCode code;
  };
  const Case cases[] = {
      {err("ResourceNotFoundException"), ErrorCode::kNotFound},
      {err("InvalidRequestException",
           "You can't perform this operation on the secret because it was marked for deletion."),
       ErrorCode::kNotFound},
      {err("InvalidRequestException", "something else"), ErrorCode::kInvalidRef},
      {err("InvalidParameterException", "bad"), ErrorCode::kInvalidRef},
      {err("AccessDeniedException", "not authorized"), ErrorCode::kPermission},
      {err("DecryptionFailure", "kms"), ErrorCode::kPermission},
      {err("ThrottlingException", "Rate exceeded"), ErrorCode::kRateLimited},
      {err("TooManyRequestsException"), ErrorCode::kRateLimited},
      {err("LimitExceededException"), ErrorCode::kRateLimited},
      {err("InternalServiceError", "", 500), ErrorCode::kTransient},
      {err("ServiceUnavailable", "", 503), ErrorCode::kTransient},
      {err("", "", 502), ErrorCode::kTransient},
      {err("ExpiredTokenException"), ErrorCode::kAuth},
      {err("UnrecognizedClientException"), ErrorCode::kAuth},
      {err("InvalidSignatureException"), ErrorCode::kAuth},
      {err("MissingAuthenticationTokenException"), ErrorCode::kAuth},
      {err("SomethingNew"), ErrorCode::kInternal},
  };
  for (const Case& c : cases) {
    INFO(c.e.code + " " + c.e.message);
    CHECK(aws::classify_aws_error(c.e).code == c.code);
  }
  CHECK(aws::classify_aws_error(err("ResourceNotFoundException"), "app/db").message ==
        "secret app/db not found");
  CHECK(aws::classify_aws_error(err("InvalidRequestException", "was marked for deletion"), "x").message ==
        "secret x is marked for deletion");
  CHECK(aws::classify_aws_error(err("AccessDeniedException", "User u is not authorized")).message ==
        "AccessDeniedException: User u is not authorized");
  // The service may echo the canonical request (with the session token) in signature errors.
  const auto sig = aws::classify_aws_error(
      err("InvalidSignatureException", "The Canonical String was x-amz-security-token:TOKEN123"));
  CHECK(sig.message.find("TOKEN123") == std::string::npos);
  CHECK(aws::classify_aws_error(err("InvalidSignatureException", "Signature expired: 2020 is now earlier"))
            .message.find("clock") != std::string::npos);

  CHECK(aws::is_retryable(err("ThrottlingException")));
  CHECK(aws::is_retryable(err("InternalServiceError", "", 500)));
  CHECK(aws::is_retryable(err("", "", 504)));
  CHECK_FALSE(aws::is_retryable(err("AccessDeniedException")));
  CHECK_FALSE(aws::is_retryable(err("ResourceNotFoundException")));
  CHECK(aws::is_credential_rejection(err("ExpiredTokenException")));
  CHECK(aws::is_credential_rejection(err("UnrecognizedClientException")));
  CHECK(aws::is_credential_rejection(err("InvalidSignatureException", "mismatch")));
  CHECK_FALSE(aws::is_credential_rejection(err("InvalidSignatureException", "Signature expired: x")));
  CHECK_FALSE(aws::is_credential_rejection(err("AccessDeniedException")));
}

TEST_CASE("aws api: jittered exponential backoff", "[providers][aws]") {
  CHECK(aws::backoff_ms(0, 500, 20'000, 0.0) == 250);
  CHECK(aws::backoff_ms(0, 500, 20'000, 0.999) == 499);
  CHECK(aws::backoff_ms(1, 500, 20'000, 0.0) == 500);
  CHECK(aws::backoff_ms(2, 500, 20'000, 1.0) == 2000);
  CHECK(aws::backoff_ms(10, 500, 20'000, 1.0) == 20'000);
  CHECK(aws::backoff_ms(60, 500, 20'000, 0.0) == 10'000);  // no overflow
}

TEST_CASE("aws api: a signed JSON 1.1 call on the wire", "[providers][aws]") {
  ApiFixture f;
  f.sm.put("app/db", "value-1");
  f.make_api();
  auto r = f.call("GetSecretValue", {{"SecretId", "app/db"}});
  REQUIRE(r.body.ok());
  CHECK(json::parse(r.body->view())["SecretString"] == "value-1");
  REQUIRE(f.server.requests().size() == 1);
  const auto& req = f.server.requests()[0];
  CHECK(req.method == "POST");
  CHECK(req.target == "/");
  CHECK(req.headers.at("content-type") == "application/x-amz-json-1.1");
  CHECK(req.headers.at("x-amz-target") == "secretsmanager.GetSecretValue");
  CHECK(req.headers.at("host") == "127.0.0.1:" + std::to_string(f.server.port()));
  CHECK(req.headers.at("x-amz-date") == "20231114T221320Z");  // the FakeClock's time
  CHECK(req.headers.at("authorization")
            .rfind("AWS4-HMAC-SHA256 Credential=AKID1/20231114/us-east-1/secretsmanager/aws4_request, "
                   "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=",
                   0) == 0);
  CHECK(req.headers.count("x-amz-security-token") == 0);
  CHECK(json::parse(req.body) == json{{"SecretId", "app/db"}});
  CHECK(f.counted["GetSecretValue/ok"] == 1);
  CHECK(f.counted.size() == 1);
  f.end();
}

TEST_CASE("aws api: temporary credentials send and sign the session token", "[providers][aws]") {
  ApiFixture f;
  f.sm.put("k", "v");
  f.creds->session_token = "session-token-xyz";
  f.sm.session_token = "session-token-xyz";
  f.make_api();
  auto r = f.call("GetSecretValue", {{"SecretId", "k"}});
  REQUIRE(r.body.ok());
  const auto& req = f.server.requests().at(0);
  CHECK(req.headers.at("x-amz-security-token") == "session-token-xyz");
  CHECK(req.headers.at("authorization").find("x-amz-security-token;x-amz-target") != std::string::npos);
  f.end();
}

TEST_CASE("aws api: throttling and 5xx are retried, then classified", "[providers][aws]") {
  ApiFixture f;
  f.sm.put("k", "v");
  int failures = 2;
  std::string code = "ThrottlingException";
  f.sm.fault = [&](const std::string&, const json&) -> std::optional<TestReply> {
    if (failures <= 0) return std::nullopt;
    --failures;
    if (code == "reset") {
      TestReply reset;
      reset.action = TestReply::Action::kReset;
      return reset;
    }
    return aws_error(code, "Rate exceeded", code == "ThrottlingException" ? 400 : 500);
  };
  f.make_api();
  SECTION("two throttles, then success") {
    auto r = f.call("GetSecretValue", {{"SecretId", "k"}});
    CHECK(r.body.ok());
    CHECK(f.sm.count("GetSecretValue") == 3);
    CHECK(f.counted["GetSecretValue/err"] == 2);
    CHECK(f.counted["GetSecretValue/ok"] == 1);
  }
  SECTION("throttled beyond the retries: kRateLimited") {
    failures = 10;
    auto r = f.call("GetSecretValue", {{"SecretId", "k"}});
    REQUIRE_FALSE(r.body.ok());
    CHECK(r.body.error().code == ErrorCode::kRateLimited);
    CHECK(r.aws.code == "ThrottlingException");
    CHECK(f.sm.count("GetSecretValue") == 3);  // 1 + max_retries (2)
  }
  SECTION("500s are transient") {
    code = "InternalServiceError";
    failures = 10;
    auto r = f.call("GetSecretValue", {{"SecretId", "k"}});
    REQUIRE_FALSE(r.body.ok());
    CHECK(r.body.error().code == ErrorCode::kTransient);
    CHECK(f.sm.count("GetSecretValue") == 3);
  }
  SECTION("connection resets are retried") {
    code = "reset";
    auto r = f.call("GetSecretValue", {{"SecretId", "k"}});
    CHECK(r.body.ok());
    CHECK(f.sm.count("GetSecretValue") == 3);
  }
  f.end();
}

TEST_CASE("aws api: retrySettings maxRetries 0 and non-retryable errors make one call",
          "[providers][aws]") {
  ApiFixture f;
  std::string code = "ThrottlingException";
  f.sm.fault = [&](const std::string&, const json&) { return std::optional<TestReply>(aws_error(code, "x")); };
  SECTION("maxRetries 0") {
    aws::SmOptions o;
    o.max_retries = 0;
    f.make_api(o);
    auto r = f.call("GetSecretValue", {{"SecretId", "k"}});
    CHECK(r.body.error().code == ErrorCode::kRateLimited);
  }
  SECTION("AccessDenied is final") {
    code = "AccessDeniedException";
    f.make_api();
    auto r = f.call("GetSecretValue", {{"SecretId", "k"}});
    CHECK(r.body.error().code == ErrorCode::kPermission);
    CHECK(r.aws.code == "AccessDeniedException");
    CHECK(r.aws.message == "x");
  }
  CHECK(f.sm.count("GetSecretValue") == 1);
  CHECK(f.counted["GetSecretValue/err"] == 1);
  f.end();
}

TEST_CASE("aws api: rejected credentials are refreshed once, then kAuth", "[providers][aws]") {
  ApiFixture f;
  f.sm.put("k", "v");
  f.sm.keys.clear();
  f.make_api();
  SECTION("rotated keys: the second generation works") {
    f.sm.keys["AKID2"] = "secret-key-2";
    auto r = f.call("GetSecretValue", {{"SecretId", "k"}});
    REQUIRE(r.body.ok());
    CHECK(f.creds->invalidations == 1);
    CHECK(f.sm.count("GetSecretValue") == 2);
    CHECK(f.server.requests().back().headers.at("authorization").find("AKID2/") != std::string::npos);
  }
  SECTION("still rejected: kAuth after one refresh") {
    auto r = f.call("GetSecretValue", {{"SecretId", "k"}});
    REQUIRE_FALSE(r.body.ok());
    CHECK(r.body.error().code == ErrorCode::kAuth);
    CHECK(f.creds->invalidations == 1);
    CHECK(f.sm.count("GetSecretValue") == 2);
    CHECK(r.body.error().message.find("secret-key") == std::string::npos);
  }
  f.sm.problems.clear();  // the fake recorded the rejections on purpose
  f.end();
}

TEST_CASE("aws api: a clock-skew signature error does not refresh credentials",
          "[providers][aws]") {
  ApiFixture f;
  f.sm.fault = [](const std::string&, const json&) {
    return std::optional<TestReply>(aws_error(
        "InvalidSignatureException", "Signature expired: 20231114T221320Z is now earlier than ..."));
  };
  f.make_api();
  auto r = f.call("GetSecretValue", {{"SecretId", "k"}});
  REQUIRE_FALSE(r.body.ok());
  CHECK(r.body.error().code == ErrorCode::kAuth);
  CHECK(f.creds->invalidations == 0);
  CHECK(f.sm.count("GetSecretValue") == 1);
  f.end();
}

TEST_CASE("aws api: credential errors are passed on without a call", "[providers][aws]") {
  ApiFixture f;
  f.creds->fail = Error(ErrorCode::kPermission, "AccessDenied on AssumeRole");
  f.make_api();
  auto r = f.call("GetSecretValue", {{"SecretId", "k"}});
  REQUIRE_FALSE(r.body.ok());
  CHECK(r.body.error().code == ErrorCode::kPermission);
  CHECK(f.server.requests().empty());
  CHECK(f.counted.empty());
  f.end();
}

TEST_CASE("aws api: close() cancels transfers and retry timers", "[providers][aws]") {
  ApiFixture f;
  bool hang = true;
  f.sm.fault = [&](const std::string&, const json&) -> std::optional<TestReply> {
    if (hang) {
      TestReply h;
      h.action = TestReply::Action::kHang;
      return h;
    }
    return aws_error("ThrottlingException", "Rate exceeded");
  };
  SECTION("a hanging request") {
    f.make_api();
  }
  SECTION("a pending retry timer") {
    hang = false;
    aws::SmOptions o;
    o.retry_interval_ms = 60'000;
    f.make_api(o);
  }
  bool called = false;
  f.api->call("GetSecretValue", "{}", [&](aws::SmReply) { called = true; });
  REQUIRE(f.loop.run_until([&] {
    return hang ? f.server.requests().size() == 1 : f.counted["GetSecretValue/err"] == 1;
  }));
  f.api->close();
  CHECK(f.api->in_flight() == 0);
  f.api->call("GetSecretValue", "{}", [&](aws::SmReply) { called = true; });  // dropped
  f.end();
  CHECK_FALSE(called);
}

TEST_CASE("aws api: logs never hold keys, tokens or bodies", "[providers][aws]") {
  std::string logs;
  esd::log::set_level(esd::log::Level::kDebug);
  esd::log::set_sink([&](std::string_view line) { logs.append(line).append("\n"); });
  {
    ApiFixture f;
    f.sm.put("k", "canary-value-77");
    f.sm.keys.clear();
    f.sm.keys["AKID2"] = "secret-key-2";
    f.creds->session_token = "canary-token-88";
    int throttles = 1;
    f.sm.fault = [&](const std::string&, const json&) -> std::optional<TestReply> {
      if (throttles-- > 0) return aws_error("ThrottlingException", "Rate exceeded");
      return std::nullopt;
    };
    f.make_api();
    auto r = f.call("GetSecretValue", {{"SecretId", "k"}});
    CHECK(r.body.ok());
    f.sm.problems.clear();
    f.end();
  }
  esd::log::reset_sink();
  esd::log::set_level(esd::log::Level::kInfo);
  CHECK(logs.find("aws_request_retry") != std::string::npos);
  CHECK(logs.find("aws_credentials_rejected") != std::string::npos);
  for (const char* secret : {"canary-value-77", "canary-token-88", "secret-key-", "Signature="}) {
    INFO(secret);
    CHECK(logs.find(secret) == std::string::npos);
  }
}
