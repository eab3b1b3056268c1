#include "providers/aws/sigv4.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/common/crypto.h"

namespace aws = esd::providers::aws;
namespace fs = std::filesystem;
using esd::ErrorCode;
using esd::Sensitive;
using nlohmann::json;

namespace {

const char* const kSuiteDir = ESD_SHARED_DIR "/data/aws-sigv4-test-suite";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A request in the suite's request.txt format: request line ("METHOD target HTTP/1.1", the
// target may hold spaces), header lines ("Name:value", a line starting with whitespace continues
// the previous value), a blank line, then the body bytes.
struct ParsedRequest {
  aws::SigV4Request req;
  std::string body;
};

ParsedRequest parse_request(const std::string& text) {
  ParsedRequest out;
  size_t pos = text.find('\n');
  const std::string line = text.substr(0, pos);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.rfind(' ');
  out.req.method = line.substr(0, sp1);
  const std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const size_t q = target.find('?');
  out.req.path = target.substr(0, q);
  if (q != std::string::npos) out.req.query = target.substr(q + 1);
  while (pos != std::string::npos && pos + 1 <= text.size()) {
    const size_t start = pos + 1;
    pos = text.find('\n', start);
    const std::string l = text.substr(start, pos == std::string::npos ? pos : pos - start);
    if (l.empty()) {
      if (pos != std::string::npos) out.body = text.substr(pos + 1);
      break;
    }
    if ((l[0] == ' ' || l[0] == '\t') && !out.req.headers.empty()) {
      out.req.headers.back().second.append("\n").append(l);
      continue;
    }
    const size_t colon = l.find(':');
    out.req.headers.emplace_back(l.substr(0, colon), l.substr(colon + 1));
  }
  return out;
}

// Headers as a sorted multiset of (lower-case name, value), to compare regardless of order.
std::vector<std::pair<std::string, std::string>> normalized(const aws::HeaderList& headers) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [n, v] : headers) {
    std::string ln = n;
    std::transform(ln.begin(), ln.end(), ln.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    out.emplace_back(ln, v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string header_value(const aws::HeaderList& headers, const std::string& name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "<missing>";
}

int64_t parse_timestamp(const std::string& iso) {
  std::tm tm{};
  const char* end = strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  REQUIRE(end != nullptr);
  return static_cast<int64_t>(timegm(&tm));
}

// Signs one case folder and checks canonical request, string to sign, signature, Authorization
// and the full signed header set. Returns true when every check passed.
bool run_case(const fs::path& dir) {
  const json ctx = json::parse(read_file(dir / "context.json"), nullptr, false);
  REQUIRE_FALSE(ctx.is_discarded());
  ParsedRequest parsed = parse_request(read_file(dir / "request.txt"));
  parsed.req.body = parsed.body;

  aws::Credentials creds;
  const json& c = ctx["credentials"];
  creds.access_key_id = c["access_key_id"].get<std::string>();
  creds.secret_access_key = Sensitive(c["secret_access_key"].get<std::string>());
  const std::string token = c.value("token", "");
  // omit_session_token: the token is sent but added after signing (post-sts-header-after).
  const bool token_after = ctx.value("omit_session_token", false);
  if (!token_after) creds.session_token = Sensitive(token);

  aws::SigningParams params;
  params.region = ctx["region"].get<std::string>();
  params.service = ctx["service"].get<std::string>();
  params.amz_date = aws::amz_date_from_unix(parse_timestamp(ctx["timestamp"].get<std::string>()));
  params.normalize_path = ctx["normalize"].get<bool>();
  params.sign_body_sha_header = ctx["sign_body"].get<bool>();

  aws::SigV4Request req = parsed.req;
  auto added = aws::sign(req, creds, params);
  REQUIRE(added.ok());

  // Recompute the pieces from the signed request (Authorization is never signed).
  std::string signed_headers;
  const std::string creq = aws::canonical_request(req, params, &signed_headers);
  const std::string sts = aws::string_to_sign(creq, params);
  const std::string sig = aws::signature(creds.secret_access_key, sts, params);
  const std::string authz =
      aws::authorization_header(creds.access_key_id, signed_headers, sig, params);
  if (token_after) req.headers.emplace_back("X-Amz-Security-Token", token);

  const ParsedRequest expected_signed = parse_request(read_file(dir / "header-signed-request.txt"));
  const std::string want_authz = header_value(expected_signed.req.headers, "Authorization");
  const std::string want_creq = read_file(dir / "header-canonical-request.txt");
  const std::string want_sts = read_file(dir / "header-string-to-sign.txt");
  const std::string want_sig = read_file(dir / "header-signature.txt");
  const auto got_headers = normalized(req.headers);
  const auto want_headers = normalized(expected_signed.req.headers);
  CHECK(creq == want_creq);
  CHECK(sts == want_sts);
  CHECK(sig == want_sig);
  CHECK(authz == want_authz);
  CHECK(added->back().first == "Authorization");
  CHECK(added->back().second == want_authz);
  CHECK(got_headers == want_headers);
  return creq == want_creq && sts == want_sts && sig == want_sig && authz == want_authz &&
         added->back().second == want_authz && got_headers == want_headers;
}

}  // namespace

TEST_CASE("sigv4: reproduces every header-signed case of the AWS test suite",
          "[providers][sigv4]") {
  INFO("SigV4 test suite folder: " << kSuiteDir);
  if (!fs::is_directory(kSuiteDir)) {
    FAIL("the AWS SigV4 test suite is missing at "
         << kSuiteDir
         << " (the steering repo's shared/ must sit next to "
            "the project; CI checks it out as ../shared)");
  }
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(kSuiteDir)) {
    if (entry.is_directory() && fs::exists(entry.path() / "request.txt")) {
      cases.push_back(entry.path());
    }
  }
  std::sort(cases.begin(), cases.end());
  // The pinned suite (SOURCE.md) has 38 v4 cases; fewer means a broken copy.
  REQUIRE(cases.size() >= 38);

  size_t passed = 0;
  for (const auto& dir : cases) {
    INFO("case " << dir.filename().string());
    if (run_case(dir)) ++passed;
  }
  INFO("passed " << passed << " of " << cases.size());
  CHECK(passed == cases.size());
}

TEST_CASE("sigv4: known-answer get-vanilla without the suite folder", "[providers][sigv4]") {
  // protocols.md b.4: recomputed independently of the folder.
  aws::SigV4Request req{"GET", "/", "", {{"Host", "example.amazonaws.com"}}, ""};
  aws::Credentials creds{"AKIDEXAMPLE",
                         Sensitive(std::string("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")),
                         Sensitive()};
  aws::SigningParams params{"us-east-1", "service", "20150830T123600Z"};
  auto added = aws::sign(req, creds, params);
  REQUIRE(added.ok());
  REQUIRE(added->size() == 2);
  CHECK((*added)[0] == std::make_pair(std::string("X-Amz-Date"), std::string("20150830T123600Z")));
  CHECK((*added)[1].second ==
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  CHECK(esd::sha256_hex(aws::canonical_request(req, params, nullptr)) ==
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  CHECK(req.headers.size() == 3);

  SECTION("re-signing the same request replaces the old signing headers") {
    creds.session_token =
        Sensitive(std::string("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"));
    auto again = aws::sign(req, creds, params);
    REQUIRE(again.ok());
    CHECK(req.headers.size() == 4);
    CHECK(header_value(req.headers, "Authorization")
              .find("Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8") !=
          std::string::npos);
  }
}

TEST_CASE("sigv4: canonical URI and query encoding rules", "[providers][sigv4]") {
  aws::SigningParams params{"r", "s", "20150830T123600Z"};
  auto uri_of = [&](const std::string& path, const std::string& query = "") {
    aws::SigV4Request req{"GET", path, query, {{"Host", "h"}}, ""};
    const std::string creq = aws::canonical_request(req, params, nullptr);
    const size_t a = creq.find('\n') + 1;
    const size_t b = creq.find('\n', a);
    const size_t c = creq.find('\n', b + 1);
    return std::make_pair(creq.substr(a, b - a), creq.substr(b + 1, c - b - 1));
  };
  CHECK(uri_of("/a/b/../c/./d//").first == "/a/c/d/");
  CHECK(uri_of("/a/b/..").first == "/a/");
  CHECK(uri_of("/..").first == "/");
  CHECK(uri_of("/a%20b/c:d").first == "/a%2520b/c%3Ad");  // non-S3: encoded once more
  params.double_uri_encode = false;
  params.normalize_path = false;
  CHECK(uri_of("/a%20b/c d//%zz").first == "/a%20b/c%20d//%25zz");  // S3 style
  CHECK(uri_of("/", "b=2&a=&a=1&c&&k=a+b").second == "a=&a=1&b=2&c=&k=a%2Bb");
  CHECK(uri_of("/", "%7e=x%2f&sp=a%20b&s=%2").second == "s=%252&sp=a%20b&~=x%2F");
}

TEST_CASE("sigv4: payload hash, skipped headers and input errors", "[providers][sigv4]") {
  aws::Credentials creds{"AKID", Sensitive(std::string("s3cr3t-VALUE")), Sensitive()};
  aws::SigningParams params{"eu-west-1", "secretsmanager", aws::amz_date_from_unix(1440938160)};
  CHECK(params.amz_date == "20150830T123600Z");
  CHECK(aws::credential_scope(params) == "20150830/eu-west-1/secretsmanager/aws4_request");

  aws::SigV4Request req{
      "POST", "/", "", {{"Host", "h"}, {"User-Agent", "x"}, {"Expect", ""}}, "{}"};
  std::string signed_headers;
  std::string creq = aws::canonical_request(req, params, &signed_headers);
  CHECK(signed_headers == "host");
  CHECK(creq.substr(creq.rfind('\n') + 1) == esd::sha256_hex("{}"));
  req.headers.emplace_back("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD");
  creq = aws::canonical_request(req, params, &signed_headers);
  CHECK(creq.substr(creq.rfind('\n') + 1) == "UNSIGNED-PAYLOAD");

  params.sign_body_sha_header = true;
  auto added = aws::sign(req, creds, params);
  REQUIRE(added.ok());
  CHECK(header_value(*added, "x-amz-content-sha256") == esd::sha256_hex("{}"));
  CHECK(header_value(req.headers, "X-Amz-Content-Sha256") == "<missing>");  // stale one removed

  SECTION("errors never echo the secret") {
    aws::SigV4Request no_host{"GET", "/", "", {}, ""};
    auto r = aws::sign(no_host, creds, params);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInternal);
    aws::Credentials empty{"AKID", Sensitive(), Sensitive()};
    auto r2 = aws::sign(req, empty, params);
    REQUIRE_FALSE(r2.ok());
    CHECK(r2.error().code == ErrorCode::kAuth);
    params.amz_date = "2015-08-30";
    auto r3 = aws::sign(req, creds, params);
    REQUIRE_FALSE(r3.ok());
    for (const auto* e : {&r.error(), &r2.error(), &r3.error()}) {
      CHECK(e->message.find("s3cr3t-VALUE") == std::string::npos);
    }
  }
}

TEST_CASE("crypto: raw hmac_sha256 matches RFC 4231 case 2", "[providers][sigv4]") {
  const std::string raw = esd::hmac_sha256("Jefe", "what do ya want for nothing?");
  CHECK(raw.size() == 32);
  CHECK(esd::hex_encode(raw) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
