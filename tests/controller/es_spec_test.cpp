#include "daemon/controller/es_spec.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using esd::ErrorCode;
using esd::providers::MetadataPolicy;
using namespace esd::controller;
using nlohmann::json;

namespace {

json es_with(const json& spec) {
  return json{{"apiVersion", "external-secrets.io/v1"},
              {"kind", "ExternalSecret"},
              {"metadata", {{"name", "my-es"}, {"namespace", "default"}}},
              {"spec", spec}};
}

json minimal_spec() {
  return json::parse(R"({"secretStoreRef":{"name":"store"},
                         "data":[{"secretKey":"k","remoteRef":{"key":"remote"}}]})");
}

// Applies a JSON merge patch to the minimal spec.
json patched(const char* patch) {
  json spec = minimal_spec();
  spec.merge_patch(json::parse(patch));
  return es_with(spec);
}

}  // namespace

TEST_CASE("parse_go_duration: Go time.ParseDuration vectors", "[controller][es_spec]") {
  struct Case {
    const char* in;
    int64_t ms;
  };
  const std::vector<Case> cases = {
      {"0", 0},
      {"+0", 0},
      {"5s", 5000},
      {"30s", 30000},
      {"1478s", 1478000},
      {"+5s", 5000},
      {"5.0s", 5000},
      {"5.6s", 5600},
      {"5.s", 5000},
      {".5s", 500},
      {"1.0s", 1000},
      {"1.00s", 1000},
      {"1.004s", 1004},
      {"1.0040s", 1004},
      {"100.00100s", 100001},
      {"13ms", 13},
      {"14s", 14000},
      {"15m", 900000},
      {"16h", 57600000},
      {"1h", 3600000},
      {"1h0m0s", 3600000},
      {"3h30m", 12600000},
      {"10.5s4m", 250500},
      {"1h2m3s4ms5us6ns", 3723004},
      {"39h9m14.425s", 140954425},
      {"52763797000ns", 52763},
      {"0.3333333333333333333h", 1200000},
      {"9007199254740993ns", 9007199254},
      {"9223372036854775807ns", 9223372036854},
      {"9223372036854775.807us", 9223372036854},
      {"9223372036s854ms775us807ns", 9223372036854},
      {"0.100000000000000000000h", 360000},
      {"0.830103483285477580700h", 2988372},
      {"1.5h", 5400000},
      // Sub-millisecond but non-zero: 1 ms, so that only "0" means "sync once".
      {"10ns", 1},
      {"11us", 1},
      {"12\xC2\xB5s", 1},
      {"12\xCE\xBCs", 1},
      {"1500us", 1},
  };
  for (const auto& c : cases) {
    INFO(c.in);
    auto r = parse_go_duration(c.in);
    REQUIRE(r.ok());
    CHECK(*r == c.ms);
  }
}

TEST_CASE("parse_go_duration: rejects what Go rejects, and negatives", "[controller][es_spec]") {
  struct Case {
    const char* in;
    const char* message;  // empty: only check that it fails
  };
  const std::vector<Case> cases = {
      {"", "time: invalid duration \"\""},
      {"3", "time: missing unit in duration \"3\""},
      {"abc", "time: invalid duration \"abc\""},
      {"1d", "time: unknown unit \"d\" in duration \"1d\""},
      {"-", ""},
      {"s", ""},
      {".", ""},
      {"-.", ""},
      {".s", ""},
      {"+.s", ""},
      {"+", ""},
      {"1.5", ""},
      {"\x85\x85", ""},
      {"\xFF\xFF", ""},
      {"hello \xFF\xFF world", ""},
      {"9223372036854775810ns", ""},
      {"9223372036854775808ns", ""},
      {"9223372036854775.808us", ""},
      {"3000000h", ""},
      {"1h 30m", ""},
      {"-5s", ""},
      {"-0", ""},
      {"-2m3.4s", ""},
  };
  for (const auto& c : cases) {
    INFO(c.in);
    auto r = parse_go_duration(c.in);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidConfig);
    if (*c.message != '\0') CHECK(r.error().message == c.message);
  }
}

