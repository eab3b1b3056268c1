// CredentialProvider (aws_credentials.h) against a same-loop fake STS: IRSA (annotations,
// audiences, TokenRequest, unsigned exchange), secretRef (parallel reads, 10 s re-read,
// invalidate), the default chain, the role chain (order, signing key of each layer, externalID
// and session tags only for `role`), caching until expiry minus the margin, per-layer caching,
// single flight, error classification, no secret in any message, close().
#include "providers/aws/aws_credentials.h"

#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws_fake_sts.h"
#include "daemon/http/http_client.h"
#include "daemon/loop/deferrer.h"
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
constexpr int64_t kMinute = 60'000;
using CredsResult = Result<std::shared_ptr<const aws::Credentials>>;

struct Fixture {
  TestLoop loop;
  esd::FakeClock clock{kNow};
  FakeSts sts{&clock};
  TestHttpServer server{loop.get(), [this](const TestRequest& r) { return sts.handle(r); }};
  esd::HttpClient http{loop.get()};
  std::unique_ptr<esd::Deferrer> deferrer = std::make_unique<esd::Deferrer>(loop.get());
  std::map<std::string, std::string> secrets;  // "<ns>/<name>/<key>" → value
  std::map<std::string, std::map<std::string, std::string>> annotations;  // "<ns>/<name>"
  std::vector<std::string> reads;  // "<ns>/<name>/<key>" in request order
  int reads_answered = 0;
  std::vector<std::string> token_requests;  // "<ns>/<name>|<aud1,aud2>|<exp>"
  std::map<std::string, int> counted;       // "<call>/<ok|err>"
  bool count_calls = true;
  std::map<std::string, std::string> env;
  std::unique_ptr<aws::CredentialProvider> provider;

  Fixture() {
    esd::http_global_init();
    sts.keys["AKIDSTATIC"] = "static-secret";
    secrets["apps/aws-keys/id"] = "AKIDSTATIC";
    secrets["apps/aws-keys/secret"] = "static-secret";
  }

  esd::providers::ProviderContext context() {
    esd::providers::ProviderContext ctx;
    ctx.loop = loop.get();
    ctx.http = &http;
    ctx.deferrer = deferrer.get();
    ctx.clock = &clock;
    ctx.store_kind = "SecretStore";
    ctx.store_name = "aws-store";
    ctx.store_namespace = "apps";
    ctx.es_namespace = "apps";
    ctx.refs.read_secret_key = [this](const std::string& ns, const std::string& name,
                                      const std::string& key,
                                      std::function<void(Result<Sensitive>)> done) {
      const std::string id = ns + "/" + name + "/" + key;
      reads.push_back(id);
      deferrer->post([this, id, done] {
        ++reads_answered;
        auto it = secrets.find(id);
        if (it == secrets.end()) return done(esd::Error(ErrorCode::kNotFound, "secret not found"));
        done(Sensitive(it->second));
      });
    };
    ctx.refs.read_sa_annotations =
        [this](const std::string& ns, const std::string& name,
               std::function<void(Result<std::map<std::string, std::string>>)> done) {
          const std::string id = ns + "/" + name;
          deferrer->post([this, id, done] {
            auto it = annotations.find(id);
            if (it == annotations.end()) {
              return done(esd::Error(ErrorCode::kNotFound, "serviceaccount not found"));
            }
            done(it->second);
          });
        };
    ctx.tokens.request_token = [this](const std::string& ns, const std::string& name,
                                      std::vector<std::string> aud, int64_t exp,
                                      std::function<void(Result<Sensitive>)> done) {
      std::string a;
      for (const auto& x : aud) a += (a.empty() ? "" : ",") + x;
      token_requests.push_back(ns + "/" + name + "|" + a + "|" + std::to_string(exp));
      deferrer->post([this, done] { done(Sensitive(sts.expected_jwt)); });
    };
    if (count_calls) {
      ctx.count_call = [this](std::string_view provider, std::string_view call, bool ok) {
        CHECK(provider == "AWS/STS");
        ++counted[std::string(call) + (ok ? "/ok" : "/err")];
      };
    }
    return ctx;
  }

  void create(const aws::AwsSpec& spec) {
    aws::CredentialDeps deps{context(), aws::Endpoints{"", "", server.url("")}, aws::map_env(env)};
    auto p = aws::make_credential_provider(spec, std::move(deps));
    REQUIRE(p.ok());
    provider = std::move(*p);
  }

