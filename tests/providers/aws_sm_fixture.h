// Test support for the Secrets Manager client (header-only, tests/providers only): a scripted
// same-loop Secrets Manager (FakeSm over TestHttpServer) that checks the JSON 1.1 wire format and
// verifies every SigV4 signature, a stub CredentialProvider with static keys, and a fixture that
// wires them to an SmApi or a SecretClient on a TestLoop with a FakeClock.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/common/clock.h"
#include "daemon/common/crypto.h"
#include "daemon/http/http_client.h"
#include "daemon/loop/deferrer.h"
#include "providers/aws/aws_credentials.h"
#include "providers/aws/aws_sm_api.h"
#include "providers/aws/aws_sm_client.h"
#include "providers/aws/aws_spec.h"
#include "providers/aws/sigv4.h"
#include "support/loop_runner.h"
#include "support/test_http_server.h"

namespace esd::test::awssm {

using nlohmann::json;
namespace aws = esd::providers::aws;

inline constexpr const char* kRegion = "us-east-1";
inline constexpr const char* kArnPrefix = "arn:aws:secretsmanager:us-east-1:111122223333:secret:";

// Static keys; invalidate() moves to the next generation ("AKID1" -> "AKID2", ...). Answers on a
// later loop turn through the Deferrer, like the real provider.
class StubCreds : public aws::CredentialProvider,
                  public std::enable_shared_from_this<StubCreds> {
 public:
  explicit StubCreds(Deferrer* deferrer) : deferrer_(deferrer) {}
  void get(aws::CredsDone done) override {
    ++gets;
    if (closed) return;
    deferrer_->post([w = weak_from_this(), done = std::move(done)] {
      auto self = w.lock();
      if (!self || self->closed) return;
      if (self->fail) return done(*self->fail);
      auto c = std::make_shared<aws::Credentials>();
      c->access_key_id = self->access_key_id();
      c->secret_access_key = Sensitive(self->secret_key());
      if (!self->session_token.empty()) c->session_token = Sensitive(self->session_token);
      done(std::shared_ptr<const aws::Credentials>(std::move(c)));
    });
  }
  void invalidate() override {
    ++invalidations;
    ++generation;
  }
  void close() override { closed = true; }

  std::string access_key_id() const { return "AKID" + std::to_string(generation); }
  std::string secret_key() const { return "secret-key-" + std::to_string(generation); }

  int gets = 0;
  int invalidations = 0;
  int generation = 1;
  bool closed = false;
  std::string session_token;
  std::optional<Error> fail;

 private:
  Deferrer* deferrer_;
};

struct FakeVersion {
  std::string id;
  std::string value;
  std::set<std::string> stages;
};

struct FakeSecret {
  std::string name;
  std::string arn;
  bool binary = false;
  bool deleted = false;
  std::vector<FakeVersion> versions;
  std::map<std::string, std::string> tags;
};

inline TestReply json_reply(int status, const json& body, const std::string& error_type = "") {
  TestReply r;
  r.status = status;
  r.body = body.dump();
  r.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
  if (!error_type.empty()) r.headers.emplace_back("X-Amzn-ErrorType", error_type);
  return r;
}

inline TestReply aws_error(const std::string& code, const std::string& message, int status = 400) {
  return json_reply(status, json{{"__type", code}, {"message", message}}, code);
}

// Enough Secrets Manager for the client: the four read operations, versions and stages, tags,
// deletion marks, paging. Every request is checked (wire format, scope, signature) and counted.
struct FakeSm {
  const Clock* clock = nullptr;
  std::map<std::string, std::string> keys;  // accepted access key id -> secret key
  std::map<std::string, FakeSecret> secrets;
  std::map<std::string, int> calls;  // per operation
  std::vector<json> bodies;          // request bodies in order
  std::vector<std::string> problems;  // wire-format or signature failures
  std::string session_token;          // required when not empty
  // Runs before the operation: return a reply to override it (faults, scripted errors).
  std::function<std::optional<TestReply>(const std::string& op, const json& body)> fault;
  int next_version = 0;

