// The Parameter Store SecretClient against a same-loop fake SSM (signatures verified for "ssm",
// X-Amz-Target AmazonSSM.<Op>): GetParameters batching and sharing, versions, properties, tags,
// extract, error classes, the max_age cache, find (by path, by tags, the AccessDenied fallback),
// validate() and the provider routing.
#include "providers/aws/aws_ps_client.h"

#include <catch2/catch.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "providers/aws/aws_provider.h"
#include "providers/aws_ps_fixture.h"

using esd::Error;
using esd::ErrorCode;
using esd::Result;
using esd::SecretMap;
using esd::providers::FindRef;
using esd::providers::MetadataPolicy;
using esd::providers::RemoteRef;
using esd::test::TestReply;
using esd::test::awsps::aws_error;
using esd::test::awsps::Fixture;
using nlohmann::json;

namespace {

std::string pname(int i) { return "/app/p" + std::to_string(100 + i); }

}  // namespace

TEST_CASE("aws ps client: 25 names in one turn take 3 GetParameters calls", "[providers][aws]") {
  Fixture f;
  std::vector<RemoteRef> refs;
  for (int i = 0; i < 25; ++i) {
    f.ssm.put(pname(i), "value-" + std::to_string(i));
    refs.push_back(Fixture::ref(pname(i)));
  }
  f.ssm.put(pname(3), "value-3b");         // version 2
  refs.push_back(Fixture::ref(pname(7)));  // a duplicate shares the fetch
  f.create();
  auto r = f.get(refs);
  REQUIRE(r.size() == 26);
  for (int i = 0; i < 25; ++i) {
    REQUIRE(r[i].ok());
    if (i == 3) continue;
    CHECK(r[i]->value.view() == "value-" + std::to_string(i));
    CHECK(r[i]->version == "1");
  }
  CHECK(r[3]->value.view() == "value-3b");
  CHECK(r[3]->version == "2");
  CHECK(r[25]->value.view() == "value-7");
  CHECK(f.ssm.count("GetParameters") == 3);
  CHECK(f.ssm.total() == 3);
  std::multiset<std::string> asked;
  for (const auto& b : f.ssm.bodies_of("GetParameters")) {
    CHECK(b["Names"].size() <= 10);
    CHECK(b["WithDecryption"] == true);
    for (const auto& n : b["Names"]) asked.insert(n.get<std::string>());
  }
  CHECK(asked.size() == 25);
  CHECK(std::set<std::string>(asked.begin(), asked.end()).size() == 25);
  CHECK(f.counted["GetParameters/ok"] == 3);
  f.finish();
}

TEST_CASE("aws ps client: not found, version suffix and the prefix", "[providers][aws]") {
  Fixture f;
  f.ssm.put("/prod/db", "v1");
  f.ssm.put("/prod/db", "v2");
  f.create(Fixture::spec_json({{"prefix", "/prod/"}}));
  auto r = f.get({Fixture::ref("db"), Fixture::ref("missing"), Fixture::ref("db", "", "1"),
                  Fixture::ref("db", "", "9"), Fixture::ref("gone", "", "1")});
  REQUIRE(r.size() == 5);
  REQUIRE(r[0].ok());
  CHECK(r[0]->value.view() == "v2");
  CHECK(r[0]->version == "2");
  REQUIRE_FALSE(r[1].ok());
  CHECK(r[1].error().code == ErrorCode::kNotFound);
  CHECK(r[1].error().message == "parameter /prod/missing not found");
  REQUIRE(r[2].ok());
  CHECK(r[2]->value.view() == "v1");
  CHECK(r[2]->version == "1");
  REQUIRE_FALSE(r[3].ok());
  CHECK(r[3].error().code == ErrorCode::kNotFound);
  CHECK(r[3].error().message == "parameter /prod/db:9 not found");
  REQUIRE_FALSE(r[4].ok());
  CHECK(r[4].error().code == ErrorCode::kNotFound);
  CHECK(f.ssm.count("GetParameters") == 1);
  CHECK(f.ssm.count("GetParameter") == 3);
  auto singles = f.ssm.bodies_of("GetParameter");
  std::set<std::string> names;
  for (const auto& b : singles) {
    CHECK(b["WithDecryption"] == true);
    names.insert(b["Name"].get<std::string>());
  }
  CHECK(names == std::set<std::string>{"/prod/db:1", "/prod/db:9", "/prod/gone:1"});
  CHECK(f.ssm.bodies_of("GetParameters").at(0) ==
        json{{"Names", {"/prod/db", "/prod/missing"}}, {"WithDecryption", true}});
  f.finish();
}