  CredsResult get() {
    std::optional<CredsResult> out;
    provider->get([&](CredsResult r) { out = std::move(r); });
    CHECK_FALSE(out.has_value());  // never from inside get()
    REQUIRE(loop.run_until([&] { return out.has_value(); }));
    return std::move(*out);
  }
  std::string akid() {
    auto r = get();
    REQUIRE(r.ok());
    return (*r)->access_key_id;
  }

  void finish() {
    provider.reset();
    REQUIRE(http.in_flight() == 0);
    http.shutdown();
    server.close();
    deferrer.reset();
    REQUIRE(loop.close() == 0);
  }
};

aws::AwsSpec secret_ref_spec() {
  aws::AwsSpec spec;
  spec.region = "us-east-1";
  spec.auth.kind = aws::AuthKind::kSecretRef;
  spec.auth.access_key_id = {"aws-keys", "id", "apps"};
  spec.auth.secret_access_key = {"aws-keys", "secret", "apps"};
  return spec;
}

aws::AwsSpec irsa_spec() {
  aws::AwsSpec spec;
  spec.region = "us-east-1";
  spec.auth.kind = aws::AuthKind::kServiceAccount;
  spec.auth.sa_name = "app-sa";
  spec.auth.sa_ns = "apps";
  return spec;
}

}  // namespace

TEST_CASE("AWS credentials: secretRef keys, read in parallel, no STS", "[providers][aws]") {
  Fixture f;
  f.secrets["apps/aws-keys/token"] = "static-session-token";
  auto spec = secret_ref_spec();
  spec.auth.session_token = {"aws-keys", "token", "apps"};
  f.create(spec);
  std::optional<CredsResult> out;
  f.provider->get([&](CredsResult r) { out = std::move(r); });
  // All three reads were requested before any was answered.
  CHECK(f.reads.size() == 3);
  CHECK(f.reads_answered == 0);
  REQUIRE(f.loop.run_until([&] { return out.has_value(); }));
  REQUIRE(out->ok());
  CHECK((**out)->access_key_id == "AKIDSTATIC");
  CHECK((**out)->secret_access_key.view() == "static-secret");
  CHECK((**out)->session_token.view() == "static-session-token");
  CHECK(f.sts.calls.empty());
  f.finish();
}

TEST_CASE("AWS credentials: secretRef re-read after 10 s and after invalidate()",
          "[providers][aws]") {
  Fixture f;
  f.create(secret_ref_spec());
  CHECK(f.akid() == "AKIDSTATIC");
  CHECK(f.reads.size() == 2);
  f.secrets["apps/aws-keys/id"] = "AKIDROTATED";
  f.clock.advance(9'999);
  CHECK(f.akid() == "AKIDSTATIC");  // cached
  CHECK(f.reads.size() == 2);
  f.clock.advance(1);
  CHECK(f.akid() == "AKIDROTATED");  // re-read: the new key takes effect
  CHECK(f.reads.size() == 4);
  f.secrets["apps/aws-keys/id"] = "AKIDAGAIN";
  f.provider->invalidate();
  CHECK(f.akid() == "AKIDAGAIN");
  CHECK(f.reads.size() == 6);
  f.finish();
}

TEST_CASE("AWS credentials: a missing secretRef key is kAuth, never kNotFound",
          "[providers][aws]") {
  Fixture f;
  f.secrets.erase("apps/aws-keys/secret");
  f.create(secret_ref_spec());
  auto r = f.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kAuth);
  CHECK(r.error().message.find("secretAccessKeySecretRef") != std::string::npos);
  f.secrets["apps/aws-keys/secret"] = " \n";
  r = f.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kAuth);
  f.finish();
}

TEST_CASE("AWS credentials: IRSA reads the annotation, requests a token, exchanges it unsigned",
          "[providers][aws]") {
  Fixture f;
  f.annotations["apps/app-sa"] = {
      {"eks.amazonaws.com/role-arn", "arn:aws:iam::111122223333:role/irsa"},
      {"eks.amazonaws.com/audience", "custom-aud"}};
  auto spec = irsa_spec();
  spec.auth.sa_audiences = {"extra-1", "extra-2"};
  f.create(spec);
  CHECK(f.akid() == "ASIAFAKE1");
  REQUIRE(f.token_requests.size() == 1);
  CHECK(f.token_requests[0] == "apps/app-sa|custom-aud,extra-1,extra-2|600");
  REQUIRE(f.sts.calls.size() == 1);
  const auto& call = f.sts.calls[0];
  CHECK(call.action == "AssumeRoleWithWebIdentity");
  CHECK_FALSE(call.sig.present);
  CHECK(call.params.at("RoleArn") == "arn:aws:iam::111122223333:role/irsa");
  CHECK(call.params.at("RoleSessionName") == "external-secrets-provider-aws");
  CHECK(call.params.at("WebIdentityToken") == f.sts.expected_jwt);
  CHECK(call.params.count("DurationSeconds") == 0);
  CHECK(f.counted["AssumeRoleWithWebIdentity/ok"] == 1);
  f.finish();
}