TEST_CASE("parse_es_spec: defaults", "[controller][es_spec]") {
  auto r = parse_es_spec(es_with(minimal_spec()));
  REQUIRE(r.ok());
  const EsSpec& s = *r;
  CHECK(s.store == StoreRef{"store", "SecretStore"});
  CHECK(s.refresh_ms == 3600000);
  CHECK(s.refresh_policy == RefreshPolicy::kPeriodic);
  CHECK(s.target_name == "my-es");
  CHECK(s.creation == CreationPolicy::kOwner);
  CHECK(s.deletion == DeletionPolicy::kRetain);
  CHECK_FALSE(s.immutable);
  CHECK_FALSE(s.has_template);
  REQUIRE(s.data.size() == 1);
  CHECK(s.data[0].secret_key == "k");
  CHECK(s.data[0].ref.key == "remote");
  CHECK(s.data[0].ref.property.empty());
  CHECK(s.data[0].ref.metadata_policy == MetadataPolicy::kNone);
  CHECK(s.data[0].decoding == Decoding::kNone);
  CHECK(s.data[0].null_bytes == NullBytePolicy::kIgnore);
  CHECK_FALSE(s.data[0].store.has_value());
  CHECK(s.data_from.empty());
}

TEST_CASE("parse_es_spec: reads every supported field", "[controller][es_spec]") {
  auto r = parse_es_spec(es_with(json::parse(R"j({
    "secretStoreRef": {"name": "css", "kind": "ClusterSecretStore"},
    "refreshInterval": "1h30m", "refreshPolicy": "OnChange",
    "target": {"name": "out", "creationPolicy": "Orphan", "deletionPolicy": "Delete",
               "immutable": true, "template": {"type": "Opaque"}},
    "data": [
      {"secretKey": "a", "remoteRef": {"key": "k1", "property": "p.q", "version": "3",
        "decodingStrategy": "Base64URL", "conversionStrategy": "Unicode",
        "metadataPolicy": "Fetch", "nullBytePolicy": "Fail"},
       "sourceRef": {"storeRef": {"name": "other"}}}],
    "dataFrom": [
      {"extract": {"key": "k2", "decodingStrategy": "Auto", "conversionStrategy": "Unicode"},
       "rewrite": [{"regexp": {"source": "(.*)", "target": "my_$1"}}]},
      {"find": {"path": "app/", "name": {"regexp": "^db-.*"}, "tags": {"env": "prod"},
                "conversionStrategy": "Default", "decodingStrategy": "Base64",
                "nullBytePolicy": "Fail"},
       "sourceRef": {"storeRef": {"name": "s2", "kind": "SecretStore"}}}]
  })j")));
  REQUIRE(r.ok());
  const EsSpec& s = *r;
  CHECK(s.store == StoreRef{"css", "ClusterSecretStore"});
  CHECK(s.refresh_ms == 5400000);
  CHECK(s.refresh_policy == RefreshPolicy::kOnChange);
  CHECK(s.target_name == "out");
  CHECK(s.creation == CreationPolicy::kOrphan);
  CHECK(s.deletion == DeletionPolicy::kDelete);
  CHECK(s.immutable);
  CHECK(s.has_template);
  REQUIRE(s.data.size() == 1);
  const DataItem& d = s.data[0];
  CHECK(d.ref.property == "p.q");
  CHECK(d.ref.version == "3");
  CHECK(d.ref.metadata_policy == MetadataPolicy::kFetch);
  CHECK(d.decoding == Decoding::kBase64Url);
  CHECK(d.null_bytes == NullBytePolicy::kFail);
  REQUIRE(d.store.has_value());
  CHECK(*d.store == StoreRef{"other", "SecretStore"});
  REQUIRE(s.data_from.size() == 2);
  const DataFromItem& e = s.data_from[0];
  CHECK(e.kind == DataFromItem::Kind::kExtract);
  CHECK(e.extract.key == "k2");
  CHECK(e.decoding == Decoding::kAuto);
  CHECK(e.conversion == Conversion::kUnicode);
  REQUIRE(e.rewrites.size() == 1);
  CHECK(e.rewrites[0].source == "(.*)");
  CHECK(e.rewrites[0].target == "my_$1");
  CHECK_FALSE(e.store.has_value());
  const DataFromItem& f = s.data_from[1];
  CHECK(f.kind == DataFromItem::Kind::kFind);
  CHECK(f.find.path == "app/");
  CHECK(f.find.name_regexp == "^db-.*");
  CHECK(f.find.tags == std::map<std::string, std::string>{{"env", "prod"}});
  CHECK(f.decoding == Decoding::kBase64);
  CHECK(f.conversion == Conversion::kDefault);
  CHECK(f.null_bytes == NullBytePolicy::kFail);
  REQUIRE(f.store.has_value());
  CHECK(f.store->name == "s2");
}

TEST_CASE("parse_es_spec: refreshInterval", "[controller][es_spec]") {
  auto zero = parse_es_spec(patched(R"({"refreshInterval": "0"})"));
  REQUIRE(zero.ok());
  CHECK(zero->refresh_ms == 0);
  auto secs = parse_es_spec(patched(R"({"refreshInterval": "5s"})"));
  REQUIRE(secs.ok());
  CHECK(secs->refresh_ms == 5000);
  auto bad = parse_es_spec(patched(R"({"refreshInterval": "abc"})"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidConfig);
  CHECK(bad.error().message ==
        "spec.refreshInterval: invalid refreshInterval \"abc\": time: invalid duration \"abc\"");
  auto number = parse_es_spec(patched(R"({"refreshInterval": 60})"));
  REQUIRE_FALSE(number.ok());
  CHECK(number.error().message == "spec.refreshInterval: expected a string");
  CHECK_FALSE(parse_es_spec(patched(R"({"refreshInterval": "-1h"})")).ok());
}

TEST_CASE("parse_es_spec: ESO admission rules and field errors", "[controller][es_spec]") {
  struct Case {
    const char* patch;
    const char* message;  // exact expected message
  };
  const std::vector<Case> cases = {
      {R"({"data": null})", "spec: either data or dataFrom should be specified"},
      {R"({"data": []})", "spec: either data or dataFrom should be specified"},
      {R"({"target": {"deletionPolicy": "Delete", "creationPolicy": "Merge"}})",
       "spec.target.deletionPolicy: deletionPolicy=Delete must not be used when the controller "
       "doesn't own the secret. Please set creationPolicy=Owner"},
      {R"({"target": {"deletionPolicy": "Delete", "creationPolicy": "None"}})",
       "spec.target.deletionPolicy: deletionPolicy=Delete must not be used when the controller "
       "doesn't own the secret. Please set creationPolicy=Owner"},
      {R"({"target": {"deletionPolicy": "Delete", "creationPolicy": "CreateOrMerge"}})",
       "spec.target.deletionPolicy: deletionPolicy=Delete must not be used when the controller "
       "doesn't own the secret. Please set creationPolicy=Owner"},
      {R"({"target": {"deletionPolicy": "Merge", "creationPolicy": "None"}})",
       "spec.target.deletionPolicy: deletionPolicy=Merge must not be used with "
       "creationPolicy=None. There is no Secret to merge with"},
      {R"({"data": [{"secretKey": "k", "remoteRef": {"key": "a"}},
                    {"secretKey": "k", "remoteRef": {"key": "b"}}]})",
       "spec.data[1].secretKey: duplicate secretKey found: k"},
      {R"({"data": [{"secretKey": 5, "remoteRef": {"key": "a"}}]})",
       "spec.data[0].secretKey: expected a string"},
      {R"({"data": [{"secretKey": "a/b", "remoteRef": {"key": "a"}}]})",
       "spec.data[0].secretKey: \"a/b\" must match ^[-._a-zA-Z0-9]+$"},
      {R"({"data": [{"remoteRef": {"key": "a"}}]})", "spec.data[0].secretKey: required"},
      {R"({"data": [{"secretKey": "k"}]})", "spec.data[0].remoteRef: required"},
      {R"({"data": [{"secretKey": "k", "remoteRef": {"key": ""}}]})",
       "spec.data[0].remoteRef.key: required"},
      {R"({"data": [{"secretKey": "k", "remoteRef": {"key": "a", "decodingStrategy": "Hex"}}]})",
       "spec.data[0].remoteRef.decodingStrategy: unsupported value \"Hex\" (want Auto, Base64, "
       "Base64URL or None)"},
      {R"({"data": [{"secretKey": "k", "remoteRef": {"key": "a"},
                     "sourceRef": {"generatorRef": {"kind": "Password", "name": "p"}}}]})",
       "spec.data[0].sourceRef.generatorRef: generators are not supported yet"},
      {R"({"data": "nope"})", "spec.data: expected a list"},
      {R"({"data": ["nope"]})", "spec.data[0]: expected an object"},
      {R"({"refreshPolicy": "Sometimes"})",
       "spec.refreshPolicy: unsupported value \"Sometimes\" (want CreatedOnce, Periodic or "
       "OnChange)"},
      {R"({"target": {"creationPolicy": "Always"}})",
       "spec.target.creationPolicy: unsupported value \"Always\" (want Owner, Orphan, Merge, "
       "None or CreateOrMerge)"},
      {R"({"target": {"immutable": "yes"}})", "spec.target.immutable: expected a boolean"},
      {R"({"target": {"manifest": {"apiVersion": "v1", "kind": "ConfigMap"}}})",
       "spec.target.manifest: generic targets are not supported yet"},
      {R"({"secretStoreRef": {"name": "s", "kind": "Vault"}})",
       "spec.secretStoreRef.kind: unsupported value \"Vault\" (want SecretStore or "
       "ClusterSecretStore)"},
      {R"({"secretStoreRef": null})",
       "spec.secretStoreRef.name: required (spec.data[0] has no sourceRef)"},
      {R"({"syncWindows": {"kind": "deny", "windows": [{"schedule": "@daily", "duration": "1h"}]}})",
       "spec.syncWindows: sync windows are not supported yet"},
      {R"({"dataFrom": [{"extract": {"key": "a"}, "find": {"path": "p"}}]})",
       "spec.dataFrom[0]: extract and find cannot be set at the same time"},
      {R"({"dataFrom": [{}]})", "spec.dataFrom[0]: either extract or find must be set"},
      {R"({"dataFrom": [{"sourceRef": {"generatorRef": {"kind": "UUID", "name": "u"}}}]})",
       "spec.dataFrom[0].sourceRef.generatorRef: generators are not supported yet"},
      {R"({"dataFrom": [{"extract": {"key": "a"}, "sourceRef": {}}]})",
       "spec.dataFrom[0].sourceRef: generatorRef or storeRef must be set when using sourceRef"},
      {R"({"dataFrom": [{"extract": {"key": "a"}, "sourceRef": {"storeRef": {"kind": "SecretStore"}}}]})",
       "spec.dataFrom[0].sourceRef.storeRef.name: required"},
      {R"({"dataFrom": [{"extract": {"key": "a"}, "rewrite": [{"transform": {"template": "x"}}]}]})",
       "spec.dataFrom[0].rewrite[0].transform: transform rewrites are not supported yet"},
      {R"({"dataFrom": [{"extract": {"key": "a"}, "rewrite": [{"merge": {}}]}]})",
       "spec.dataFrom[0].rewrite[0].merge: merge rewrites are not supported yet"},
      {R"({"dataFrom": [{"extract": {"key": "a"}, "rewrite": [{}]}]})",
       "spec.dataFrom[0].rewrite[0]: exactly one of regexp, transform or merge must be set"},
      {R"({"dataFrom": [{"find": {"name": {"regexp": "(["}}}]})", ""},
      {R"({"dataFrom": [{"extract": {"key": "a"},
                         "rewrite": [{"regexp": {"source": "a(", "target": "x"}}]}]})",
       ""},
      {R"({"dataFrom": [{"find": {"tags": {"env": 1}}}]})",
       "spec.dataFrom[0].find.tags.env: expected a string"},
  };
  for (const auto& c : cases) {
    INFO(c.patch);
    auto r = parse_es_spec(patched(c.patch));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidConfig);
    if (*c.message != '\0') {
      CHECK(r.error().message == c.message);
    } else {
      CHECK(r.error().message.find("invalid regexp: ") != std::string::npos);
    }
  }
}

