// Test support for the Parameter Store client (header-only, tests/providers only): a scripted
// same-loop SSM (FakeSsm over TestHttpServer) that checks the JSON 1.1 wire format (X-Amz-Target
// AmazonSSM.<Op>) and verifies every SigV4 signature for service "ssm", and a fixture wiring it to
// make_ps_client on a TestLoop with a FakeClock. StubCreds and the reply helpers come from
// aws_sm_fixture.h.
#pragma once

#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "providers/aws/aws_ps_client.h"
#include "providers/aws_sm_fixture.h"

namespace esd::test::awsps {

using nlohmann::json;
namespace aws = esd::providers::aws;
using awssm::aws_error;
using awssm::json_reply;
using awssm::kRegion;
using awssm::StubCreds;

inline constexpr const char* kArnPrefix = "arn:aws:ssm:us-east-1:111122223333:parameter";

struct FakeParam {
  std::vector<std::string> versions;  // value of version i + 1
  std::map<std::string, std::string> tags;
};

// Enough SSM for the client: the five read operations, versions, tags, paging (MaxResults 10).
struct FakeSsm {
  const Clock* clock = nullptr;
  std::map<std::string, std::string> keys;  // accepted access key id -> secret key
  std::map<std::string, FakeParam> params;
  std::map<std::string, int> calls;                  // per operation
  std::vector<std::pair<std::string, json>> bodies;  // (op, request body) in order
  std::vector<std::string> problems;                 // wire-format or signature failures
  std::function<std::optional<TestReply>(const std::string& op, const json& body)> fault;

  void put(const std::string& name, const std::string& value) {
    params[name].versions.push_back(value);
  }
  int count(const std::string& op) const {
    auto it = calls.find(op);
    return it == calls.end() ? 0 : it->second;
  }
  int total() const {
    int n = 0;
    for (const auto& [op, c] : calls) n += c;
    return n;
  }
  std::vector<json> bodies_of(const std::string& op) const {
    std::vector<json> out;
    for (const auto& [o, b] : bodies) {
      if (o == op) out.push_back(b);
    }
    return out;
  }
  void reset_counts() {
    calls.clear();
    bodies.clear();
  }

  TestReply handle(const TestRequest& r) {
    const auto target = r.headers.find("x-amz-target");
    const std::string t = target == r.headers.end() ? "" : target->second;
    const std::string op = t.rfind("AmazonSSM.", 0) == 0 ? t.substr(10) : t;
    ++calls[op];
    json body = json::parse(r.body, nullptr, false);
    bodies.emplace_back(op, body);
    if (auto problem = check(r); !problem.empty()) {
      problems.push_back(problem);
      return aws_error(problem, "rejected by the fake");
    }
    if (fault) {
      if (auto f = fault(op, body)) return *f;
    }
    if (op == "GetParameter") return get_parameter(body);
    if (op == "GetParameters") return get_parameters(body);
    if (op == "GetParametersByPath") return by_path(body);
    if (op == "DescribeParameters") return describe(body);
    if (op == "ListTagsForResource") return list_tags(body);
    return aws_error("UnknownOperationException", "");
  }

  std::string check(const TestRequest& r) const {
    if (r.method != "POST" || r.target != "/") return "BadRequestLine";
    auto h = [&](const char* name) {
      auto it = r.headers.find(name);
      return it == r.headers.end() ? std::string() : it->second;
    };
    if (h("content-type") != "application/x-amz-json-1.1") return "BadContentType";
    if (h("x-amz-target").rfind("AmazonSSM.", 0) != 0) return "BadTarget";
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
    if (scope != date.substr(0, 8) + "/" + kRegion + "/ssm/aws4_request") {
      return "InvalidSignatureException";
    }
    auto key = keys.find(akid);
    if (key == keys.end()) return "UnrecognizedClientException";
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
    params.service = "ssm";
    params.amz_date = date;
    const std::string sts =
        aws::string_to_sign(aws::canonical_request(req, params, nullptr), params);
    if (aws::signature(Sensitive(key->second), sts, params) != auth.substr(sig + 12)) {
      return "InvalidSignatureException";
    }
    return "";
  }

  // "name" or "name:<version>" -> the Parameter object, or nullopt + the error code.
  std::optional<json> lookup(const std::string& requested, std::string* error) const {
    std::string name = requested;
    size_t version = 0;
    if (const size_t colon = requested.rfind(':'); colon != std::string::npos) {
      name = requested.substr(0, colon);
      version = std::stoul(requested.substr(colon + 1));
    }
    auto it = params.find(name);
    if (it == params.end()) {
      *error = "ParameterNotFound";
      return std::nullopt;
    }
    const auto& vs = it->second.versions;
    if (version > vs.size() || (version == 0 && requested != name)) {
      *error = "ParameterVersionNotFound";
      return std::nullopt;
    }
    const size_t v = version == 0 ? vs.size() : version;
    json p{{"Name", name},
           {"Type", "SecureString"},
           {"Value", vs[v - 1]},
           {"Version", v},
           {"ARN", std::string(kArnPrefix) + name}};
    if (version != 0) p["Selector"] = ":" + std::to_string(version);
    return p;
  }

  TestReply get_parameter(const json& body) const {
    if (!body.value("WithDecryption", false)) return aws_error("ValidationException", "decrypt");
    std::string error;
    auto p = lookup(body.value("Name", ""), &error);
    if (!p) return aws_error(error, "");
    return json_reply(200, json{{"Parameter", *p}});
  }

