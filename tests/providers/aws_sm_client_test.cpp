// The Secrets Manager SecretClient against a same-loop fake: ESO's value rules (prefix, property,
// binary, versions, metadataPolicy Fetch, extract), error classes, find (ListSecrets and
// BatchGetSecretValue with filters, paging), validate() and close().
#include "providers/aws/aws_sm_client.h"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "providers/aws_sm_fixture.h"

using esd::Error;
using esd::ErrorCode;
using esd::Result;
using esd::SecretMap;
using esd::providers::FindRef;
using esd::providers::Fetched;
using esd::providers::MetadataPolicy;
using esd::test::TestReply;
using esd::test::awssm::aws_error;
using esd::test::awssm::Fixture;
using nlohmann::json;

TEST_CASE("aws client: plain values, properties, binary and the prefix", "[providers][aws]") {
  Fixture f;
  f.sm.put("app/db", R"({"user":"admin","password":"s3cr3t","port":5432})");
  f.sm.put("app/cert", std::string("\x00\x01\xfe", 3), true);
  f.sm.put("prod/app/api", "plain-token");
  f.create();
  auto r = f.get({Fixture::ref("app/db"), Fixture::ref("app/db", "password"),
                  Fixture::ref("app/db", "port"), Fixture::ref("app/cert"),
                  Fixture::ref("app/db", "missing")});
  REQUIRE(r.size() == 5);
  REQUIRE(r[0].ok());
  CHECK(r[0]->value.view() == R"({"user":"admin","password":"s3cr3t","port":5432})");
  CHECK(r[0]->version == "ver-1");
  CHECK(r[1]->value.view() == "s3cr3t");
  CHECK(r[2]->value.view() == "5432");
  REQUIRE(r[3].ok());
  CHECK(r[3]->value.view() == std::string("\x00\x01\xfe", 3));
  REQUIRE_FALSE(r[4].ok());
  CHECK(r[4].error().code == ErrorCode::kInvalidRef);
  CHECK(r[4].error().message == "key missing does not exist in secret app/db");
  // All five refs, two distinct ids: one BatchGetSecretValue.
  CHECK(f.sm.count("BatchGetSecretValue") == 1);
  CHECK(f.sm.total() == 1);
  CHECK(f.sm.bodies.at(0) == json{{"SecretIdList", {"app/db", "app/cert"}}});
  f.client.reset();

  f.create(Fixture::spec_json({{"prefix", "prod/"}}));
  auto p = f.get_one(Fixture::ref("app/api"));
  REQUIRE(p.ok());
  CHECK(p->value.view() == "plain-token");
  CHECK(f.sm.bodies.back() == json{{"SecretIdList", {"prod/app/api"}}});
  f.finish();
}

TEST_CASE("aws client: not found, marked for deletion and denied secrets", "[providers][aws]") {
  Fixture f;
  f.sm.put("gone", "x");
  f.sm.secrets["gone"].deleted = true;
  f.sm.put("denied", "x");
  f.sm.put("ok", "fine");
  f.sm.fault = [](const std::string& op, const json& body) -> std::optional<TestReply> {
    if (op == "BatchGetSecretValue") {
      json out{{"SecretValues", json::array()}, {"Errors", json::array()}};
      for (const auto& id : body["SecretIdList"]) {
        if (id == "denied") {
          out["Errors"].push_back({{"SecretId", id}, {"ErrorCode", "AccessDeniedException"},
                                   {"Message", "not authorized"}});
        }
      }
      if (out["Errors"].empty()) return std::nullopt;
      // Also answer the others as the real service would.
      out["SecretValues"].push_back({{"Name", "ok"}, {"ARN", "arn:ok"}, {"VersionId", "v"},
                                     {"SecretString", "fine"}});
      out["Errors"].push_back({{"SecretId", "nope"}, {"ErrorCode", "ResourceNotFoundException"},
                               {"Message", "can't find"}});
      out["Errors"].push_back({{"SecretId", "gone"}, {"ErrorCode", "InvalidRequestException"},
                               {"Message", "it was marked for deletion."}});
      return esd::test::awssm::json_reply(200, out);
    }
    return std::nullopt;
  };
  f.create();
  auto r = f.get({Fixture::ref("nope"), Fixture::ref("gone"), Fixture::ref("denied"),
                  Fixture::ref("ok"), Fixture::ref("lost")});
  CHECK(r[0].error().code == ErrorCode::kNotFound);
  CHECK(r[0].error().message == "secret nope not found");
  CHECK(r[1].error().code == ErrorCode::kNotFound);
  CHECK(r[2].error().code == ErrorCode::kPermission);
  CHECK(r[2].error().message == "AccessDeniedException: not authorized");
  CHECK(r[3]->value.view() == "fine");
  CHECK(r[4].error().code == ErrorCode::kTransient);  // neither in SecretValues nor Errors
  CHECK(r[4].error().message == "secret lost missing from BatchGetSecretValue reply");
  CHECK(f.sm.count("BatchGetSecretValue") == 1);

  // Single calls (versioned) map the same way.
  auto v = f.get({Fixture::ref("nope", "", "AWSPREVIOUS"), Fixture::ref("gone", "", "AWSPREVIOUS")});
  CHECK(v[0].error().code == ErrorCode::kNotFound);
  CHECK(v[0].error().message == "secret nope not found");
  CHECK(v[1].error().code == ErrorCode::kNotFound);
  CHECK(v[1].error().message == "secret gone is marked for deletion");
  f.finish();
}