TEST_CASE("parse_es_spec: ESO quirks that are accepted", "[controller][es_spec]") {
  // Duplicate secretKey is only rejected with deletionPolicy=Retain.
  auto dup = parse_es_spec(patched(R"({"target": {"deletionPolicy": "Delete"},
      "data": [{"secretKey": "k", "remoteRef": {"key": "a"}},
               {"secretKey": "k", "remoteRef": {"key": "b"}}]})"));
  CHECK(dup.ok());
  // No top-level store is fine when every item names its own.
  auto per_item = parse_es_spec(patched(R"({"secretStoreRef": null,
      "data": [{"secretKey": "k", "remoteRef": {"key": "a"},
                "sourceRef": {"storeRef": {"name": "s", "kind": "ClusterSecretStore"}}}]})"));
  REQUIRE(per_item.ok());
  CHECK(per_item->data[0].store->kind == "ClusterSecretStore");
  // Empty strings mean the defaults; dataFrom alone is enough.
  auto only_from = parse_es_spec(patched(R"({"data": null, "target": {"name": "",
      "creationPolicy": "", "deletionPolicy": ""}, "dataFrom": [{"find": {}}]})"));
  REQUIRE(only_from.ok());
  CHECK(only_from->target_name == "my-es");
  CHECK(only_from->data_from[0].kind == DataFromItem::Kind::kFind);
  CHECK(only_from->data_from[0].find.name_regexp.empty());
}

