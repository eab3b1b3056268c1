// STS (aws_sts.h): form encoding and bodies, XML credential parsing, error classification and
// messages (never a secret), the SigV4 header of AssumeRole, and StsClient against a same-loop
// fake STS (signed AssumeRole, unsigned web identity, metrics, failures, cancellation).
#include "providers/aws/aws_sts.h"

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws_fake_sts.h"
#include "daemon/http/http_client.h"
#include "support/loop_runner.h"
#include "support/test_http_server.h"

using esd::ErrorCode;
using esd::Result;
using esd::Sensitive;
using esd::test::FakeSts;
using esd::test::TestHttpServer;
using esd::test::TestLoop;
using esd::test::TestReply;
using esd::test::TestRequest;
namespace aws = esd::providers::aws;

namespace {

constexpr int64_t kNow = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

aws::Credentials creds(const std::string& akid, const std::string& secret,
                       const std::string& token = "") {
  aws::Credentials c;
  c.access_key_id = akid;
  c.secret_access_key = Sensitive(secret);
  c.session_token = Sensitive(token);
  return c;
}

std::string header(const esd::HttpRequest& req, const std::string& name) {
  for (const auto& [k, v] : req.headers) {
    if (k == name) return v;
  }
  return "";
}

struct Fixture {
  TestLoop loop;
  esd::FakeClock clock{kNow};
  FakeSts sts{&clock};
  TestHttpServer server{loop.get(), [this](const TestRequest& r) { return sts.handle(r); }};
  esd::HttpClient http{loop.get()};
  std::shared_ptr<aws::AwsTransfers> transfers = std::make_shared<aws::AwsTransfers>(&http);
  std::map<std::string, int> counted;  // "<call>/<ok|err>"
  std::unique_ptr<aws::StsClient> client;

  Fixture() {
    esd::http_global_init();
    sts.keys["AKIDSTATIC"] = "static-secret";
    client = std::make_unique<aws::StsClient>(
        transfers, &clock,
        [this](std::string_view provider, std::string_view call, bool ok) {
          CHECK(provider == "AWS/STS");
          ++counted[std::string(call) + (ok ? "/ok" : "/err")];
        },
        server.url(""), "us-east-1");
  }
  Result<aws::TimedCredentials> assume(const aws::Credentials& base, aws::AssumeRoleInput in) {
    std::optional<Result<aws::TimedCredentials>> out;
    client->assume_role(base, in, [&](Result<aws::TimedCredentials> r) { out = std::move(r); });
    REQUIRE(loop.run_until([&] { return out.has_value(); }));
    return std::move(*out);
  }
  Result<aws::TimedCredentials> web_identity(const std::string& jwt) {
    std::optional<Result<aws::TimedCredentials>> out;
    client->assume_role_with_web_identity(
        "arn:aws:iam::111122223333:role/irsa", "sess", Sensitive(jwt),
        [&](Result<aws::TimedCredentials> r) { out = std::move(r); });
    REQUIRE(loop.run_until([&] { return out.has_value(); }));
    return std::move(*out);
  }
  void finish() {
    transfers->cancel_all();
    http.shutdown();
    server.close();
    REQUIRE(loop.close() == 0);
  }
};

aws::AssumeRoleInput role(const std::string& arn) {
  aws::AssumeRoleInput in;
  in.role_arn = arn;
  return in;
}

}  // namespace

TEST_CASE("STS: form values keep only RFC 3986 unreserved characters", "[providers][aws]") {
  CHECK(aws::form_escape("AZaz09-_.~") == "AZaz09-_.~");
  CHECK(aws::form_escape("arn:aws:iam::1:role/x y") == "arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx%20y");
  CHECK(aws::form_escape("a+b=c&d") == "a%2Bb%3Dc%26d");
  CHECK(aws::form_escape("\xC3\xA9") == "%C3%A9");
}

