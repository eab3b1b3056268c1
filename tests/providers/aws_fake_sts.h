// A tiny same-loop STS for the AWS credential tests (header-only, used with TestHttpServer):
// AssumeRole verified with the real SigV4 functions against the keys it knows (static ones the
// test adds, and every temporary key it issued), AssumeRoleWithWebIdentity unsigned with an
// expected JWT. It records each call's form parameters and the signing key id, can be told to
// fail, and issues credentials that expire `duration_s` after the test's clock.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/common/clock.h"
#include "daemon/common/sensitive.h"
#include "providers/aws/sigv4.h"
#include "support/test_http_server.h"

namespace esd::test {

inline std::string pct_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

inline std::map<std::string, std::string> parse_form(const std::string& body) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    if (amp == std::string::npos) amp = body.size();
    const std::string pair = body.substr(pos, amp - pos);
    const size_t eq = pair.find('=');
    if (!pair.empty()) {
      out[pct_decode(pair.substr(0, eq))] =
          eq == std::string::npos ? "" : pct_decode(pair.substr(eq + 1));
    }
    pos = amp + 1;
  }
  return out;
}

// What a SigV4 Authorization header says, and whether the signature checks out.
struct SigCheck {
  bool present = false;
  bool valid = false;
  std::string akid;
  std::string scope;  // date/region/service/aws4_request
  std::string signed_headers;
};

inline SigCheck check_sigv4(const TestRequest& r, const std::map<std::string, std::string>& keys,
                            const std::string& region, const std::string& service) {
  SigCheck out;
  auto it = r.headers.find("authorization");
  if (it == r.headers.end()) return out;
  out.present = true;
  const std::string& auth = it->second;
  auto field = [&](const std::string& name) {
    const size_t p = auth.find(name + "=");
    if (p == std::string::npos) return std::string();
    const size_t start = p + name.size() + 1;
    const size_t end = auth.find(',', start);
    return auth.substr(start, end == std::string::npos ? std::string::npos : end - start);
  };
  const std::string credential = field("Credential");
  out.signed_headers = field("SignedHeaders");
  const std::string sig = field("Signature");
  const size_t slash = credential.find('/');
  out.akid = credential.substr(0, slash);
  out.scope = slash == std::string::npos ? "" : credential.substr(slash + 1);
  auto key = keys.find(out.akid);
  auto date = r.headers.find("x-amz-date");
  if (key == keys.end() || date == r.headers.end()) return out;
  providers::aws::SigV4Request req;
  req.method = r.method;
  req.path = r.target;
  req.body = r.body;
  size_t pos = 0;
  while (pos < out.signed_headers.size()) {
    size_t semi = out.signed_headers.find(';', pos);
    if (semi == std::string::npos) semi = out.signed_headers.size();
    const std::string name = out.signed_headers.substr(pos, semi - pos);
    auto h = r.headers.find(name);
    req.headers.emplace_back(name, h == r.headers.end() ? "" : h->second);
    pos = semi + 1;
  }
  providers::aws::SigningParams params;
  params.region = region;
  params.service = service;
  params.amz_date = date->second;
  std::string signed_list;
  const std::string cr = providers::aws::canonical_request(req, params, &signed_list);
  const std::string sts = providers::aws::string_to_sign(cr, params);
  const std::string want = providers::aws::signature(Sensitive(key->second), sts, params);
  out.valid = want == sig && signed_list == out.signed_headers &&
              out.scope == providers::aws::credential_scope(params);
  return out;
}

struct StsCall {
  std::string action;
  std::map<std::string, std::string> params;
  SigCheck sig;
  std::string security_token;  // X-Amz-Security-Token as received
  std::string content_type;
};

class FakeSts {
 public:
  explicit FakeSts(const Clock* clock) : clock_(clock) {}

  std::string region = "us-east-1";
  int64_t duration_s = 3600;
  std::string expected_jwt = "header.payload.signature";
  std::map<std::string, std::string> keys;    // akid → secret key (static + issued)
  std::map<std::string, std::string> tokens;  // issued akid → session token
  std::vector<StsCall> calls;
  std::function<std::optional<TestReply>(const StsCall&)> fault;
  bool hang = false;
  int issued = 0;

  int count(const std::string& action) const {
    int n = 0;
    for (const auto& c : calls) n += c.action == action ? 1 : 0;
    return n;
  }

  static TestReply error(int status, const std::string& code, const std::string& message) {
    TestReply r;
    r.status = status;
    r.headers = {{"Content-Type", "text/xml"}};
    r.body =
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>"
        "Sender</Type><Code>" +
        code + "</Code><Message>" + message +
        "</Message></Error><RequestId>r-1</RequestId></ErrorResponse>";
    return r;
  }

  TestReply handle(const TestRequest& r) {
    StsCall call;
    call.params = parse_form(r.body);
    call.action = call.params["Action"];
    call.sig = check_sigv4(r, keys, region, "sts");
    auto tok = r.headers.find("x-amz-security-token");
    if (tok != r.headers.end()) call.security_token = tok->second;
    auto ct = r.headers.find("content-type");
    if (ct != r.headers.end()) call.content_type = ct->second;
    calls.push_back(call);
    if (hang) {
      TestReply h;
      h.action = TestReply::Action::kHang;
      return h;
    }
    if (fault) {
      if (auto f = fault(call)) return *f;
    }
    if (call.action == "AssumeRoleWithWebIdentity") {
      if (call.sig.present) return error(400, "InvalidParameterValue", "must not be signed");
      if (call.params["WebIdentityToken"] != expected_jwt) {
        return error(400, "InvalidIdentityToken", "Couldn't verify the web identity token.");
      }
      return issue(call.action);
    }
    if (call.action != "AssumeRole") return error(400, "InvalidAction", "unknown action");
    if (!call.sig.valid) return error(403, "SignatureDoesNotMatch", "The signature is wrong.");
    auto t = tokens.find(call.sig.akid);
    if (t != tokens.end() && t->second != call.security_token) {
      return error(403, "InvalidClientTokenId", "The security token is invalid.");
    }
    return issue(call.action);
  }

 private:
  TestReply issue(const std::string& action) {
    ++issued;
    const std::string n = std::to_string(issued);
    const std::string akid = "ASIAFAKE" + n;
    keys[akid] = "secret/" + n + "+key";
    tokens[akid] = "session&token/" + n;
    TestReply r;
    r.headers = {{"Content-Type", "text/xml"}};
    r.body = "<" + action + "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><" +
             action + "Result><Credentials><AccessKeyId>" + akid +
             "</AccessKeyId><SecretAccessKey>secret/" + n +
             "+key</SecretAccessKey><SessionToken>session&amp;token/" + n +
             "</SessionToken><Expiration>" + format_rfc3339(clock_->now_ms() + duration_s * 1000) +
             "</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::111122223333:"
             "assumed-role/r/s</Arn></AssumedRoleUser></" +
             action + "Result></" + action + "Response>";
    return r;
  }

  const Clock* clock_;
};

}  // namespace esd::test