  TestReply get_parameters(const json& body) const {
    if (!body.value("WithDecryption", false)) return aws_error("ValidationException", "decrypt");
    if (!body.contains("Names") || body["Names"].size() > 10) {
      return aws_error("ValidationException", "Names");
    }
    json values = json::array();
    json invalid = json::array();
    for (const auto& n : body["Names"]) {
      std::string error;
      if (auto p = lookup(n.get<std::string>(), &error)) {
        values.push_back(*p);
      } else {
        invalid.push_back(n);
      }
    }
    return json_reply(200, json{{"Parameters", values}, {"InvalidParameters", invalid}});
  }

  static bool under(const std::string& name, const std::string& path) {
    if (path == "/") return true;
    return name.rfind(path + "/", 0) == 0;
  }

  template <typename Select>
  std::vector<std::string> names_where(Select select) const {
    std::vector<std::string> out;
    for (const auto& [name, p] : params) {
      if (select(name, p)) out.push_back(name);
    }
    return out;
  }

  static std::pair<size_t, size_t> page(const json& body, size_t total) {
    const size_t start =
        body.contains("NextToken") ? std::stoul(body["NextToken"].get<std::string>()) : 0;
    const size_t limit = body.value("MaxResults", 10);
    return {start, std::min(total, start + limit)};
  }

  TestReply by_path(const json& body) const {
    if (!body.value("WithDecryption", false) || !body.value("Recursive", false) ||
        body.value("MaxResults", 10) > 10) {
      return aws_error("ValidationException", "by path");
    }
    const std::string path = body.value("Path", "");
    auto all = names_where([&](const std::string& n, const FakeParam&) { return under(n, path); });
    auto [start, end] = page(body, all.size());
    json list = json::array();
    std::string error;
    for (size_t i = start; i < end; ++i) list.push_back(*lookup(all[i], &error));
    json out{{"Parameters", list}};
    if (end < all.size()) out["NextToken"] = std::to_string(end);
    return json_reply(200, out);
  }

  TestReply describe(const json& body) const {
    const json filters = body.value("ParameterFilters", json::array());
    auto all = names_where([&](const std::string& n, const FakeParam& p) {
      for (const auto& f : filters) {
        const std::string key = f.value("Key", "");
        const std::string v = f["Values"].at(0).get<std::string>();
        if (key == "Path" && (f.value("Option", "") != "Recursive" || !under(n, v))) return false;
        if (key.rfind("tag:", 0) == 0) {
          auto t = p.tags.find(key.substr(4));
          if (f.value("Option", "") != "Equals" || t == p.tags.end() || t->second != v) {
            return false;
          }
        }
      }
      return true;
    });
    auto [start, end] = page(body, all.size());
    json list = json::array();
    for (size_t i = start; i < end; ++i) list.push_back({{"Name", all[i]}, {"Type", "String"}});
    json out{{"Parameters", list}};
    if (end < all.size()) out["NextToken"] = std::to_string(end);
    return json_reply(200, out);
  }

  TestReply list_tags(const json& body) const {
    if (body.value("ResourceType", "") != "Parameter") return aws_error("ValidationException", "");
    auto it = params.find(body.value("ResourceId", ""));
    if (it == params.end()) return aws_error("InvalidResourceId", "");
    json tags = json::array();
    for (const auto& [k, v] : it->second.tags) tags.push_back({{"Key", k}, {"Value", v}});
    return json_reply(200, json{{"TagList", tags}});
  }
};

struct Fixture {
  TestLoop loop;
  FakeClock clock{1'700'000'000'000};
  FakeSsm ssm;
  TestHttpServer server{loop.get(), [this](const TestRequest& r) { return ssm.handle(r); }};
  HttpClient http{loop.get()};
  std::unique_ptr<Deferrer> deferrer = std::make_unique<Deferrer>(loop.get());
  std::shared_ptr<StubCreds> creds = std::make_shared<StubCreds>(deferrer.get());
  std::map<std::string, int> counted;  // "<call>/ok|err"
  std::unique_ptr<providers::SecretClient> client;

  Fixture() {
    http_global_init();
    ssm.clock = &clock;
    ssm.keys["AKID1"] = "secret-key-1";
  }

  providers::ProviderContext ctx() {
    providers::ProviderContext c;
    c.loop = loop.get();
    c.http = &http;
    c.deferrer = deferrer.get();
    c.clock = &clock;
    c.store_kind = "SecretStore";
    c.store_name = "ps-store";
    c.store_namespace = "default";
    c.es_namespace = "default";
    c.count_call = [this](std::string_view provider, std::string_view call, bool ok) {
      CHECK(provider == "AWS/ParameterStore");
      ++counted[std::string(call) + (ok ? "/ok" : "/err")];
    };
    return c;
  }

  static json spec_json(const json& extra = json::object()) {
    json s{{"service", "ParameterStore"}, {"region", kRegion}};
    for (const auto& [k, v] : extra.items()) s[k] = v;
    return s;
  }

  static aws::PsClientOptions fast_options() {
    aws::PsClientOptions o;
    o.backoff_base_ms = 1;
    o.backoff_cap_ms = 4;
    o.request_timeout_ms = 5000;
    o.gather_ms = 5;
    return o;
  }

  void create(const json& spec = spec_json(), aws::PsClientOptions options = fast_options()) {
    auto parsed = aws::parse_aws_spec(spec);
    REQUIRE(parsed.ok());
    if (creds->closed) creds = std::make_shared<StubCreds>(deferrer.get());
    auto c = aws::make_ps_client(std::move(*parsed), ctx(), creds, server.url(""), options);
    REQUIRE(c.ok());
    client = std::move(*c);
  }

  static providers::RemoteRef ref(std::string key, std::string property = "",
                                  std::string version = "", int64_t max_age_ms = 0) {
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
    CHECK(ssm.problems.empty());
  }
};

}  // namespace esd::test::awsps