TEST_CASE("aws ps client: properties, extract and tags", "[providers][aws]") {
  Fixture f;
  f.ssm.put("/app/db", R"({"user":"admin","a.b":"dotted","a":{"b":"nested"},"port":5432})");
  f.ssm.put("/app/plain", "not json");
  f.ssm.params["/app/db"].tags = {{"team", "blue"}, {"env", "prod"}};
  f.create();
  RemoteRef meta = Fixture::ref("/app/db");
  meta.metadata_policy = MetadataPolicy::kFetch;
  RemoteRef meta_env = meta;
  meta_env.property = "env";
  RemoteRef meta_missing = Fixture::ref("/app/none");
  meta_missing.metadata_policy = MetadataPolicy::kFetch;
  auto r = f.get({Fixture::ref("/app/db", "user"), Fixture::ref("/app/db", "a.b"),
                  Fixture::ref("/app/db", "port"), Fixture::ref("/app/db", "nope"),
                  Fixture::ref("/app/plain", "x"), meta, meta_env, meta_missing});
  REQUIRE(r.size() == 8);
  CHECK(r[0]->value.view() == "admin");
  CHECK(r[1]->value.view() == "dotted");
  CHECK(r[2]->value.view() == "5432");
  REQUIRE_FALSE(r[3].ok());
  CHECK(r[3].error().code == ErrorCode::kInvalidRef);
  CHECK(r[3].error().message == "key nope does not exist in secret /app/db");
  REQUIRE_FALSE(r[4].ok());
  CHECK(r[4].error().code == ErrorCode::kInvalidRef);
  REQUIRE(r[5].ok());
  CHECK(r[5]->value.view() == R"({"env":"prod","team":"blue"})");
  REQUIRE(r[6].ok());
  CHECK(r[6]->value.view() == "prod");
  REQUIRE_FALSE(r[7].ok());
  CHECK(r[7].error().code == ErrorCode::kNotFound);
  // Two metadata refs for /app/db share one ListTagsForResource.
  CHECK(f.ssm.count("ListTagsForResource") == 2);
  CHECK(f.ssm.bodies_of("ListTagsForResource").at(0) ==
        json{{"ResourceType", "Parameter"}, {"ResourceId", "/app/db"}});
  CHECK(f.ssm.count("GetParameters") == 1);

  auto m = f.get_map(Fixture::ref("/app/db"));
  REQUIRE(m.ok());
  CHECK(m->at("user").view() == "admin");
  CHECK(m->at("port").view() == "5432");
  CHECK(m->at("a").view() == R"({"b":"nested"})");
  auto bad = f.get_map(Fixture::ref("/app/plain"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidRef);
  f.finish();
}

TEST_CASE("aws ps client: recent values answer refs within max_age", "[providers][aws]") {
  Fixture f;
  f.ssm.put("/k", "one");
  f.create();
  CHECK(f.get_one(Fixture::ref("/k", "", "", 60'000))->value.view() == "one");
  CHECK(f.ssm.count("GetParameters") == 1);
  f.ssm.put("/k", "two");
  f.clock.advance(30'000);
  CHECK(f.get_one(Fixture::ref("/k", "", "", 60'000))->value.view() == "one");
  CHECK(f.ssm.count("GetParameters") == 1);
  // max_age 0 always reads (and refreshes the kept value).
  CHECK(f.get_one(Fixture::ref("/k"))->value.view() == "two");
  CHECK(f.ssm.count("GetParameters") == 2);
  f.ssm.put("/k", "three");
  f.clock.advance(59'000);
  CHECK(f.get_one(Fixture::ref("/k", "", "", 60'000))->value.view() == "two");
  f.clock.advance(2'000);
  CHECK(f.get_one(Fixture::ref("/k", "", "", 60'000))->value.view() == "three");
  CHECK(f.ssm.count("GetParameters") == 3);
  // Errors are never kept.
  f.ssm.params.erase("/k");
  f.clock.advance(61'000);
  CHECK(f.get_one(Fixture::ref("/k", "", "", 60'000)).error().code == ErrorCode::kNotFound);
  CHECK(f.get_one(Fixture::ref("/k", "", "", 60'000)).error().code == ErrorCode::kNotFound);
  CHECK(f.ssm.count("GetParameters") == 5);
  f.finish();
}

TEST_CASE("aws ps client: error classes", "[providers][aws]") {
  Fixture f;
  f.ssm.put("/a", "x");
  std::string mode;
  f.ssm.fault = [&](const std::string&, const json&) -> std::optional<TestReply> {
    if (mode == "denied") return aws_error("AccessDeniedException", "not allowed");
    if (mode == "throttled") return aws_error("ThrottlingException", "Rate exceeded");
    if (mode == "5xx") return aws_error("InternalServerError", "", 500);
    return std::nullopt;
  };
  f.create();
  mode = "denied";
  auto d = f.get_one(Fixture::ref("/a"));
  CHECK(d.error().code == ErrorCode::kPermission);
  CHECK(f.ssm.count("GetParameters") == 1);
  mode = "throttled";
  CHECK(f.get_one(Fixture::ref("/a", "", "3")).error().code == ErrorCode::kRateLimited);
  CHECK(f.ssm.count("GetParameter") == 3);  // 2 retries by default
  mode = "5xx";
  CHECK(f.get_one(Fixture::ref("/a")).error().code == ErrorCode::kTransient);
  CHECK(f.counted["GetParameters/err"] == 4);
  mode = "";
  CHECK(f.get_one(Fixture::ref("/a"))->value.view() == "x");
  f.creds->fail = Error(ErrorCode::kAuth, "no credentials");
  CHECK(f.get_one(Fixture::ref("/a")).error().code == ErrorCode::kAuth);
  std::optional<Result<bool>> v;
  f.client->validate([&](Result<bool> r) { v = std::move(r); });
  REQUIRE(f.loop.run_until([&] { return v.has_value(); }));
  CHECK(v->error().code == ErrorCode::kAuth);
  f.creds->fail.reset();
  v.reset();
  f.client->validate([&](Result<bool> r) { v = std::move(r); });
  CHECK_FALSE(v.has_value());  // never synchronous
  REQUIRE(f.loop.run_until([&] { return v.has_value(); }));
  CHECK(v->ok());
  f.finish();
}

TEST_CASE("aws ps client: find by path and regexp pages GetParametersByPath", "[providers][aws]") {
  Fixture f;
  for (int i = 0; i < 23; ++i) f.ssm.put(pname(i), "v" + std::to_string(i));
  f.ssm.put("/other/x", "o");
  f.create();
  FindRef all;
  all.path = "/app";
  auto m = f.find(all);
  REQUIRE(m.ok());
  CHECK(m->size() == 23);
  CHECK(m->at("/app/p105").view() == "v5");
  CHECK(f.ssm.count("GetParametersByPath") == 3);
  auto first = f.ssm.bodies_of("GetParametersByPath").at(0);
  CHECK(first ==
        json{{"Path", "/app"}, {"Recursive", true}, {"WithDecryption", true}, {"MaxResults", 10}});
  CHECK(f.ssm.bodies_of("GetParametersByPath").at(1)["NextToken"] == "10");
  f.ssm.reset_counts();
  FindRef re;
  re.name_regexp = "p11[0-2]|x$";
  auto n = f.find(re);
  REQUIRE(n.ok());
  CHECK(n->size() == 4);
  CHECK(n->count("/app/p110") == 1);
  CHECK(n->count("/other/x") == 1);
  CHECK(f.ssm.bodies_of("GetParametersByPath").at(0)["Path"] == "/");
  CHECK(f.counted["GetParametersByPath/ok"] == 6);
  FindRef none;
  auto e = f.find(none);
  CHECK(e.error().message == "unexpected find operator");
  FindRef bad;
  bad.name_regexp = "(";
  CHECK(f.find(bad).error().code == ErrorCode::kInvalidRef);
  f.finish();
}

TEST_CASE("aws ps client: find falls back to DescribeParameters on AccessDenied",
          "[providers][aws]") {
  Fixture f;
  for (int i = 0; i < 12; ++i) f.ssm.put(pname(i), "v" + std::to_string(i));
  f.ssm.put("/other/x", "o");
  f.ssm.fault = [&](const std::string& op, const json&) -> std::optional<TestReply> {
    if (op == "GetParametersByPath") return aws_error("AccessDeniedException", "no");
    return std::nullopt;
  };
  f.create();
  FindRef find;
  find.path = "/app";
  find.name_regexp = "p1(0[0-9]|10)$";
  auto m = f.find(find);
  REQUIRE(m.ok());
  CHECK(m->size() == 11);
  CHECK(m->at("/app/p110").view() == "v10");
  CHECK(f.ssm.count("GetParametersByPath") == 1);
  CHECK(f.ssm.count("DescribeParameters") == 2);
  CHECK(f.ssm.bodies_of("DescribeParameters").at(0) ==
        json{{"ParameterFilters",
              {{{"Key", "Path"}, {"Option", "Recursive"}, {"Values", {"/app"}}}}}});
  // 11 matches read through the batcher: 10 + 1.
  CHECK(f.ssm.count("GetParameters") == 2);
  f.finish();
}

TEST_CASE("aws ps client: find by tags uses DescribeParameters filters", "[providers][aws]") {
  Fixture f;
  f.ssm.put("/a/one", "1");
  f.ssm.put("/a/two", "2");
  f.ssm.put("/b/three", "3");
  f.ssm.params["/a/one"].tags = {{"env", "prod"}, {"team", "x"}};
  f.ssm.params["/a/two"].tags = {{"env", "dev"}, {"team", "x"}};
  f.ssm.params["/b/three"].tags = {{"env", "prod"}, {"team", "x"}};
  f.create();
  FindRef find;
  find.tags = {{"env", "prod"}, {"team", "x"}};
  auto m = f.find(find);
  REQUIRE(m.ok());
  CHECK(m->size() == 2);
  CHECK(m->at("/a/one").view() == "1");
  CHECK(m->at("/b/three").view() == "3");
  CHECK(f.ssm.bodies_of("DescribeParameters").at(0) ==
        json{{"ParameterFilters",
              {{{"Key", "tag:env"}, {"Option", "Equals"}, {"Values", {"prod"}}},
               {{"Key", "tag:team"}, {"Option", "Equals"}, {"Values", {"x"}}}}}});
  CHECK(f.ssm.count("GetParametersByPath") == 0);
  CHECK(f.ssm.count("GetParameters") == 1);
  f.ssm.reset_counts();
  find.path = "/b";
  auto p = f.find(find);
  REQUIRE(p.ok());
  CHECK(p->size() == 1);
  CHECK(p->count("/b/three") == 1);
  CHECK(f.ssm.bodies_of("DescribeParameters").at(0)["ParameterFilters"].size() == 3);
  CHECK(f.counted["DescribeParameters/ok"] == 2);
  f.finish();
}

TEST_CASE("aws ps client: close delivers nothing more", "[providers][aws]") {
  Fixture f;
  f.ssm.put("/a", "x");
  f.create();
  bool called = false;
  f.client->get_secrets({Fixture::ref("/a"), Fixture::ref("/a", "", "1")},
                        [&](std::vector<Result<esd::providers::Fetched>>) { called = true; });
  f.client->close();
  for (int i = 0; i < 20; ++i) uv_run(f.loop.get(), UV_RUN_NOWAIT);
  CHECK_FALSE(called);
  CHECK(f.http.in_flight() == 0);
  f.finish();
}

TEST_CASE("aws provider: ParameterStore is routed to the Parameter Store client",
          "[providers][aws]") {
  const auto& p = esd::providers::aws::provider();
  CHECK(p.validate(Fixture::spec_json()).ok());
  Fixture f;
  auto c = p.create(Fixture::spec_json(
                        {{"auth",
                          {{"secretRef",
                            {{"accessKeyIDSecretRef", {{"name", "k"}, {"key", "id"}}},
                             {"secretAccessKeySecretRef", {{"name", "k"}, {"key", "secret"}}}}}}}}),
                    f.ctx());
  REQUIRE(c.ok());
  (*c)->close();
  c->reset();
  f.finish();
}