  void put(const std::string& name, const std::string& value, bool binary = false) {
    FakeSecret& s = secrets[name];
    s.name = name;
    if (s.arn.empty()) s.arn = kArnPrefix + name + "-AbCdEf";
    s.binary = binary;
    for (auto& v : s.versions) {
      if (v.stages.erase("AWSPREVIOUS") > 0 && v.stages.empty()) v.id.clear();
    }
    for (auto& v : s.versions) {
      if (v.stages.erase("AWSCURRENT") > 0) v.stages.insert("AWSPREVIOUS");
    }
    s.versions.push_back({"ver-" + std::to_string(++next_version), value, {"AWSCURRENT"}});
  }
  int total() const {
    int n = 0;
    for (const auto& [op, c] : calls) n += c;
    return n;
  }
  int count(const std::string& op) const {
    auto it = calls.find(op);
    return it == calls.end() ? 0 : it->second;
  }
  void reset_counts() {
    calls.clear();
    bodies.clear();
  }

  TestReply handle(const TestRequest& r) {
    const auto target = r.headers.find("x-amz-target");
    const std::string op = target == r.headers.end() ? "" : target->second.substr(15);
    ++calls[op];
    json body = json::parse(r.body, nullptr, false);
    bodies.push_back(body);
    if (auto problem = check(r); !problem.empty()) {
      problems.push_back(problem);
      return aws_error(problem, "rejected by the fake");
    }
    if (fault) {
      if (auto f = fault(op, body)) return *f;
    }
    if (op == "GetSecretValue") return get_secret_value(body);
    if (op == "BatchGetSecretValue") return batch_get(body);
    if (op == "ListSecrets") return list_secrets(body);
    if (op == "DescribeSecret") return describe(body);
    return aws_error("UnknownOperationException", "");
  }

  // The wire format and a full SigV4 verification over the headers the client signed.
  std::string check(const TestRequest& r) const {
    if (r.method != "POST" || r.target != "/") return "BadRequestLine";
    auto h = [&](const char* name) {
      auto it = r.headers.find(name);
      return it == r.headers.end() ? std::string() : it->second;
    };
    if (h("content-type") != "application/x-amz-json-1.1") return "BadContentType";
    if (h("x-amz-target").rfind("secretsmanager.", 0) != 0) return "BadTarget";
    const std::string auth = h("authorization");
    const std::string date = h("x-amz-date");
    if (auth.empty() || date.size() != 16) return "MissingAuthenticationTokenException";
    if (clock != nullptr && date != aws::amz_date_from_unix(clock->now_ms() / 1000)) {
      return "InvalidSignatureException";
    }
    const size_t cred = auth.find("Credential=");
    const size_t slash = auth.find('/', cred);
    const size_t sh = auth.find(", SignedHeaders=");
    const size_t sig = auth.find(", Signature=");
    if (cred == std::string::npos || slash == std::string::npos || sh == std::string::npos ||
        sig == std::string::npos) {
      return "IncompleteSignatureException";
    }
    const std::string akid = auth.substr(cred + 11, slash - cred - 11);
    const std::string scope = auth.substr(slash + 1, sh - slash - 1);
    const std::string signed_list = auth.substr(sh + 16, sig - sh - 16);
    if (scope != date.substr(0, 8) + "/" + kRegion + "/secretsmanager/aws4_request") {
      return "InvalidSignatureException";
    }
    auto key = keys.find(akid);
    if (key == keys.end()) return "UnrecognizedClientException";
    if (!session_token.empty() && h("x-amz-security-token") != session_token) {
      return "UnrecognizedClientException";
    }
    aws::SigV4Request req;
    req.method = "POST";
    req.path = "/";
    size_t pos = 0;
    while (pos <= signed_list.size()) {
      size_t end = signed_list.find(';', pos);
      if (end == std::string::npos) end = signed_list.size();
      const std::string name = signed_list.substr(pos, end - pos);
      req.headers.emplace_back(name, h(name.c_str()));
      pos = end + 1;
    }
    for (const char* must : {"host", "x-amz-date", "x-amz-target", "content-type"}) {
      if (signed_list.find(must) == std::string::npos) return "IncompleteSignatureException";
    }
    req.body = r.body;
    aws::SigningParams params;
    params.region = kRegion;
    params.service = "secretsmanager";
    params.amz_date = date;
    const std::string sts = aws::string_to_sign(aws::canonical_request(req, params, nullptr), params);
    if (aws::signature(Sensitive(key->second), sts, params) != auth.substr(sig + 12)) {
      return "InvalidSignatureException";
    }
    return "";
  }

  const FakeSecret* find(const std::string& id) const {
    for (const auto& [name, s] : secrets) {
      if (id == s.name || id == s.arn || id + "-AbCdEf" == s.arn) return &s;
    }
    return nullptr;
  }