TEST_CASE("STS: AssumeRole form body", "[providers][aws]") {
  aws::AssumeRoleInput in = role("arn:aws:iam::111122223333:role/app");
  SECTION("minimal: action, version, role, default session name; nothing optional") {
    const Sensitive body = aws::assume_role_form(in);
    CHECK(body.view() ==
          "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole"
          "%2Fapp&RoleSessionName=external-secrets-provider-aws");
  }
  SECTION("external id, tags, transitive keys, duration") {
    in.external_id = "ext id/1";
    in.tags = {{"team", "a b"}, {"env", "prod"}};
    in.transitive_tag_keys = {"team", "env"};
    in.duration_s = 900;
    const auto p = esd::test::parse_form(std::string(aws::assume_role_form(in).view()));
    CHECK(p.at("Action") == "AssumeRole");
    CHECK(p.at("Version") == "2011-06-15");
    CHECK(p.at("RoleSessionName") == "external-secrets-provider-aws");
    CHECK(p.at("ExternalId") == "ext id/1");
    CHECK(p.at("DurationSeconds") == "900");
    CHECK(p.at("Tags.member.1.Key") == "team");
    CHECK(p.at("Tags.member.1.Value") == "a b");
    CHECK(p.at("Tags.member.2.Key") == "env");
    CHECK(p.at("Tags.member.2.Value") == "prod");
    CHECK(p.at("TransitiveTagKeys.member.1") == "team");
    CHECK(p.at("TransitiveTagKeys.member.2") == "env");
    CHECK(p.size() == 12);
  }
}

TEST_CASE("STS: AssumeRoleWithWebIdentity form body", "[providers][aws]") {
  const Sensitive body =
      aws::web_identity_form("arn:aws:iam::1:role/r", "s1", Sensitive(std::string("a.b.c")));
  CHECK(body.view() ==
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3A"
        "role%2Fr&RoleSessionName=s1&WebIdentityToken=a.b.c");
}

TEST_CASE("STS: credentials are read from the XML reply", "[providers][aws]") {
  const std::string xml =
      "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
      "<AssumeRoleResult><AssumedRoleUser><Arn>x</Arn></AssumedRoleUser><Credentials>\n"
      "  <AccessKeyId>ASIA123</AccessKeyId>\n  "
      "<SecretAccessKey>s/e+c&amp;r&#x41;t</SecretAccessKey>\n"
      "  <SessionToken>tok&lt;en&#65;</SessionToken>\n"
      "  <Expiration>2026-01-01T01:00:00Z</Expiration>\n</Credentials></AssumeRoleResult>"
      "</AssumeRoleResponse>";
  auto r = aws::parse_sts_credentials(xml);
  REQUIRE(r.ok());
  CHECK(r->creds->access_key_id == "ASIA123");
  CHECK(r->creds->secret_access_key.view() == "s/e+c&rAt");
  CHECK(r->creds->session_token.view() == "tok<enA");
  CHECK(r->expires_ms == kNow + 3'600'000);
}

TEST_CASE("STS: a reply without credentials is kTransient", "[providers][aws]") {
  for (const char* xml :
       {"", "<html>proxy error</html>",
        "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
        "<SessionToken>t</SessionToken></Credentials>",
        "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
        "<SessionToken>t</SessionToken><Expiration>soon</Expiration></Credentials>",
        "<Credentials><AccessKeyId></AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
        "<SessionToken>t</SessionToken><Expiration>2026-01-01T01:00:00Z</Expiration>"
        "</Credentials>"}) {
    INFO(xml);
    auto r = aws::parse_sts_credentials(xml);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kTransient);
  }
}

TEST_CASE("STS: error codes are classified", "[providers][aws]") {
  struct Row {
    const char* code;
    long status;
    ErrorCode want;
  };
  const Row rows[] = {
      {"AccessDenied", 403, ErrorCode::kPermission},
      {"InvalidIdentityToken", 400, ErrorCode::kAuth},
      {"ExpiredTokenException", 400, ErrorCode::kAuth},
      {"ExpiredToken", 400, ErrorCode::kAuth},
      {"InvalidClientTokenId", 403, ErrorCode::kAuth},
      {"SignatureDoesNotMatch", 403, ErrorCode::kAuth},
      {"IDPRejectedClaim", 403, ErrorCode::kAuth},
      {"Throttling", 400, ErrorCode::kRateLimited},
      {"ThrottlingException", 400, ErrorCode::kRateLimited},
      {"ValidationError", 400, ErrorCode::kInvalidConfig},
      {"IDPCommunicationError", 400, ErrorCode::kTransient},
      {"InternalFailure", 500, ErrorCode::kTransient},
      {"", 503, ErrorCode::kTransient},
      {"", 502, ErrorCode::kTransient},
      {"", 429, ErrorCode::kRateLimited},
      {"SomethingNew", 500, ErrorCode::kTransient},
  };
  for (const Row& row : rows) {
    INFO(row.code << " " << row.status);
    CHECK(aws::classify_sts_error(row.code, row.status) == row.want);
  }
}