TEST_CASE("aws client: versions by stage and by uuid, shared while in flight", "[providers][aws]") {
  Fixture f;
  f.sm.put("rot", "one");
  f.sm.put("rot", "two");
  f.create();
  auto r = f.get({Fixture::ref("rot", "", "AWSPREVIOUS"), Fixture::ref("rot", "", "AWSPREVIOUS"),
                  Fixture::ref("rot", "", "uuid/ver-2"), Fixture::ref("rot", "", "AWSCURRENT"),
                  Fixture::ref("rot")});
  REQUIRE(r[0].ok());
  CHECK(r[0]->value.view() == "one");
  CHECK(r[0]->version == "ver-1");
  CHECK(r[1]->value.view() == "one");
  CHECK(r[2]->value.view() == "two");
  CHECK(r[2]->version == "ver-2");
  CHECK(r[3]->value.view() == "two");
  CHECK(r[4]->value.view() == "two");
  CHECK(f.sm.count("GetSecretValue") == 2);  // AWSPREVIOUS once, uuid once
  CHECK(f.sm.count("BatchGetSecretValue") == 1);
  bool by_id = false, by_stage = false;
  for (const auto& b : f.sm.bodies) {
    by_id |= b == json{{"SecretId", "rot"}, {"VersionId", "ver-2"}};
    by_stage |= b == json{{"SecretId", "rot"}, {"VersionStage", "AWSPREVIOUS"}};
  }
  CHECK(by_id);
  CHECK(by_stage);
  f.finish();
}

TEST_CASE("aws client: metadataPolicy Fetch reads the tags", "[providers][aws]") {
  Fixture f;
  f.sm.put("tagged", "v");
  f.sm.secrets["tagged"].tags = {{"team", "blue"}, {"env", "prod"}};
  f.create();
  auto all = Fixture::ref("tagged");
  all.metadata_policy = MetadataPolicy::kFetch;
  auto one = all;
  one.property = "team";
  auto missing = all;
  missing.property = "owner";
  auto r = f.get({all, one, missing});
  REQUIRE(r[0].ok());
  CHECK(r[0]->value.view() == R"({"env":"prod","team":"blue"})");
  CHECK(r[1]->value.view() == "blue");
  CHECK(r[2].error().message == "key owner does not exist in secret tagged");
  CHECK(f.sm.count("DescribeSecret") == 1);
  CHECK(f.sm.total() == 1);
  f.finish();
}

TEST_CASE("aws client: dataFrom.extract", "[providers][aws]") {
  Fixture f;
  f.sm.put("cfg", R"({"a":"1","b":{"c":true},"n":null})");
  f.sm.put("bin", std::string("\x01\x02", 2), true);
  f.create();
  auto m = f.get_map(Fixture::ref("cfg"));
  REQUIRE(m.ok());
  CHECK(m->size() == 3);
  CHECK(m->at("a").view() == "1");
  CHECK(m->at("b").view() == R"({"c":true})");
  CHECK(m->at("n").view().empty());
  auto sub = f.get_map(Fixture::ref("cfg", "b"));
  REQUIRE(sub.ok());
  CHECK(sub->at("c").view() == "true");
  auto bin = f.get_map(Fixture::ref("bin"));
  REQUIRE_FALSE(bin.ok());
  CHECK(bin.error().code == ErrorCode::kInvalidRef);
  auto none = f.get_map(Fixture::ref("absent"));
  CHECK(none.error().code == ErrorCode::kNotFound);
  f.finish();
}

TEST_CASE("aws client: find by name pages ListSecrets and batches the values",
          "[providers][aws]") {
  Fixture f;
  for (int i = 0; i < 130; ++i) f.sm.put("svc/key-" + std::to_string(i), "v" + std::to_string(i));
  f.sm.put("other/x", "no");
  f.create();
  FindRef find;
  find.name_regexp = "key-1[0-9]?$";  // key-1, key-10..19: 11 names
  auto m = f.find(find);
  REQUIRE(m.ok());
  CHECK(m->size() == 11);
  CHECK(m->at("svc/key-1").view() == "v1");
  CHECK(m->at("svc/key-17").view() == "v17");
  CHECK(f.sm.count("ListSecrets") == 2);  // 131 secrets, 100 per page
  CHECK(f.sm.count("BatchGetSecretValue") == 1);
  CHECK(f.sm.bodies.at(0) == json{{"MaxResults", 100}});
  bool second_page = false;
  for (const auto& b : f.sm.bodies) second_page |= b == json{{"MaxResults", 100}, {"NextToken", "100"}};
  CHECK(second_page);
  f.finish();
}