  // {value json} or an error reply.
  std::variant<json, TestReply> value_of(const std::string& id, const std::string& version_id,
                                         const std::string& stage) const {
    const FakeSecret* s = find(id);
    if (s == nullptr) return aws_error("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
    if (s->deleted) {
      return aws_error("InvalidRequestException",
                       "You can't perform this operation on the secret because it was marked for deletion.");
    }
    for (const auto& v : s->versions) {
      if (v.id.empty()) continue;
      if (!version_id.empty() ? v.id != version_id : v.stages.count(stage) == 0) continue;
      json out{{"ARN", s->arn}, {"Name", s->name}, {"VersionId", v.id},
               {"VersionStages", v.stages}, {"CreatedDate", 1.523477145713E9}};
      if (s->binary) {
        out["SecretBinary"] = esd::base64_encode(v.value);
      } else {
        out["SecretString"] = v.value;
      }
      return out;
    }
    return aws_error("ResourceNotFoundException", "Secrets Manager can't find the specified secret value.");
  }

  TestReply get_secret_value(const json& body) const {
    const std::string id = body.value("SecretId", "");
    const std::string vid = body.value("VersionId", "");
    const std::string stage = body.value("VersionStage", "AWSCURRENT");
    auto v = value_of(id, vid, stage);
    if (auto* reply = std::get_if<TestReply>(&v)) return *reply;
    return json_reply(200, std::get<json>(v));
  }

  bool filter_match(const FakeSecret& s, const json& filters) const {
    for (const auto& f : filters) {
      const std::string key = f.value("Key", "");
      bool hit = false;
      for (const auto& val : f.at("Values")) {
        const std::string v = val.get<std::string>();
        if (key == "name") hit |= s.name.rfind(v, 0) == 0;
        for (const auto& [tk, tv] : s.tags) {
          if (key == "tag-key") hit |= tk.rfind(v, 0) == 0;
          if (key == "tag-value") hit |= tv.rfind(v, 0) == 0;
        }
      }
      if (!hit) return false;
    }
    return true;
  }

  std::vector<const FakeSecret*> select(const json& filters) const {
    std::vector<const FakeSecret*> out;
    for (const auto& [name, s] : secrets) {
      if (!s.deleted && filter_match(s, filters)) out.push_back(&s);
    }
    return out;
  }

  static std::pair<size_t, size_t> page(const json& body, size_t total, size_t max) {
    const size_t start = body.contains("NextToken") ? std::stoul(body["NextToken"].get<std::string>()) : 0;
    const size_t limit = body.value("MaxResults", static_cast<int>(max));
    return {start, std::min(total, start + limit)};
  }

  TestReply batch_get(const json& body) const {
    json values = json::array();
    json errors = json::array();
    json out = json::object();
    if (body.contains("SecretIdList")) {
      if (body["SecretIdList"].size() > 20 || body.contains("Filters")) {
        return aws_error("InvalidParameterException", "bad SecretIdList");
      }
      for (const auto& idj : body["SecretIdList"]) {
        const std::string id = idj.get<std::string>();
        auto v = value_of(id, "", "AWSCURRENT");
        if (auto* reply = std::get_if<TestReply>(&v)) {
          const json e = json::parse(reply->body);
          errors.push_back({{"SecretId", id}, {"ErrorCode", e["__type"]}, {"Message", e["message"]}});
        } else {
          values.push_back(std::get<json>(v));
        }
      }
    } else {
      if (body.value("MaxResults", 0) > 20) return aws_error("InvalidParameterException", "MaxResults");
      auto all = select(body.value("Filters", json::array()));
      auto [start, end] = page(body, all.size(), 20);
      for (size_t i = start; i < end; ++i) values.push_back(std::get<json>(value_of(all[i]->name, "", "AWSCURRENT")));
      if (end < all.size()) out["NextToken"] = std::to_string(end);
    }
    out["SecretValues"] = values;
    out["Errors"] = errors;
    return json_reply(200, out);
  }

  TestReply list_secrets(const json& body) const {
    auto all = select(body.value("Filters", json::array()));
    auto [start, end] = page(body, all.size(), 100);
    json list = json::array();
    for (size_t i = start; i < end; ++i) list.push_back({{"ARN", all[i]->arn}, {"Name", all[i]->name}});
    json out{{"SecretList", list}};
    if (end < all.size()) out["NextToken"] = std::to_string(end);
    return json_reply(200, out);
  }

  TestReply describe(const json& body) const {
    const FakeSecret* s = find(body.value("SecretId", ""));
    if (s == nullptr) return aws_error("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
    json out{{"ARN", s->arn}, {"Name", s->name}};
    if (!s->tags.empty()) {
      json tags = json::array();
      for (const auto& [k, v] : s->tags) tags.push_back({{"Key", k}, {"Value", v}});
      out["Tags"] = tags;
    }
    return json_reply(200, out);
  }
};

struct Fixture {
  TestLoop loop;
  FakeClock clock{1'700'000'000'000};
  FakeSm sm;
  TestHttpServer server{loop.get(), [this](const TestRequest& r) { return sm.handle(r); }};
  HttpClient http{loop.get()};
  std::unique_ptr<Deferrer> deferrer = std::make_unique<Deferrer>(loop.get());
  std::shared_ptr<StubCreds> creds = std::make_shared<StubCreds>(deferrer.get());
  std::map<std::string, int> counted;  // "<call>/ok|err"
  std::unique_ptr<providers::SecretClient> client;

  Fixture() {
    http_global_init();
    sm.clock = &clock;
    sm.keys["AKID1"] = "secret-key-1";
  }

  providers::ProviderContext ctx() {
    providers::ProviderContext c;
    c.loop = loop.get();
    c.http = &http;
    c.deferrer = deferrer.get();
    c.clock = &clock;
    c.store_kind = "SecretStore";
    c.store_name = "aws-store";
    c.store_namespace = "default";
    c.es_namespace = "default";
    c.count_call = [this](std::string_view provider, std::string_view call, bool ok) {
      CHECK(provider == "AWS/SecretsManager");
      ++counted[std::string(call) + (ok ? "/ok" : "/err")];
    };
    return c;
  }

  static json spec_json(const json& extra = json::object()) {
    json s{{"service", "SecretsManager"}, {"region", kRegion}};
    for (const auto& [k, v] : extra.items()) s[k] = v;
    return s;
  }

  static aws::SmClientOptions fast_options() {
    aws::SmClientOptions o;
    o.backoff_base_ms = 1;
    o.backoff_cap_ms = 4;
    o.request_timeout_ms = 5000;
    return o;
  }

  void create(const json& spec = spec_json(), aws::SmClientOptions options = fast_options()) {
    auto parsed = aws::parse_aws_spec(spec);
    REQUIRE(parsed.ok());
    if (creds->closed) creds = std::make_shared<StubCreds>(deferrer.get());  // closed with a client
    auto c = aws::make_sm_client(std::move(*parsed), ctx(), creds, server.url(""), options);
    REQUIRE(c.ok());
    client = std::move(*c);
  }

  static providers::RemoteRef ref(std::string key, std::string property = "", std::string version = "",
                                  int64_t max_age_ms = 0) {
    providers::RemoteRef r;
    r.key = std::move(key);
    r.property = std::move(property);
    r.version = std::move(version);
    r.max_age_ms = max_age_ms;
    return r;
  }

  std::vector<Result<providers::Fetched>> get(std::vector<providers::RemoteRef> refs) {
    std::optional<std::vector<Result<providers::Fetched>>> out;
    client->get_secrets(std::move(refs),
                        [&](std::vector<Result<providers::Fetched>> r) { out = std::move(r); });
    REQUIRE(loop.run_until([&] { return out.has_value(); }));
    return std::move(*out);
  }

  Result<providers::Fetched> get_one(providers::RemoteRef r) {
    auto all = get({std::move(r)});
    REQUIRE(all.size() == 1);
    return std::move(all[0]);
  }

  Result<SecretMap> get_map(providers::RemoteRef r) {
    std::optional<Result<SecretMap>> out;
    client->get_secret_map(std::move(r), [&](Result<SecretMap> m) { out = std::move(m); });
    REQUIRE(loop.run_until([&] { return out.has_value(); }));
    return std::move(*out);
  }

  Result<SecretMap> find(providers::FindRef f) {
    std::optional<Result<SecretMap>> out;
    client->get_all_secrets(std::move(f), [&](Result<SecretMap> m) { out = std::move(m); });
    REQUIRE(loop.run_until([&] { return out.has_value(); }));
    return std::move(*out);
  }

  void finish() {
    client.reset();
    REQUIRE(loop.run_until([&] { return http.in_flight() == 0; }));
    http.shutdown();
    server.close();
    deferrer.reset();
    REQUIRE(loop.close() == 0);
    CHECK(sm.problems.empty());
  }
};

}  // namespace esd::test::awssm