TEST_CASE("AWS credentials: IRSA default audience and missing annotation", "[providers][aws]") {
  Fixture f;
  f.annotations["apps/app-sa"] = {{"eks.amazonaws.com/role-arn", "arn:aws:iam::1:role/irsa"}};
  f.create(irsa_spec());
  CHECK(f.akid() == "ASIAFAKE1");
  CHECK(f.token_requests.at(0) == "apps/app-sa|sts.amazonaws.com|600");

  f.annotations["apps/app-sa"] = {{"other", "x"}};
  f.provider->invalidate();
  auto r = f.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalidConfig);
  CHECK(r.error().message ==
        "serviceaccount apps/app-sa has no eks.amazonaws.com/role-arn annotation");

  f.annotations.clear();  // the ServiceAccount is gone: kAuth, not kNotFound
  r = f.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kAuth);
  f.finish();
}

TEST_CASE("AWS credentials: additionalRoles then role, each signed by the previous layer",
          "[providers][aws]") {
  Fixture f;
  auto spec = secret_ref_spec();
  spec.additional_roles = {"arn:aws:iam::111122223333:role/hop-1",
                           "arn:aws:iam::111122223333:role/hop-2"};
  spec.role = "arn:aws:iam::444455556666:role/final";
  spec.external_id = "ext-42";
  spec.session_tags = {{"team", "payments"}};
  spec.transitive_tag_keys = {"team"};
  spec.session_tags_policy = aws::SessionTagsPolicy::kCustom;
  spec.custom_session_tags = {{"cost", "c1"}};
  f.create(spec);
  CHECK(f.akid() == "ASIAFAKE3");
  REQUIRE(f.sts.calls.size() == 3);
  const std::vector<std::string> arns = {spec.additional_roles[0], spec.additional_roles[1],
                                         spec.role};
  const std::vector<std::string> signers = {"AKIDSTATIC", "ASIAFAKE1", "ASIAFAKE2"};
  for (size_t i = 0; i < 3; ++i) {
    INFO(i);
    const auto& c = f.sts.calls[i];
    CHECK(c.action == "AssumeRole");
    CHECK(c.sig.valid);
    CHECK(c.sig.akid == signers[i]);
    CHECK(c.sig.scope == "20260101/us-east-1/sts/aws4_request");
    CHECK(c.params.at("RoleArn") == arns[i]);
    CHECK(c.params.at("RoleSessionName") == "external-secrets-provider-aws");
    CHECK(c.security_token == (i == 0 ? "" : "session&token/" + std::to_string(i)));
    const bool last = i == 2;
    CHECK(c.params.count("ExternalId") == (last ? 1u : 0u));
    CHECK(c.params.count("Tags.member.1.Key") == (last ? 1u : 0u));
    CHECK(c.params.count("TransitiveTagKeys.member.1") == (last ? 1u : 0u));
  }
  const auto& p = f.sts.calls[2].params;
  CHECK(p.at("ExternalId") == "ext-42");
  const std::vector<std::pair<std::string, std::string>> want = {{"team", "payments"},
                                                                 {"esoNamespace", "apps"},
                                                                 {"esoStoreName", "aws-store"},
                                                                 {"esoStoreKind", "SecretStore"},
                                                                 {"cost", "c1"}};
  for (size_t i = 0; i < want.size(); ++i) {
    const std::string m = "Tags.member." + std::to_string(i + 1);
    CHECK(p.at(m + ".Key") == want[i].first);
    CHECK(p.at(m + ".Value") == want[i].second);
  }
  CHECK(p.count("Tags.member.6.Key") == 0);
  CHECK(p.at("TransitiveTagKeys.member.1") == "team");
  CHECK(f.counted["AssumeRole/ok"] == 3);
  f.finish();
}

TEST_CASE("AWS credentials: Simple session tags policy", "[providers][aws]") {
  Fixture f;
  auto spec = secret_ref_spec();
  spec.role = "arn:aws:iam::1:role/final";
  spec.session_tags_policy = aws::SessionTagsPolicy::kSimple;
  spec.custom_session_tags = {{"ignored", "x"}};
  f.create(spec);
  REQUIRE(f.get().ok());
  const auto& p = f.sts.calls.at(0).params;
  CHECK(p.at("Tags.member.1.Key") == "esoNamespace");
  CHECK(p.at("Tags.member.3.Key") == "esoStoreKind");
  CHECK(p.count("Tags.member.4.Key") == 0);
  f.finish();
}

