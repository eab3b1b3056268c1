#include "daemon/controller/shaping.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using esd::ErrorCode;
using esd::SecretMap;
using esd::Sensitive;
using namespace esd::controller;

namespace {

SecretMap make_map(std::initializer_list<std::pair<const char*, std::string>> items) {
  SecretMap m;
  for (const auto& [k, v] : items) m.emplace(k, Sensitive(v));
  return m;
}

std::vector<std::string> keys(const SecretMap& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

}  // namespace

TEST_CASE("decode_value: applies ESO decoding strategies", "[controller][shaping]") {
  struct Case {
    std::string in;
    Decoding decoding;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"Z3JlYXQtbmFtZQ==", Decoding::kBase64, "great-name"},  // C17
      {"Z3JlYXQtbmFtZQ==", Decoding::kNone, "Z3JlYXQtbmFtZQ=="},
      {"Z3JlYXQtbmFtZQ==", Decoding::kAuto, "great-name"},
      {"Zm9v\nYmFy\r\n", Decoding::kBase64, "foobar"},  // Go ignores CR/LF
      {"", Decoding::kBase64, ""},
      {"-_8=", Decoding::kBase64Url, "\xFB\xFF"},
      {"-_8=", Decoding::kAuto, "\xFB\xFF"},  // std fails, URL works
      {"+/8=", Decoding::kAuto, "\xFB\xFF"},
      {"test", Decoding::kAuto, "\xB5\xEB\x2D"},  // [quirk] valid base64
      {"happy calm street No. 1", Decoding::kAuto, "happy calm street No. 1"},
      {"Zm9vYg", Decoding::kAuto, "Zm9vYg"},  // unpadded: left alone
  };
  for (const auto& c : cases) {
    INFO(c.in << " / " << decoding_name(c.decoding));
    auto r = decode_value(Sensitive(c.in), c.decoding);
    REQUIRE(r.ok());
    CHECK(std::string(r->view()) == c.want);
  }
}

TEST_CASE("decode_value: errors never echo the value", "[controller][shaping]") {
  struct Case {
    std::string in;
    Decoding decoding;
  };
  const std::vector<Case> cases = {
      {"Zm9vYg", Decoding::kBase64},       // padding required (StdEncoding)
      {"Zm9vYg==", Decoding::kBase64Url},  // fine
      {"not base64!", Decoding::kBase64}, {"-_8=", Decoding::kBase64},
      {"+/8=", Decoding::kBase64Url},     {"Zm9v=Zm9v", Decoding::kBase64},
  };
  for (const auto& c : cases) {
    INFO(c.in);
    auto r = decode_value(Sensitive(c.in), c.decoding);
    if (c.in == "Zm9vYg==") {
      CHECK(r.ok());
      continue;
    }
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidRef);
    CHECK(r.error().message.rfind("error applying decoding strategy ", 0) == 0);
    CHECK(r.error().message.find(c.in) == std::string::npos);
  }
}

TEST_CASE("decode_map: decodes every value and names the failing key", "[controller][shaping]") {
  auto ok = decode_map(make_map({{"a", "Zm9v"}, {"b", "YmFy"}}), Decoding::kBase64);
  REQUIRE(ok.ok());
  CHECK(ok->at("a").view() == "foo");
  CHECK(ok->at("b").view() == "bar");
  auto bad = decode_map(make_map({{"a", "Zm9v"}, {"secret-key", "%%%%"}}), Decoding::kBase64);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("failure decoding key secret-key: ") != std::string::npos);
  CHECK(bad.error().message.find("%%%%") == std::string::npos);
}

TEST_CASE("convert_key: Default and Unicode strategies per rune", "[controller][shaping]") {
  struct Case {
    std::string in;
    std::string want_default;
    std::string want_unicode;
  };
  const std::vector<Case> cases = {
      {"foo/bar", "foo_bar", "foo_U002f_bar"},
      {"a b", "a_b", "a_U0020_b"},
      {"keep-._Az09", "keep-._Az09", "keep-._Az09"},
      {"caf\xC3\xA9", "caf\xC3\xA9", "caf\xC3\xA9"},            // é is a letter
      {"\xE6\x97\xA5\xE6\x9C\xAC", "\xE6\x97\xA5\xE6\x9C\xAC",  // 日本: letters
       "\xE6\x97\xA5\xE6\x9C\xAC"},
      {"\xD9\xA1\xE2\x85\xAB", "\xD9\xA1\xE2\x85\xAB", "\xD9\xA1\xE2\x85\xAB"},  // ١ Nd, Ⅻ Nl
      {"x\xF0\x9F\x98\x80", "x_", "x_U1f600_"},  // emoji is a symbol
      {"bad\xFF", "bad_", "bad_Ufffd_"},         // invalid byte = U+FFFD
      {"path/to:key@1", "path_to_key_1", "path_U002f_to_U003a_key_U0040_1"},
  };
  for (const auto& c : cases) {
    INFO(c.in);
    CHECK(convert_key(c.in, Conversion::kDefault) == c.want_default);
    CHECK(convert_key(c.in, Conversion::kUnicode) == c.want_unicode);
  }
}