TEST_CASE("parse_es_spec: wrong top-level shapes are errors, not exceptions",
          "[controller][es_spec]") {
  CHECK_FALSE(parse_es_spec(json()).ok());
  CHECK_FALSE(parse_es_spec(json::array()).ok());
  CHECK_FALSE(parse_es_spec(json::object()).ok());
  auto spec_string = parse_es_spec(json{{"metadata", {{"name", "x"}}}, {"spec", "str"}});
  REQUIRE_FALSE(spec_string.ok());
  CHECK(spec_string.error().message == "spec: expected an object");
}

TEST_CASE("parse_meta: reads metadata leniently", "[controller][es_spec]") {
  const json obj = json::parse(R"({"metadata": {"namespace": "ns", "name": "n", "uid": "u-1",
      "resourceVersion": "42", "generation": 7, "labels": {"a": "1", "bad": 2},
      "annotations": {"x": "y"}, "deletionTimestamp": "2024-01-01T00:00:00Z"}})");
  const ObjectMeta m = parse_meta(obj);
  CHECK(m.ns == "ns");
  CHECK(m.name == "n");
  CHECK(m.uid == "u-1");
  CHECK(m.resource_version == "42");
  CHECK(m.generation == 7);
  CHECK(m.labels == std::map<std::string, std::string>{{"a", "1"}});
  CHECK(m.annotations == std::map<std::string, std::string>{{"x", "y"}});
  CHECK(m.deleting);
  const ObjectMeta empty = parse_meta(json("not an object"));
  CHECK(empty.name.empty());
  CHECK_FALSE(empty.deleting);
}