TEST_CASE("STS: error message format, and no secret in it", "[providers][aws]") {
  const std::string arn = "arn:aws:iam::111122223333:role/app";
  SECTION("code and message") {
    const auto e =
        aws::sts_error("AssumeRole", arn, 403,
                       FakeSts::error(403, "AccessDenied", "Not authorized &amp; denied").body);
    CHECK(e.code == ErrorCode::kPermission);
    CHECK(e.native == 403);
    CHECK(e.message == "sts AssumeRole " + arn + ": AccessDenied: Not authorized & denied");
  }
  SECTION("a body that is not STS XML") {
    const auto e = aws::sts_error("AssumeRole", arn, 503, "<html>Service Unavailable</html>");
    CHECK(e.code == ErrorCode::kTransient);
    CHECK(e.message == "sts AssumeRole " + arn + ": HTTP 503");
  }
  SECTION("a message that echoes a secret is scrubbed") {
    const std::string jwt = "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl";
    const auto e =
        aws::sts_error("AssumeRoleWithWebIdentity", arn, 400,
                       FakeSts::error(400, "InvalidIdentityToken", "bad token " + jwt).body, {jwt});
    CHECK(e.code == ErrorCode::kAuth);
    CHECK(e.message.find(jwt) == std::string::npos);
    CHECK(e.message.find("[redacted]") != std::string::npos);
  }
}

TEST_CASE("STS: AssumeRole is SigV4-signed for sts with the base key", "[providers][aws]") {
  Fixture f;
  SECTION("long-term keys: no security token") {
    auto req = f.client->build_assume_role(creds("AKIDSTATIC", "static-secret"),
                                           role("arn:aws:iam::1:role/r"));
    REQUIRE(req.ok());
    const std::string auth = header(*req, "Authorization");
    CHECK(auth.rfind("AWS4-HMAC-SHA256 Credential=AKIDSTATIC/20260101/us-east-1/sts/aws4_request, "
                     "SignedHeaders=",
                     0) == 0);
    CHECK(header(*req, "X-Amz-Date") == "20260101T000000Z");
    CHECK(header(*req, "X-Amz-Security-Token").empty());
    CHECK(header(*req, "Content-Type") == "application/x-www-form-urlencoded; charset=utf-8");
    CHECK(req->method == "POST");
  }
  SECTION("temporary keys: X-Amz-Security-Token sent and signed") {
    auto req = f.client->build_assume_role(creds("ASIATEMP", "s", "the-token"),
                                           role("arn:aws:iam::1:role/r"));
    REQUIRE(req.ok());
    CHECK(header(*req, "X-Amz-Security-Token") == "the-token");
    CHECK(header(*req, "Authorization").find("x-amz-security-token") != std::string::npos);
  }
  SECTION("no secret key: kAuth without the secret in the message") {
    auto req = f.client->build_assume_role(creds("AKID", ""), role("arn:aws:iam::1:role/r"));
    REQUIRE_FALSE(req.ok());
    CHECK(req.error().code == ErrorCode::kAuth);
  }
  f.finish();
}

TEST_CASE("StsClient: AssumeRole against the fake verifies the signature", "[providers][aws]") {
  Fixture f;
  aws::AssumeRoleInput in = role("arn:aws:iam::111122223333:role/app");
  in.external_id = "ext-1";
  auto r = f.assume(creds("AKIDSTATIC", "static-secret"), in);
  REQUIRE(r.ok());
  REQUIRE(f.sts.calls.size() == 1);
  const auto& call = f.sts.calls[0];
  CHECK(call.sig.valid);
  CHECK(call.sig.akid == "AKIDSTATIC");
  CHECK(call.sig.scope == "20260101/us-east-1/sts/aws4_request");
  CHECK(call.params.at("ExternalId") == "ext-1");
  CHECK(call.content_type == "application/x-www-form-urlencoded; charset=utf-8");
  CHECK(r->creds->access_key_id == "ASIAFAKE1");
  CHECK(r->creds->secret_access_key.view() == "secret/1+key");
  CHECK(r->creds->session_token.view() == "session&token/1");
  CHECK(r->expires_ms == kNow + 3'600'000);
  CHECK(f.counted["AssumeRole/ok"] == 1);

  // Chained: the issued temporary key signs the next call, with its token.
  auto r2 = f.assume(*r->creds, role("arn:aws:iam::111122223333:role/next"));
  REQUIRE(r2.ok());
  CHECK(f.sts.calls[1].sig.valid);
  CHECK(f.sts.calls[1].sig.akid == "ASIAFAKE1");
  CHECK(f.sts.calls[1].security_token == "session&token/1");
  CHECK(f.counted["AssumeRole/ok"] == 2);
  f.finish();
}

