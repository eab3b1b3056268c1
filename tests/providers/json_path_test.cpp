#include "providers/json_path.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using esd::ErrorCode;
using esd::providers::go_format_float;
using esd::providers::json_path_get;
using esd::providers::json_property;
using esd::providers::json_to_secret_map;
using esd::providers::json_value_to_string;
using nlohmann::json;

namespace {

// eso-api §6.1 C11.
const char* kPeople = R"({"name":{"first":"Tom","last":"Anderson"},"age":37,
  "friends":[{"first":"Dale","last":"Murphy"},{"first":"Roger","last":"Craig"},
             {"first":"Jane","last":"Murphy"}],
  "a.b":"literal","a":{"b":"nested"},"n":null,"t":true,"f":false,
  "int":5432,"neg":-7,"float":1.50,"exp":1e3,"small":1E-7,
  "obj":{"x": [1, 2],  "y": "z"},"esc":"line\nbreak \"q\" \u00e9","star*":"s"})";

}  // namespace

TEST_CASE("json_property: resolves gjson paths like ESO providers", "[providers][json_path]") {
  struct Case {
    const char* property;
    const char* want;
  };
  const std::vector<Case> cases = {
      {"name.first", "Tom"},         // C11
      {"friends.1.first", "Roger"},  // C11
      {"friends.0.last", "Murphy"},
      {"friends.#", "3"},
      {"friends.#.first", R"(["Dale","Roger","Jane"])"},
      {"age", "37"},
      {"int", "5432"},
      {"neg", "-7"},
      {"float", "1.5"},  // non-integer: Go FormatFloat 'f' -1
      {"exp", "1000"},
      {"small", "0.0000001"},
      {"t", "true"},
      {"f", "false"},
      {"n", ""},                               // gjson: null → ""
      {"obj", R"({"x": [1, 2],  "y": "z"})"},  // raw text, spacing kept
      {"obj.x", "[1, 2]"},
      {"obj.x.1", "2"},
      {"esc", "line\nbreak \"q\" \xC3\xA9"},
      {"a.b", "literal"},    // a literal top-level key wins
      {"a\\.b", "literal"},  // escaped dot
      {"na*.first", "Tom"},  // wildcard key
      {"fri?nds.2.first", "Jane"},
      {"star\\*", "s"},
  };
  for (const auto& c : cases) {
    INFO(c.property);
    auto r = json_property(kPeople, c.property);
    REQUIRE(r.ok());
    CHECK(std::string(r->view()) == c.want);
  }
}

TEST_CASE("json_path_get: plain gjson has no literal dotted-key fallback",
          "[providers][json_path]") {
  auto nested = json_path_get(kPeople, "a.b");
  REQUIRE(nested.ok());
  CHECK(nested->view() == "nested");
  auto literal = json_property(kPeople, "a.b");
  REQUIRE(literal.ok());
  CHECK(literal->view() == "literal");
}

TEST_CASE("json_property: missing, non-JSON and unsupported syntax", "[providers][json_path]") {
  struct Case {
    const char* doc;
    const char* property;
    ErrorCode code;
  };
  const std::vector<Case> cases = {
      {kPeople, "name.middle", ErrorCode::kNotFound},
      {kPeople, "friends.3.first", ErrorCode::kNotFound},
      {kPeople, "friends.x", ErrorCode::kNotFound},
      {kPeople, "age.x", ErrorCode::kNotFound},
      {kPeople, "", ErrorCode::kNotFound},
      {"[1,2]", "0.x", ErrorCode::kNotFound},
      {"not json at all", "foo", ErrorCode::kInvalidRef},
      {"{\"a\":", "a", ErrorCode::kInvalidRef},
      {kPeople, "friends.#(first==\"Dale\").last", ErrorCode::kInvalidRef},
      {kPeople, "@reverse", ErrorCode::kInvalidRef},
      {kPeople, "name|first", ErrorCode::kInvalidRef},
      {kPeople, "{name,age}", ErrorCode::kInvalidRef},
  };
  for (const auto& c : cases) {
    INFO(c.property);
    auto r = json_property(c.doc, c.property);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == c.code);
  }
  auto missing = json_property(R"({"secret":"hunter2"})", "nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message == "property nope not found");
}