TEST_CASE("parse_store: provider, controller, conditions, fingerprint", "[controller][es_spec]") {
  json css = json::parse(R"({"kind": "ClusterSecretStore", "metadata": {"name": "css"},
    "spec": {"controller": "dev", "refreshInterval": 300,
      "provider": {"fake": {"data": [{"key": "k", "value": "v"}]}},
      "conditions": [
        {"namespaceSelector": {"matchLabels": {"team": "a"},
           "matchExpressions": [{"key": "tier", "operator": "In", "values": ["x", "y"]}]}},
        {"namespaces": ["ns1"], "namespaceRegexes": ["dev"]}]}})");
  auto r = parse_store(css);
  REQUIRE(r.ok());
  CHECK(r->kind == "ClusterSecretStore");
  CHECK(r->ns.empty());
  CHECK(r->name == "css");
  CHECK(r->provider == "fake");
  CHECK(r->provider_spec == css["spec"]["provider"]["fake"]);
  CHECK(r->controller == "dev");
  CHECK(r->refresh_ms == std::optional<int64_t>(300000));
  REQUIRE(r->conditions.size() == 2);
  CHECK(r->conditions[0].has_selector);
  CHECK(r->conditions[0].match_labels == std::map<std::string, std::string>{{"team", "a"}});
  REQUIRE(r->conditions[0].match_expressions.size() == 1);
  CHECK(r->conditions[0].match_expressions[0].op == LabelRequirement::Op::kIn);
  CHECK(r->conditions[1].namespaces == std::vector<std::string>{"ns1"});
  CHECK(r->conditions[1].namespace_regexes == std::vector<std::string>{"dev"});
  REQUIRE(r->fingerprint.size() == 64);

  json same = css;
  same["metadata"]["resourceVersion"] = "99";
  CHECK(parse_store(same)->fingerprint == r->fingerprint);  // metadata does not count
  json changed = css;
  changed["spec"]["provider"]["fake"]["data"][0]["value"] = "v2";
  CHECK(parse_store(changed)->fingerprint != r->fingerprint);
}

