#include "daemon/common/crypto.h"

#include <catch2/catch.hpp>

#include <string>

TEST_CASE("crypto: SHA3-224 and SHA-256 known vectors", "[common][crypto]") {
  CHECK(esd::sha3_224_hex("") == "6b4e03423667dbb73b6e15454f0eb1abd4597f9a1b078e3f5b5a6bc7");
  CHECK(esd::sha3_224_hex("abc") == "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf");
  CHECK(esd::sha256_hex("") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(esd::sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("crypto: incremental SHA3-224 equals one-shot", "[common][crypto]") {
  esd::Sha3_224 h;
  h.update("a");
  h.update("");
  h.update("bc");
  CHECK(h.hex_final() == esd::sha3_224_hex("abc"));
}

TEST_CASE("crypto: HMAC-SHA256 RFC 4231 vectors", "[common][crypto]") {
  CHECK(esd::hmac_sha256_hex(std::string(20, '\x0b'), "Hi There") ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(esd::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(esd::hmac_sha256_hex(std::string(131, '\xaa'),
                             "Test Using Larger Than Block-Size Key - Hash Key First") ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  SECTION("empty key and data") {
    CHECK(esd::hmac_sha256_hex("", "") ==
          "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  }
  SECTION("incremental") {
    esd::HmacSha256 h("Jefe");
    h.update("what do ya ");
    h.update("want for nothing?");
    CHECK(h.hex_final() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
}

TEST_CASE("crypto: base64 encodes RFC 4648 vectors", "[common][crypto]") {
  CHECK(esd::base64_encode("") == "");
  CHECK(esd::base64_encode("f") == "Zg==");
  CHECK(esd::base64_encode("fo") == "Zm8=");
  CHECK(esd::base64_encode("foo") == "Zm9v");
  CHECK(esd::base64_encode("foob") == "Zm9vYg==");
  CHECK(esd::base64_encode("fooba") == "Zm9vYmE=");
  CHECK(esd::base64_encode("foobar") == "Zm9vYmFy");
  CHECK(esd::base64_encode(std::string("\xfb\xff\x00", 3)) == "+/8A");
}

TEST_CASE("crypto: base64 decodes strictly", "[common][crypto]") {
  const auto dec = [](std::string_view s, bool url = false, bool pad = true) {
    return esd::base64_decode(s, url, pad);
  };
  SECTION("round trips") {
    for (const char* s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
      auto r = dec(esd::base64_encode(s));
      REQUIRE(r.ok());
      CHECK(*r == s);
    }
    auto bin = dec("AP8A/w==");
    REQUIRE(bin.ok());
    CHECK(*bin == std::string("\x00\xff\x00\xff", 4));
  }
  SECTION("padding rules") {
    CHECK_FALSE(dec("Zg").ok());
    CHECK_FALSE(dec("Zg=").ok());
    CHECK_FALSE(dec("Z===").ok());
    CHECK_FALSE(dec("=").ok());
    CHECK_FALSE(dec("Zg==Zg==").ok());
    CHECK_FALSE(dec("Z", false, false).ok());
    auto raw = dec("Zm8", false, false);
    REQUIRE(raw.ok());
    CHECK(*raw == "fo");
    auto padded = dec("Zm8=", false, false);
    REQUIRE(padded.ok());
    CHECK(*padded == "fo");
  }
  SECTION("alphabets") {
    CHECK_FALSE(dec("+/8A", true).ok());
    CHECK_FALSE(dec("-_8A", false).ok());
    auto url = dec("-_8A", true);
    REQUIRE(url.ok());
    CHECK(*url == std::string("\xfb\xff\x00", 3));
    CHECK_FALSE(dec("Zm9v!A==").ok());
    CHECK_FALSE(dec("Zm 9v").ok());
  }
  SECTION("newlines are ignored, like Go") {
    auto r = dec("Zm9v\r\nYmFy\n");
    REQUIRE(r.ok());
    CHECK(*r == "foobar");
  }
  SECTION("errors never echo the input") {
    auto r = dec("c2VjcmV0LWNhbmFyeQ!=");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == esd::ErrorCode::kInvalidRef);
    CHECK(r.error().message.find("c2VjcmV0") == std::string::npos);
  }
}

TEST_CASE("crypto: random_bytes returns fresh bytes of the asked size", "[common][crypto]") {
  auto a = esd::random_bytes(32);
  auto b = esd::random_bytes(32);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->size() == 32);
  CHECK(*a != *b);
  auto none = esd::random_bytes(0);
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("crypto: hex_encode is lowercase", "[common][crypto]") {
  CHECK(esd::hex_encode(std::string("\x00\xab\xff", 3)) == "00abff");
}