TEST_CASE("json_property: top-level arrays and scalars", "[providers][json_path]") {
  auto r = json_property(R"( [ {"a":"x"}, {"a":"y"} ] )", "1.a");
  REQUIRE(r.ok());
  CHECK(r->view() == "y");
  auto count = json_property("[]", "#");
  REQUIRE(count.ok());
  CHECK(count->view() == "0");
  CHECK_FALSE(json_property("\"str\"", "a").ok());
}

TEST_CASE("json_to_secret_map: explodes an object like Go's JSONToSecretDataMap",
          "[providers][json_path]") {
  auto r = json_to_secret_map(
      R"({"user":"my_user","port":5432,"ssl":true,"none":null,"nested":{"a": 1},
          "arr":[1, "two"],"esc":"a\"b\u00e9","dup":"first","dup":"second","f":1.50})");
  REQUIRE(r.ok());
  const auto& m = r.value();
  REQUIRE(m.size() == 9);
  CHECK(m.at("user").view() == "my_user");
  CHECK(m.at("port").view() == "5432");  // C09: numbers keep their text
  CHECK(m.at("ssl").view() == "true");
  CHECK(m.at("none").view() == "");  // Go: null into a string is a no-op
  CHECK(m.at("nested").view() == R"({"a": 1})");
  CHECK(m.at("arr").view() == R"([1, "two"])");
  CHECK(m.at("esc").view() == "a\"b\xC3\xA9");
  CHECK(m.at("dup").view() == "second");  // last wins, as Go's map
  CHECK(m.at("f").view() == "1.50");      // RawMessage: verbatim
}

TEST_CASE("json_to_secret_map: rejects anything but an object", "[providers][json_path]") {
  for (const char* doc : {"[1,2]", "\"s\"", "5", "", "{", "plain text"}) {
    INFO(doc);
    auto r = json_to_secret_map(doc);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidRef);
    CHECK(r.error().message.find("unable to unmarshal secret") != std::string::npos);
  }
  auto null_doc = json_to_secret_map(" null ");
  REQUIRE(null_doc.ok());
  CHECK(null_doc->empty());
  auto empty = json_to_secret_map("{}");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("json_value_to_string: converts like ESO's GetByteValue", "[providers][json_path]") {
  struct Case {
    json value;
    const char* want;
  };
  const std::vector<Case> cases = {
      {json("text"), "text"},
      {json(nullptr), ""},
      {json(true), "true"},
      {json(false), "false"},
      {json(42), "42"},
      {json(-42), "-42"},
      {json(1.5), "1.5"},
      {json(100.0), "100"},
      {json::parse(R"({"b":1,"a":"<x&y>"})"), R"({"a":"\u003cx\u0026y\u003e","b":1})"},
      {json::parse(R"([1,"a",null])"), R"([1,"a",null])"},
  };
  for (const auto& c : cases) {
    INFO(c.value.dump());
    auto r = json_value_to_string(c.value);
    REQUIRE(r.ok());
    CHECK(*r == c.want);
  }
  CHECK_FALSE(json_value_to_string(json::binary({1, 2})).ok());
}

TEST_CASE("go_format_float: matches strconv.FormatFloat(f, 'f', -1, 64)",
          "[providers][json_path]") {
  CHECK(go_format_float(0) == "0");
  CHECK(go_format_float(0.1) == "0.1");
  CHECK(go_format_float(1e21) == "1000000000000000000000");
  CHECK(go_format_float(-2.5) == "-2.5");
  CHECK(go_format_float(123456789.125) == "123456789.125");
}