TEST_CASE("AWS credentials: cached until expiry minus 5 minutes", "[providers][aws]") {
  Fixture f;
  auto spec = secret_ref_spec();
  spec.role = "arn:aws:iam::1:role/app";
  f.create(spec);
  CHECK(f.akid() == "ASIAFAKE1");
  for (int i = 0; i < 5; ++i) CHECK(f.akid() == "ASIAFAKE1");
  CHECK(f.sts.calls.size() == 1);
  f.clock.advance(55 * kMinute - 1);  // 1 h lifetime: refresh 5 min before the end
  CHECK(f.akid() == "ASIAFAKE1");
  CHECK(f.sts.calls.size() == 1);
  f.clock.advance(1);
  CHECK(f.akid() == "ASIAFAKE2");
  CHECK(f.sts.calls.size() == 2);
  f.finish();
}

TEST_CASE("AWS credentials: a short lifetime refreshes a tenth before expiry", "[providers][aws]") {
  Fixture f;
  f.sts.duration_s = 900;  // 15 min: margin 90 s
  f.annotations["apps/app-sa"] = {{"eks.amazonaws.com/role-arn", "arn:aws:iam::1:role/irsa"}};
  f.create(irsa_spec());
  CHECK(f.akid() == "ASIAFAKE1");
  f.clock.advance(810'000 - 1);
  CHECK(f.akid() == "ASIAFAKE1");
  f.clock.advance(1);
  CHECK(f.akid() == "ASIAFAKE2");
  CHECK(f.token_requests.size() == 2);  // a fresh token for every exchange
  f.finish();
}

TEST_CASE("AWS credentials: each layer is cached on its own", "[providers][aws]") {
  Fixture f;
  f.annotations["apps/app-sa"] = {{"eks.amazonaws.com/role-arn", "arn:aws:iam::1:role/irsa"}};
  auto spec = irsa_spec();
  spec.role = "arn:aws:iam::1:role/app";
  f.sts.duration_s = 4 * 3600;  // the web identity layer lives 4 h
  f.sts.fault = [&f](const esd::test::StsCall& c) -> std::optional<TestReply> {
    if (c.action == "AssumeRole") f.sts.duration_s = 3600;  // the role layer 1 h
    return std::nullopt;
  };
  f.create(spec);
  CHECK(f.akid() == "ASIAFAKE2");
  f.clock.advance(56 * kMinute);
  CHECK(f.akid() == "ASIAFAKE3");
  REQUIRE(f.sts.calls.size() == 3);
  CHECK(f.sts.calls[2].action == "AssumeRole");
  CHECK(f.sts.calls[2].sig.akid == "ASIAFAKE1");  // signed by the still valid IRSA layer
  CHECK(f.token_requests.size() == 1);
  f.finish();
}

TEST_CASE("AWS credentials: concurrent get() calls share one refresh", "[providers][aws]") {
  Fixture f;
  auto spec = secret_ref_spec();
  spec.role = "arn:aws:iam::1:role/app";
  f.create(spec);
  std::vector<CredsResult> results;
  for (int i = 0; i < 10; ++i) {
    f.provider->get([&](CredsResult r) { results.push_back(std::move(r)); });
  }
  REQUIRE(f.loop.run_until([&] { return results.size() == 10; }));
  CHECK(f.sts.calls.size() == 1);
  CHECK(f.reads.size() == 2);
  for (const auto& r : results) {
    REQUIRE(r.ok());
    CHECK((*r)->access_key_id == "ASIAFAKE1");
  }
  f.finish();
}

TEST_CASE("AWS credentials: invalidate() rebuilds the whole chain", "[providers][aws]") {
  Fixture f;
  auto spec = secret_ref_spec();
  spec.additional_roles = {"arn:aws:iam::1:role/hop"};
  spec.role = "arn:aws:iam::1:role/app";
  f.create(spec);
  CHECK(f.akid() == "ASIAFAKE2");
  CHECK(f.akid() == "ASIAFAKE2");
  f.provider->invalidate();
  CHECK(f.akid() == "ASIAFAKE4");
  CHECK(f.sts.calls.size() == 4);
  CHECK(f.reads.size() == 4);
  CHECK(f.sts.calls[2].sig.akid == "AKIDSTATIC");
  f.finish();
}

TEST_CASE("AWS credentials: STS errors are classified and never hold a secret",
          "[providers][aws]") {
  Fixture f;
  auto spec = secret_ref_spec();
  spec.role = "arn:aws:iam::1:role/app";
  f.secrets["apps/aws-keys/token"] = "static-session-token";
  spec.auth.session_token = {"aws-keys", "token", "apps"};
  std::string code = "AccessDenied";
  f.sts.fault = [&](const esd::test::StsCall&) -> std::optional<TestReply> {
    return FakeSts::error(code == "Throttling" ? 400 : 403, code, "no for AKIDSTATIC");
  };
  f.create(spec);
  const std::vector<std::pair<std::string, ErrorCode>> rows = {
      {"AccessDenied", ErrorCode::kPermission},
      {"InvalidClientTokenId", ErrorCode::kAuth},
      {"ExpiredToken", ErrorCode::kAuth},
      {"Throttling", ErrorCode::kRateLimited},
  };
  for (const auto& [c, want] : rows) {
    INFO(c);
    code = c;
    auto r = f.get();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == want);
    CHECK(r.error().message.rfind("sts AssumeRole arn:aws:iam::1:role/app: " + c, 0) == 0);
    for (const char* secret : {"static-secret", "static-session-token"}) {
      CHECK(r.error().message.find(secret) == std::string::npos);
    }
  }
  CHECK(f.counted["AssumeRole/err"] == 4);
  CHECK(f.reads.size() == 3);  // the keys layer stays cached across the failed role calls
  f.finish();
}

