// The SDK default chain (aws_default_chain.h, aws_metadata.h): source selection and its order,
// environment keys, the web identity token file (re-read on every exchange), container
// credentials (token file, CR/LF, allowed hosts), IMDSv2 (token, role, credentials; disabled;
// unreachable fails fast), with a same-loop server standing in for every endpoint.
#include "providers/aws/aws_default_chain.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>

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
using Env = std::map<std::string, std::string>;

// A file under /tmp removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/esd_aws_chain_XXXXXX";
    const int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path_ = name;
    write(content);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  void write(const std::string& content) {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::fwrite(content.data(), 1, content.size(), f);
    std::fclose(f);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TestReply json_reply(int status, const std::string& body) {
  TestReply r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = body;
  return r;
}

const char* kMetadataCreds =
    R"({"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAMETA","SecretAccessKey":"meta-secret",)"
    R"("Token":"meta-token","Expiration":"2026-01-01T06:00:00Z"})";

// One server for STS, container credentials and IMDS: routed by path.
struct Fixture {
  TestLoop loop;
  esd::FakeClock clock{kNow};
  FakeSts sts{&clock};
  std::function<TestReply(const TestRequest&)> metadata;
  TestHttpServer server{loop.get(), [this](const TestRequest& r) {
                          if (r.target == "/" && r.method == "POST") return sts.handle(r);
                          return metadata ? metadata(r) : json_reply(404, "{}");
                        }};
  esd::HttpClient http{loop.get()};
  std::shared_ptr<aws::AwsTransfers> transfers = std::make_shared<aws::AwsTransfers>(&http);
  std::shared_ptr<aws::StsClient> sts_client =
      std::make_shared<aws::StsClient>(transfers, &clock, nullptr, server.url(""), "us-east-1");

  Fixture() { esd::http_global_init(); }

  // Runs the chain; `sync` tells whether it answered from inside the call.
  Result<aws::TimedCredentials> resolve(Env env, bool* sync = nullptr) {
    std::optional<Result<aws::TimedCredentials>> out;
    bool returned = false;
    aws::ChainDeps deps{aws::map_env(std::move(env)), transfers, sts_client, {}};
    aws::resolve_default_chain(deps, [&](Result<aws::TimedCredentials> r) {
      if (sync != nullptr) *sync = !returned;
      out = std::move(r);
    });
    returned = true;
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

}  // namespace

TEST_CASE("Default chain: source order", "[providers][aws]") {
  struct Row {
    Env env;
    aws::ChainSource want;
  };
  const Env keys = {{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "s"}};
  const Env web = {{"AWS_WEB_IDENTITY_TOKEN_FILE", "/f"},
                   {"AWS_ROLE_ARN", "arn:aws:iam::1:role/r"}};
  const Env full = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials"}};
  auto merge = [](Env a, const Env& b) {
    a.insert(b.begin(), b.end());
    return a;
  };
  const Row rows[] = {
      {merge(merge(keys, web), full), aws::ChainSource::kEnvironment},
      {merge(web, full), aws::ChainSource::kWebIdentity},
      {full, aws::ChainSource::kContainer},
      {{{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds"}}, aws::ChainSource::kContainer},
      {{{"AWS_ROLE_ARN", "arn:aws:iam::1:role/r"}}, aws::ChainSource::kImds},  // half web identity
      {{}, aws::ChainSource::kImds},
      {{{"AWS_EC2_METADATA_DISABLED", "false"}}, aws::ChainSource::kImds},
  };
  for (const Row& row : rows) {
    auto r = aws::select_chain_source(aws::map_env(row.env));
    REQUIRE(r.ok());
    CHECK(*r == row.want);
  }
}

TEST_CASE("Default chain: nothing configured and IMDS disabled", "[providers][aws]") {
  auto r = aws::select_chain_source(aws::map_env({{"AWS_EC2_METADATA_DISABLED", "true"}}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalidConfig);
  const std::string& m = r.error().message;
  CHECK(m.rfind("no AWS credentials: ", 0) == 0);
  for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE",
                           "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_EC2_METADATA_DISABLED"}) {
    CHECK(m.find(name) != std::string::npos);
  }
}

TEST_CASE("Default chain: half-set environment keys are an error", "[providers][aws]") {
  auto r = aws::select_chain_source(aws::map_env({{"AWS_ACCESS_KEY_ID", "AKIDHALF"}}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalidConfig);
  CHECK(r.error().message.find("AKIDHALF") == std::string::npos);
  r = aws::select_chain_source(aws::map_env({{"AWS_SECRET_ACCESS_KEY", "the-secret"}}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("the-secret") == std::string::npos);
}

TEST_CASE("Default chain: environment keys win over the web identity file", "[providers][aws]") {
  Fixture f;
  TempFile jwt(f.sts.expected_jwt);
  bool sync = false;
  auto r = f.resolve({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                      {"AWS_SECRET_ACCESS_KEY", "env-secret"},
                      {"AWS_SESSION_TOKEN", "env-token"},
                      {"AWS_CREDENTIAL_EXPIRATION", "2026-01-01T02:00:00Z"},
                      {"AWS_WEB_IDENTITY_TOKEN_FILE", jwt.path()},
                      {"AWS_ROLE_ARN", "arn:aws:iam::1:role/web"}},
                     &sync);
  REQUIRE(r.ok());
  CHECK(r->creds->access_key_id == "AKIDENV");
  CHECK(r->creds->secret_access_key.view() == "env-secret");
  CHECK(r->creds->session_token.view() == "env-token");
  CHECK(r->expires_ms == kNow + 2 * 3'600'000);
  CHECK(f.sts.calls.empty());
  CHECK(sync);  // documented: known at once (the provider defers it)

  auto plain = aws::environment_credentials(
      aws::map_env({{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "s"}}));
  REQUIRE(plain.ok());
  CHECK(plain->expires_ms == -1);
  CHECK(plain->creds->session_token.empty());
  f.finish();
}

TEST_CASE("Default chain: web identity file, re-read on every exchange", "[providers][aws]") {
  Fixture f;
  TempFile jwt(f.sts.expected_jwt);
  const Env env = {{"AWS_WEB_IDENTITY_TOKEN_FILE", jwt.path()},
                   {"AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/web"}};
  auto r = f.resolve(env);
  REQUIRE(r.ok());
  REQUIRE(f.sts.calls.size() == 1);
  CHECK_FALSE(f.sts.calls[0].sig.present);
  CHECK(f.sts.calls[0].action == "AssumeRoleWithWebIdentity");
  CHECK(f.sts.calls[0].params.at("RoleArn") == "arn:aws:iam::111122223333:role/web");
  CHECK(f.sts.calls[0].params.at("RoleSessionName") == "external-secrets-provider-aws");
  CHECK(f.sts.calls[0].params.at("WebIdentityToken") == f.sts.expected_jwt);
  CHECK(r->expires_ms == kNow + 3'600'000);

  // The kubelet rotated the file: the next exchange sends the new token.
  f.sts.expected_jwt = "rotated.jwt.token";
  jwt.write("rotated.jwt.token");
  Env named = env;
  named["AWS_ROLE_SESSION_NAME"] = "my-session";
  r = f.resolve(named);
  REQUIRE(r.ok());
  REQUIRE(f.sts.calls.size() == 2);
  CHECK(f.sts.calls[1].params.at("WebIdentityToken") == "rotated.jwt.token");
  CHECK(f.sts.calls[1].params.at("RoleSessionName") == "my-session");

  // A token STS rejects: kAuth, and the JWT is not in the message.
  jwt.write("stale.jwt.token");
  r = f.resolve(env);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kAuth);
  CHECK(r.error().message.find("stale.jwt.token") == std::string::npos);
  f.finish();
}

TEST_CASE("Default chain: a missing web identity file is kAuth", "[providers][aws]") {
  Fixture f;
  auto r = f.resolve({{"AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/esd/token"},
                      {"AWS_ROLE_ARN", "arn:aws:iam::1:role/web"}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kAuth);
  CHECK(r.error().message.find("AWS_WEB_IDENTITY_TOKEN_FILE") != std::string::npos);
  CHECK(f.sts.calls.empty());
  f.finish();
}

TEST_CASE("Container credentials: URL rules", "[providers][aws]") {
  auto url = aws::container_credentials_url(
      aws::map_env({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"},
                    {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/x"}}));
  REQUIRE(url.ok());
  CHECK(**url == "http://169.254.170.2/v2/credentials/abc");
  for (const char* ok :
       {"http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/v1/c",
        "http://169.254.170.2/x", "http://localhost:8080/c", "https://creds.example.com/c"}) {
    INFO(ok);
    auto r =
        aws::container_credentials_url(aws::map_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", ok}}));
    REQUIRE(r.ok());
    CHECK(**r == ok);
  }
  for (const char* bad : {"http://10.0.0.1/c", "http://169.254.169.254/c", "ftp://x/c", "x"}) {
    INFO(bad);
    auto r =
        aws::container_credentials_url(aws::map_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", bad}}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidConfig);
  }
  auto none = aws::container_credentials_url(aws::map_env({}));
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
}

TEST_CASE("Container credentials: token file, re-read each time, wins over the variable",
          "[providers][aws]") {
  Fixture f;
  std::vector<std::string> auth_seen;
  f.metadata = [&](const TestRequest& r) {
    auth_seen.push_back(r.headers.count("authorization") ? r.headers.at("authorization") : "");
    CHECK(r.method == "GET");
    CHECK(r.target == "/v1/credentials");
    CHECK(r.headers.at("accept") == "application/json");
    return json_reply(200, kMetadataCreds);
  };
  TempFile token("pod-identity-token-1");
  Env env = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", f.server.url("/v1/credentials")},
             {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token.path()},
             {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-variable"}};
  auto r = f.resolve(env);
  REQUIRE(r.ok());
  CHECK(r->creds->access_key_id == "ASIAMETA");
  CHECK(r->creds->secret_access_key.view() == "meta-secret");
  CHECK(r->creds->session_token.view() == "meta-token");
  CHECK(r->expires_ms == kNow + 6 * 3'600'000);
  token.write("pod-identity-token-2");
  REQUIRE(f.resolve(env).ok());
  env.erase("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  REQUIRE(f.resolve(env).ok());
  CHECK(auth_seen ==
        std::vector<std::string>{"pod-identity-token-1", "pod-identity-token-2", "from-variable"});
  CHECK(f.sts.calls.empty());
  f.finish();
}

TEST_CASE("Container credentials: CR/LF in the token and HTTP errors", "[providers][aws]") {
  Fixture f;
  int requests = 0;
  f.metadata = [&](const TestRequest&) {
    ++requests;
    return json_reply(403, R"({"code":"AccessDenied","message":"token pod-token-x rejected"})");
  };
  TempFile token("pod-token\nx");
  Env env = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", f.server.url("/v1/credentials")},
             {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token.path()}};
  auto r = f.resolve(env);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalidConfig);
  CHECK(r.error().message.find("pod-token") == std::string::npos);
  CHECK(requests == 0);

  token.write("pod-token-x");
  r = f.resolve(env);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kAuth);
  CHECK(r.error().message.find("AccessDenied") != std::string::npos);
  CHECK(r.error().message.find("pod-token-x") == std::string::npos);
  CHECK(requests == 1);
  f.finish();
}

TEST_CASE("IMDSv2: token, role, credentials", "[providers][aws]") {
  Fixture f;
  std::vector<std::string> seen;
  f.metadata = [&](const TestRequest& r) {
    seen.push_back(r.method + " " + r.target);
    if (r.target == "/latest/api/token") {
      CHECK(r.method == "PUT");
      CHECK(r.headers.at("x-aws-ec2-metadata-token-ttl-seconds") == "21600");
      return json_reply(200, "imds-session-token");
    }
    CHECK(r.headers.at("x-aws-ec2-metadata-token") == "imds-session-token");
    if (r.target == "/latest/meta-data/iam/security-credentials/") {
      return json_reply(200, "node-role\nother-role\n");
    }
    if (r.target == "/latest/meta-data/iam/security-credentials/node-role") {
      return json_reply(200, kMetadataCreds);
    }
    return json_reply(404, "");
  };
  auto r = f.resolve({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", f.server.url("/")}});
  REQUIRE(r.ok());
  CHECK(r->creds->access_key_id == "ASIAMETA");
  CHECK(r->creds->session_token.view() == "meta-token");
  CHECK(r->expires_ms == kNow + 6 * 3'600'000);
  CHECK(seen == std::vector<std::string>{
                    "PUT /latest/api/token", "GET /latest/meta-data/iam/security-credentials/",
                    "GET /latest/meta-data/iam/security-credentials/node-role"});
  f.finish();
}

TEST_CASE("IMDSv2: skipped when disabled, and never used when something else is configured",
          "[providers][aws]") {
  Fixture f;
  int requests = 0;
  f.metadata = [&](const TestRequest&) {
    ++requests;
    return json_reply(200, kMetadataCreds);
  };
  auto r = f.resolve({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", f.server.url("")},
                      {"AWS_EC2_METADATA_DISABLED", "TRUE"}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalidConfig);
  CHECK(requests == 0);
  // A configured web identity whose file is missing fails; it does not fall through to IMDS.
  r = f.resolve({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", f.server.url("")},
                 {"AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token"},
                 {"AWS_ROLE_ARN", "arn:aws:iam::1:role/r"}});
  REQUIRE_FALSE(r.ok());
  CHECK(requests == 0);
  f.finish();
}

TEST_CASE("IMDSv2: an endpoint that does not answer fails fast", "[providers][aws]") {
  Fixture f;
  // A port nothing listens on: a server that was bound and closed again.
  auto* closed = new TestHttpServer(f.loop.get(), [](const TestRequest&) { return TestReply{}; });
  const std::string dead = closed->url("");
  closed->close();
  delete closed;
  const uint64_t start = uv_now(f.loop.get());
  auto r = f.resolve({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", dead}});
  uv_update_time(f.loop.get());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalidConfig);
  CHECK(r.error().message.rfind("no AWS credentials: ", 0) == 0);
  CHECK(r.error().message.find("IMDSv2") != std::string::npos);
  CHECK(uv_now(f.loop.get()) - start < 2500);
  f.finish();
}

TEST_CASE("IMDSv2: a hanging endpoint gives up within the request timeout", "[providers][aws]") {
  Fixture f;
  f.metadata = [](const TestRequest&) {
    TestReply h;
    h.action = TestReply::Action::kHang;
    return h;
  };
  std::optional<Result<aws::TimedCredentials>> out;
  aws::ChainDeps deps{aws::map_env({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", f.server.url("")}}),
                      f.transfers,
                      f.sts_client,
                      {200, 300}};
  aws::resolve_default_chain(deps, [&](Result<aws::TimedCredentials> r) { out = std::move(r); });
  REQUIRE(f.loop.run_until([&] { return out.has_value(); }, 3000));
  REQUIRE_FALSE(out->ok());
  CHECK(out->error().code == ErrorCode::kInvalidConfig);
  f.finish();
}

TEST_CASE("IMDSv2: no role attached, and a 5xx", "[providers][aws]") {
  Fixture f;
  int creds_status = 200;
  bool has_role = false;
  f.metadata = [&](const TestRequest& r) {
    if (r.target == "/latest/api/token") return json_reply(200, "t");
    if (r.target == "/latest/meta-data/iam/security-credentials/") {
      return has_role ? json_reply(200, "r") : json_reply(404, "");
    }
    return json_reply(creds_status, creds_status == 200 ? kMetadataCreds : "");
  };
  const Env env = {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", f.server.url("")}};
  auto r = f.resolve(env);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalidConfig);
  CHECK(r.error().message.find("no IAM role") != std::string::npos);
  has_role = true;
  creds_status = 503;
  r = f.resolve(env);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kTransient);
  f.finish();
}

TEST_CASE("Metadata credentials: JSON parsing", "[providers][aws]") {
  auto ok = aws::parse_metadata_credentials(
      R"({"AccessKeyId":"A","SecretAccessKey":"S","Token":"T","Expiration":"2026-01-01T00:10:00Z"})",
      "test");
  REQUIRE(ok.ok());
  CHECK(ok->expires_ms == kNow + 600'000);
  auto failed = aws::parse_metadata_credentials(R"({"Code":"AssumeRoleUnauthorizedAccess"})", "x");
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == ErrorCode::kAuth);
  for (const char* bad : {"", "[]", R"({"AccessKeyId":"A"})",
                          R"({"AccessKeyId":"A","SecretAccessKey":"S","Token":"T"})"}) {
    INFO(bad);
    auto r = aws::parse_metadata_credentials(bad, "x");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kTransient);
  }
}