TEST_CASE("StsClient: a wrong secret key is rejected and classified kAuth", "[providers][aws]") {
  Fixture f;
  auto r = f.assume(creds("AKIDSTATIC", "not-the-secret"), role("arn:aws:iam::1:role/app1"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kAuth);
  CHECK(r.error().message.rfind("sts AssumeRole arn:aws:iam::1:role/app1: SignatureDoesNotMatch",
                                0) == 0);
  CHECK(r.error().message.find("not-the-secret") == std::string::npos);
  CHECK(f.counted["AssumeRole/err"] == 1);
  f.finish();
}

TEST_CASE("StsClient: web identity is unsigned and carries the JWT", "[providers][aws]") {
  Fixture f;
  auto r = f.web_identity(f.sts.expected_jwt);
  REQUIRE(r.ok());
  REQUIRE(f.sts.calls.size() == 1);
  CHECK_FALSE(f.sts.calls[0].sig.present);
  CHECK(f.sts.calls[0].params.at("RoleArn") == "arn:aws:iam::111122223333:role/irsa");
  CHECK(f.sts.calls[0].params.at("RoleSessionName") == "sess");
  CHECK(f.sts.calls[0].params.count("DurationSeconds") == 0);
  CHECK(f.counted["AssumeRoleWithWebIdentity/ok"] == 1);

  auto bad = f.web_identity("eyJwrong.jwt.value");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kAuth);
  CHECK(bad.error().message.find("InvalidIdentityToken") != std::string::npos);
  CHECK(bad.error().message.find("eyJwrong.jwt.value") == std::string::npos);
  CHECK(f.counted["AssumeRoleWithWebIdentity/err"] == 1);
  f.finish();
}

TEST_CASE("StsClient: throttling, 5xx and connection failures", "[providers][aws]") {
  Fixture f;
  SECTION("Throttling") {
    f.sts.fault = [](const esd::test::StsCall&) -> std::optional<TestReply> {
      return FakeSts::error(400, "Throttling", "Rate exceeded");
    };
    auto r = f.assume(creds("AKIDSTATIC", "static-secret"), role("arn:aws:iam::1:role/app"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kRateLimited);
  }
  SECTION("500 without XML") {
    f.sts.fault = [](const esd::test::StsCall&) -> std::optional<TestReply> {
      TestReply t;
      t.status = 500;
      t.body = "oops";
      return t;
    };
    auto r = f.web_identity(f.sts.expected_jwt);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kTransient);
    CHECK(r.error().native == 500);
  }
  SECTION("nothing listening") {
    f.server.close();
    f.client = std::make_unique<aws::StsClient>(f.transfers, &f.clock, nullptr,
                                                "http://127.0.0.1:1", "us-east-1");
    auto r = f.assume(creds("AKIDSTATIC", "static-secret"), role("arn:aws:iam::1:role/app"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kTransient);
    CHECK(r.error().message.rfind("sts AssumeRole arn:aws:iam::1:role/app: ", 0) == 0);
  }
  f.finish();
}

TEST_CASE("StsClient: cancel_all drops the callback of a call in flight", "[providers][aws]") {
  Fixture f;
  f.sts.hang = true;
  bool called = false;
  f.client->assume_role(creds("AKIDSTATIC", "static-secret"), role("arn:aws:iam::1:role/app"),
                        [&](Result<aws::TimedCredentials>) { called = true; });
  REQUIRE(f.loop.run_until([&] { return f.sts.calls.size() == 1; }));
  CHECK(f.transfers->in_flight() == 1);
  f.transfers->cancel_all();
  CHECK(f.http.in_flight() == 0);
  f.server.close();
  f.loop.run_until([] { return false; }, 50);
  CHECK_FALSE(called);
  f.finish();
}

TEST_CASE("StsClient: an endpoint with a path is signed with the path it sends",
          "[providers][aws]") {
  Fixture f;
  f.client = std::make_unique<aws::StsClient>(f.transfers, &f.clock, nullptr,
                                              f.server.url("/proxy/sts"), "us-east-1");
  auto r = f.assume(creds("AKIDSTATIC", "static-secret"), role("arn:aws:iam::1:role/app"));
  REQUIRE(r.ok());
  REQUIRE(f.server.requests().size() == 1);
  CHECK(f.server.requests()[0].target == "/proxy/sts/");
  CHECK(f.sts.calls[0].sig.valid);
  f.finish();
}