TEST_CASE("parse_store: kinds, refreshInterval and errors", "[controller][es_spec]") {
  auto ss = parse_store(json::parse(R"({"metadata": {"name": "s", "namespace": "ns"},
      "spec": {"refreshInterval": "1m", "provider": {"vault": {}},
               "conditions": [{"namespaces": ["ignored"]}]}})"));
  REQUIRE(ss.ok());
  CHECK(ss->kind == "SecretStore");  // inferred from the namespace
  CHECK(ss->ns == "ns");
  CHECK(ss->refresh_ms == std::optional<int64_t>(60000));
  CHECK(ss->conditions.empty());  // conditions only apply to cluster stores
  auto css = parse_store(
      json::parse(R"({"metadata": {"name": "c"}, "spec": {"provider": {"fake": {}}}})"));
  REQUIRE(css.ok());
  CHECK(css->kind == "ClusterSecretStore");
  CHECK_FALSE(css->refresh_ms.has_value());

  struct Case {
    const char* spec;
    const char* message;
  };
  const std::vector<Case> cases = {
      {R"({})", "spec.provider: must name exactly one provider"},
      {R"({"provider": {}})", "spec.provider: must name exactly one provider"},
      {R"({"provider": {"a": {}, "b": {}}})", "spec.provider: must name exactly one provider"},
      {R"({"provider": {"fake": "x"}})", "spec.provider.fake: expected an object"},
      {R"({"provider": {"fake": {}}, "controller": 1})", "spec.controller: expected a string"},
      {R"({"provider": {"fake": {}}, "refreshInterval": -5})",
       "spec.refreshInterval: must not be negative"},
      {R"({"provider": {"fake": {}}, "refreshInterval": "x"})",
       "spec.refreshInterval: time: invalid duration \"x\""},
      {R"({"provider": {"fake": {}}, "conditions": [{"namespaceRegexes": ["("]}]})", ""},
      {R"({"provider": {"fake": {}}, "conditions": [{"namespaceSelector": {"matchExpressions":
           [{"key": "a", "operator": "Gt", "values": ["1"]}]}}]})",
       "spec.conditions[0].namespaceSelector.matchExpressions[0].operator: unsupported value "
       "\"Gt\" (want In, NotIn, Exists or DoesNotExist)"},
      {R"({"provider": {"fake": {}}, "conditions": [{"namespaceSelector": {"matchExpressions":
           [{"key": "a", "operator": "In"}]}}]})",
       "spec.conditions[0].namespaceSelector.matchExpressions[0].values: must be specified when "
       "operator is In or NotIn"},
      {R"({"provider": {"fake": {}}, "conditions": [{"namespaceSelector": {"matchExpressions":
           [{"key": "a", "operator": "Exists", "values": ["1"]}]}}]})",
       "spec.conditions[0].namespaceSelector.matchExpressions[0].values: may not be specified "
       "when operator is Exists or DoesNotExist"},
  };
  for (const auto& c : cases) {
    INFO(c.spec);
    json store = {{"kind", "ClusterSecretStore"},
                  {"metadata", {{"name", "c"}}},
                  {"spec", json::parse(c.spec)}};
    auto r = parse_store(store);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidConfig);
    if (*c.message != '\0') {
      CHECK(r.error().message == c.message);
    } else {
      CHECK(r.error().message.rfind("spec.conditions[0].namespaceRegexes[0]: invalid regexp", 0) ==
            0);
    }
  }
  CHECK_FALSE(parse_store(json("x")).ok());
}