TEST_CASE("convert_keys: converts all keys and rejects collisions", "[controller][shaping]") {
  auto r = convert_keys(make_map({{"a/b", "1"}, {"c", "2"}}), Conversion::kDefault);
  REQUIRE(r.ok());
  CHECK(keys(*r) == std::vector<std::string>{"a_b", "c"});
  CHECK(r->at("a_b").view() == "1");
  auto clash = convert_keys(make_map({{"a/b", "1"}, {"a_b", "2"}}), Conversion::kDefault);
  REQUIRE_FALSE(clash.ok());
  CHECK(clash.error().message ==
        "error applying conversion strategy Default to keys: secret name collision during "
        "conversion: a_b");
}

TEST_CASE("regexp_replace_all: Go ReplaceAllString semantics", "[controller][shaping]") {
  struct Case {
    const char* pattern;
    const char* src;
    const char* target;
    const char* want;
  };
  const std::vector<Case> cases = {
      {"(.*)", "username", "my_$1", "my_username"},  // C10: no second, empty match at the end
      {"a(x*)b", "-ab-axxb-", "T", "-T-T-"},         // Go docs examples
      {"a(x*)b", "-ab-axxb-", "$1", "--xx-"},
      {"a(x*)b", "-ab-axxb-", "$1W", "---"},  // "$1W" is group "1W": empty
      {"a(x*)b", "-ab-axxb-", "${1}W", "-W-xxW-"},
      {"a(?P<mid>x*)b", "-ab-axxb-", "<$mid>", "-<>-<xx>-"},
      {"a(?P<mid>x*)b", "-ab-axxb-", "<${mid}>", "-<>-<xx>-"},
      {"a*", "baaac", "X", "XbXcX"},
      {"", "abc", "-", "-a-b-c-"},
      {"b", "abc", "$$", "a$c"},
      {"b", "abc", "$", "a$c"},
      {"b", "abc", "${x", "a${xc"},
      {"(b)", "abc", "$2", "ac"},   // missing group: empty
      {"(b)", "abc", "$01", "ac"},  // leading zero: a name, not a number
      {"e2e_find_and_rewrite_(.*)", "e2e_find_and_rewrite_ns_one", "$1", "ns_one"},  // C19
      {"^path/", "path/to/key", "", "to/key"},
      {"x", "\xC3\xA9x\xC3\xA9", "y", "\xC3\xA9y\xC3\xA9"},
  };
  for (const auto& c : cases) {
    INFO(c.pattern << " / " << c.src << " / " << c.target);
    auto r = regexp_replace_all(c.pattern, c.src, c.target);
    REQUIRE(r.ok());
    CHECK(*r == c.want);
  }
  auto bad = regexp_replace_all("(", "abc", "x");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidConfig);
}