TEST_CASE("AWS credentials: default chain through the provider", "[providers][aws]") {
  Fixture f;
  f.env = {{"AWS_ACCESS_KEY_ID", "AKIDSTATIC"},
           {"AWS_SECRET_ACCESS_KEY", "static-secret"},
           {"AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent"},
           {"AWS_ROLE_ARN", "arn:aws:iam::1:role/web"}};
  f.count_calls = false;  // count_call may be empty
  aws::AwsSpec spec;
  spec.region = "us-east-1";
  spec.role = "arn:aws:iam::1:role/app";
  f.create(spec);
  CHECK(f.akid() == "ASIAFAKE1");
  REQUIRE(f.sts.calls.size() == 1);
  CHECK(f.sts.calls[0].sig.akid == "AKIDSTATIC");
  f.clock.advance(24 * 60 * kMinute);  // env keys never expire; the role is refreshed
  CHECK(f.akid() == "ASIAFAKE2");
  CHECK(f.sts.calls.size() == 2);
  f.finish();
}

TEST_CASE("AWS credentials: nothing in the default chain", "[providers][aws]") {
  Fixture f;
  f.env = {{"AWS_EC2_METADATA_DISABLED", "true"}};
  aws::AwsSpec spec;
  spec.region = "us-east-1";
  f.create(spec);
  auto r = f.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalidConfig);
  CHECK(r.error().message.rfind("no AWS credentials: ", 0) == 0);
  f.finish();
}

TEST_CASE("AWS credentials: close() cancels the refresh and calls nothing back",
          "[providers][aws]") {
  Fixture f;
  auto spec = secret_ref_spec();
  spec.role = "arn:aws:iam::1:role/app";
  f.sts.hang = true;
  f.create(spec);
  bool called = false;
  f.provider->get([&](CredsResult) { called = true; });
  REQUIRE(f.loop.run_until([&] { return f.sts.calls.size() == 1; }));
  CHECK(f.http.in_flight() == 1);
  f.provider->close();
  CHECK(f.http.in_flight() == 0);
  f.provider->get([&](CredsResult) { called = true; });
  f.loop.run_until([] { return false; }, 50);
  CHECK_FALSE(called);
  f.finish();
}

TEST_CASE("AWS credentials: configuration checked before any I/O", "[providers][aws]") {
  Fixture f;
  auto check = [&](aws::AwsSpec spec, aws::Endpoints endpoints, ErrorCode want) {
    aws::CredentialDeps deps{f.context(), std::move(endpoints), aws::map_env({})};
    auto p = aws::make_credential_provider(spec, std::move(deps));
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().code == want);
  };
  const aws::Endpoints sts_only{"", "", "https://sts.us-east-1.amazonaws.com"};
  auto no_sa = irsa_spec();
  no_sa.auth.sa_name.clear();
  check(no_sa, sts_only, ErrorCode::kInvalidConfig);
  auto no_secret = secret_ref_spec();
  no_secret.auth.secret_access_key = {};
  check(no_secret, sts_only, ErrorCode::kInvalidConfig);
  check(secret_ref_spec(), aws::Endpoints{}, ErrorCode::kInvalidConfig);
  CHECK(f.reads.empty());
  f.finish();
}