TEST_CASE("store_allows_namespace: ClusterSecretStore conditions", "[controller][es_spec]") {
  using Labels = std::map<std::string, std::string>;
  StoreSpec store;
  store.kind = "ClusterSecretStore";
  CHECK(store_allows_namespace(store, "any", {}));  // no conditions: everyone

  NamespaceCondition by_labels;
  by_labels.match_labels = {{"team", "a"}};
  store.conditions = {by_labels};
  CHECK(store_allows_namespace(store, "x", Labels{{"team", "a"}, {"other", "1"}}));
  CHECK_FALSE(store_allows_namespace(store, "x", Labels{{"team", "b"}}));
  CHECK_FALSE(store_allows_namespace(store, "x", {}));

  NamespaceCondition by_name;
  by_name.namespaces = {"ns1", "ns2"};
  store.conditions = {by_name};
  CHECK(store_allows_namespace(store, "ns2", {}));
  CHECK_FALSE(store_allows_namespace(store, "ns3", {}));

  NamespaceCondition by_regex;
  by_regex.namespace_regexes = {"dev"};
  store.conditions = {by_regex};
  CHECK(store_allows_namespace(store, "my-dev-ns", {}));  // unanchored, like Go MatchString
  CHECK_FALSE(store_allows_namespace(store, "prod", {}));

  NamespaceCondition everything;
  everything.has_selector = true;  // namespaceSelector: {}
  store.conditions = {by_name, everything};
  CHECK(store_allows_namespace(store, "whatever", {}));

  NamespaceCondition absent;  // a condition with nothing in it matches nothing
  store.conditions = {absent};
  CHECK_FALSE(store_allows_namespace(store, "whatever", {}));
}

TEST_CASE("store_allows_namespace: matchExpressions operators", "[controller][es_spec]") {
  using Op = LabelRequirement::Op;
  using Labels = std::map<std::string, std::string>;
  struct Case {
    Op op;
    std::vector<std::string> values;
    Labels labels;
    bool want;
  };
  const std::vector<Case> cases = {
      {Op::kIn, {"a", "b"}, {{"k", "b"}}, true},
      {Op::kIn, {"a", "b"}, {{"k", "c"}}, false},
      {Op::kIn, {"a"}, {}, false},
      {Op::kNotIn, {"a"}, {{"k", "b"}}, true},
      {Op::kNotIn, {"a"}, {}, true},
      {Op::kNotIn, {"a"}, {{"k", "a"}}, false},
      {Op::kExists, {}, {{"k", ""}}, true},
      {Op::kExists, {}, {{"j", "x"}}, false},
      {Op::kDoesNotExist, {}, {{"j", "x"}}, true},
      {Op::kDoesNotExist, {}, {{"k", "x"}}, false},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i);
    StoreSpec store;
    NamespaceCondition c;
    c.match_expressions = {LabelRequirement{cases[i].op, "k", cases[i].values}};
    store.conditions = {c};
    CHECK(store_allows_namespace(store, "ns", cases[i].labels) == cases[i].want);
  }
}