TEST_CASE("rewrite_keys: applies rewrites in order to key names", "[controller][shaping]") {
  std::vector<Rewrite> rw = {{"(.*)", "my_$1"}, {"^my_user", "u"}};
  auto r = rewrite_keys(make_map({{"username", "myuser.name"}, {"address", "happy street"}}), rw);
  REQUIRE(r.ok());
  CHECK(keys(*r) == std::vector<std::string>{"my_address", "uname"});
  CHECK(r->at("uname").view() == "myuser.name");
  auto bad = rewrite_keys(make_map({{"a", "1"}}), {{"ok", "x"}, {"[", "x"}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidConfig);
  CHECK(bad.error().message.find("failed rewrite operation[1]") != std::string::npos);
}

TEST_CASE("validate_keys: drops empty keys and rejects invalid ones", "[controller][shaping]") {
  auto r = validate_keys(make_map({{"", "x"}, {"ok-key.v_1", "y"}}));
  REQUIRE(r.ok());
  CHECK(keys(*r) == std::vector<std::string>{"ok-key.v_1"});

  auto slash = validate_keys(make_map({{"a/b", "x"}}));
  REQUIRE_FALSE(slash.ok());
  CHECK(slash.error().message ==
        "invalid secret keys (TIP: use rewrite or conversionStrategy to change keys): key has "
        "invalid character /, only alphanumeric, '-', '.' and '_' are allowed: a/b");
  CHECK_FALSE(validate_keys(make_map({{"caf\xC3\xA9", "x"}})).ok());
  CHECK(validate_keys(make_map({{std::string(253, 'k').c_str(), "x"}})).ok());
  auto long_key = validate_keys(make_map({{std::string(254, 'k').c_str(), "x"}}));
  REQUIRE_FALSE(long_key.ok());
  CHECK(long_key.error().message.find("key has length 254 but max is 253") != std::string::npos);
}

TEST_CASE("check_null_bytes: Fail rejects NUL bytes, Ignore keeps them", "[controller][shaping]") {
  const Sensitive with_nul(std::string("a\0b", 3));
  CHECK(check_null_bytes("k", with_nul, NullBytePolicy::kIgnore).ok());
  auto s = check_null_bytes("k", with_nul, NullBytePolicy::kFail);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message.rfind("fetched secret value for key \"k\" contains null bytes", 0) == 0);
  CHECK(check_null_bytes("k", Sensitive(std::string("ab")), NullBytePolicy::kFail).ok());

  SecretMap m = make_map({{"a", "fine"}});
  m.emplace("z", Sensitive(std::string("\0", 1)));
  CHECK(check_null_bytes(m, NullBytePolicy::kIgnore).ok());
  auto ms = check_null_bytes(m, NullBytePolicy::kFail);
  REQUIRE_FALSE(ms.ok());
  CHECK(ms.error().message.find("\"z\"") != std::string::npos);
}

TEST_CASE("json_to_map: extract keeps raw non-string values", "[controller][shaping]") {
  auto r = json_to_map(Sensitive(std::string(R"({"port":5432,"user":"u","o":{"a":1}})")));
  REQUIRE(r.ok());
  CHECK(r->at("port").view() == "5432");
  CHECK(r->at("user").view() == "u");
  CHECK(r->at("o").view() == R"({"a":1})");
  CHECK_FALSE(json_to_map(Sensitive(std::string("[1]"))).ok());
}

TEST_CASE("shape_data_from: rewrite or convert, then validate, decode, NUL check",
          "[controller][shaping]") {
  DataFromItem item;
  item.decoding = Decoding::kAuto;
  SECTION("C17: Auto decoding of an extracted map") {
    auto r = shape_data_from(
        make_map({{"name", "Z3JlYXQtbmFtZQ=="}, {"address", "happy calm street No. 1"}}), item);
    REQUIRE(r.ok());
    CHECK(r->at("name").view() == "great-name");
    CHECK(r->at("address").view() == "happy calm street No. 1");
  }
  SECTION("without rewrites the conversion strategy applies") {
    item.decoding = Decoding::kNone;
    item.conversion = Conversion::kUnicode;
    auto r = shape_data_from(make_map({{"a/b", "v"}}), item);
    REQUIRE(r.ok());
    CHECK(keys(*r) == std::vector<std::string>{"a_U002f_b"});
  }
  SECTION("with rewrites the conversion strategy is skipped and keys are validated") {
    item.decoding = Decoding::kNone;
    item.conversion = Conversion::kUnicode;
    item.rewrites = {{"^x", "y"}};
    auto r = shape_data_from(make_map({{"a/b", "v"}}), item);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("invalid secret keys") == 0);
  }
  SECTION("NUL check after decoding") {
    item.decoding = Decoding::kBase64;
    item.null_bytes = NullBytePolicy::kFail;
    auto r = shape_data_from(make_map({{"bin", "AA=="}}), item);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("contains null bytes") != std::string::npos);
  }
}

TEST_CASE("shape_data_value: decodes and checks NUL bytes by secretKey", "[controller][shaping]") {
  DataItem item;
  item.secret_key = "base64";
  item.decoding = Decoding::kBase64;
  auto r = shape_data_value(Sensitive(std::string("Z3JlYXQtbmFtZQ==")), item);
  REQUIRE(r.ok());
  CHECK(r->view() == "great-name");
  item.null_bytes = NullBytePolicy::kFail;
  auto bad = shape_data_value(Sensitive(std::string("AA==")), item);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("\"base64\"") != std::string::npos);
}