TEST_CASE("aws client: find by path and tags pages BatchGetSecretValue filters",
          "[providers][aws]") {
  Fixture f;
  for (int i = 0; i < 45; ++i) {
    const std::string name = "team/s" + std::to_string(i);
    f.sm.put(name, "v" + std::to_string(i));
    if (i % 3 == 0) f.sm.secrets[name].tags = {{"env", "prod"}};
  }
  f.sm.put("elsewhere/s1", "no");
  f.sm.secrets["elsewhere/s1"].tags = {{"env", "prod"}};
  f.create();
  FindRef by_path;
  by_path.path = "team/";
  auto all = f.find(by_path);
  REQUIRE(all.ok());
  CHECK(all->size() == 45);
  CHECK(f.sm.count("BatchGetSecretValue") == 3);  // 20 + 20 + 5
  CHECK(f.sm.bodies.at(0) ==
        json::parse(R"({"Filters":[{"Key":"name","Values":["team/"]}],"MaxResults":20})"));
  CHECK(f.sm.bodies.at(1)["NextToken"] == "20");

  FindRef tagged = by_path;
  tagged.tags = {{"env", "prod"}};
  tagged.name_regexp = "s1";
  auto t = f.find(tagged);
  REQUIRE(t.ok());
  // Tagged: s0, s3, ..., s42 (15); "s1" among them: s12, s15, s18.
  CHECK(t->size() == 3);
  CHECK(t->at("team/s15").view() == "v15");
  f.finish();
}

TEST_CASE("aws client: find without operator, bad regexp, and denied batch", "[providers][aws]") {
  Fixture f;
  f.sm.put("team/a", "A");
  f.sm.put("team/b", "B");
  f.create();
  auto none = f.find(FindRef{});
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ErrorCode::kInvalidConfig);
  CHECK(none.error().message == "unexpected find operator");
  FindRef bad;
  bad.name_regexp = "(";
  CHECK(f.find(bad).error().code == ErrorCode::kInvalidRef);
  CHECK(f.sm.total() == 0);

  f.sm.fault = [](const std::string& op, const json&) -> std::optional<TestReply> {
    if (op == "BatchGetSecretValue") return aws_error("AccessDeniedException", "no batch");
    return std::nullopt;
  };
  FindRef by_path;
  by_path.path = "team/";
  auto m = f.find(by_path);
  REQUIRE(m.ok());
  CHECK(m->size() == 2);
  CHECK(m->at("team/b").view() == "B");
  CHECK(f.sm.count("ListSecrets") == 1);
  CHECK(f.sm.count("GetSecretValue") == 2);
  CHECK(f.sm.count("BatchGetSecretValue") == 1);  // the values do not try the batch API again
  f.finish();
}

TEST_CASE("aws client: validate() checks that credentials can be obtained", "[providers][aws]") {
  Fixture f;
  f.create();
  std::optional<Result<bool>> out;
  f.client->validate([&](Result<bool> r) { out = std::move(r); });
  CHECK_FALSE(out.has_value());
  REQUIRE(f.loop.run_until([&] { return out.has_value(); }));
  REQUIRE(out->ok());
  CHECK(**out);
  f.creds->fail = Error(ErrorCode::kAuth, "no credentials in the default chain");
  out.reset();
  f.client->validate([&](Result<bool> r) { out = std::move(r); });
  REQUIRE(f.loop.run_until([&] { return out.has_value(); }));
  REQUIRE_FALSE(out->ok());
  CHECK(out->error().code == ErrorCode::kAuth);
  CHECK(f.sm.total() == 0);
  f.finish();
}

TEST_CASE("aws client: nothing is delivered after close()", "[providers][aws]") {
  Fixture f;
  f.sm.put("k", "v");
  f.sm.fault = [](const std::string&, const json&) {
    TestReply h;
    h.action = TestReply::Action::kHang;
    return std::optional<TestReply>(h);
  };
  f.create();
  int called = 0;
  f.client->get_secrets({Fixture::ref("k"), Fixture::ref("k", "", "AWSPREVIOUS")},
                        [&](std::vector<Result<Fetched>>) { ++called; });
  FindRef find;
  find.name_regexp = ".";
  f.client->get_all_secrets(find, [&](Result<SecretMap>) { ++called; });
  REQUIRE(f.loop.run_until([&] { return f.server.requests().size() == 3; }));
  // Answers that would come on the next loop turn, and a queued batch that is not sent yet.
  f.client->validate([&](Result<bool>) { ++called; });
  f.client->get_secrets({}, [&](std::vector<Result<Fetched>>) { ++called; });
  f.client->get_secrets({Fixture::ref("other")}, [&](std::vector<Result<Fetched>>) { ++called; });
  FindRef nothing;
  f.client->get_all_secrets(nothing, [&](Result<SecretMap>) { ++called; });
  f.client->close();
  CHECK(f.creds->closed);
  f.client->get_secrets({Fixture::ref("k")}, [&](std::vector<Result<Fetched>>) { ++called; });
  f.finish();
  CHECK(called == 0);
}
