// STS for the AWS credential provider (protocols.md b.5, b.6): AssumeRole, SigV4-signed with the
// previous layer's credentials (service "sts"), and AssumeRoleWithWebIdentity, unsigned. Query
// protocol (form body, Version=2011-06-15), XML replies of which only Credentials and
// Error/Code+Message are read. Request building, reply parsing and error classification are pure
// functions; StsClient sends through AwsTransfers and counts each call ("AWS/STS"). Error
// messages hold the action, the role ARN, STS's code and message, never a key, token or JWT.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/common/clock.h"
#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"
#include "daemon/http/http_client.h"
#include "providers/aws/aws_transfers.h"
#include "providers/aws/sigv4.h"

namespace esd::providers::aws {

inline constexpr std::string_view kStsMetricProvider = "AWS/STS";
inline constexpr std::string_view kSessionName = "external-secrets-provider-aws";

// Credentials and when they stop working.
struct TimedCredentials {
  std::shared_ptr<const Credentials> creds;
  int64_t expires_ms = -1;  // Unix ms; -1 = long-term keys (no expiry)
};
using TimedDone = std::function<void(Result<TimedCredentials>)>;

using CountCall = std::function<void(std::string_view provider, std::string_view call, bool ok)>;

struct AssumeRoleInput {
  std::string role_arn;
  std::string session_name{kSessionName};
  std::string external_id;                                // "" = not sent
  std::vector<std::pair<std::string, std::string>> tags;  // Tags.member.N.Key/Value
  std::vector<std::string> transitive_tag_keys;           // TransitiveTagKeys.member.N
  int64_t duration_s = 0;                                 // 0 = not sent (STS default 3600)
};

// RFC 3986 percent-encoding of a form value: A-Z a-z 0-9 - _ . ~ kept, the rest %XX.
std::string form_escape(std::string_view s);

// Form bodies, "Action=...&Version=2011-06-15&..." (Sensitive: the web identity one holds the JWT).
Sensitive assume_role_form(const AssumeRoleInput& in);
Sensitive web_identity_form(const std::string& role_arn, const std::string& session_name,
                            const Sensitive& web_identity_token);

// Credentials/{AccessKeyId,SecretAccessKey,SessionToken,Expiration} of a 200 reply. kTransient
// for a reply without them (a proxy's page, a truncated body).
Result<TimedCredentials> parse_sts_credentials(std::string_view xml);

// AccessDenied → kPermission; InvalidIdentityToken, ExpiredToken(Exception),
// InvalidClientTokenId, SignatureDoesNotMatch, IDPRejectedClaim (and the other signature
// failures) → kAuth; Throttling → kRateLimited; ValidationError → kInvalidConfig; 5xx and
// IDPCommunicationError → kTransient.
ErrorCode classify_sts_error(std::string_view code, long http_status);

// The Error for a non-2xx reply: "sts <action> <role arn>: <Code>: <Message>". `secrets` are
// scrubbed from STS's message should it ever echo one.
Error sts_error(std::string_view action, const std::string& role_arn, long http_status,
                std::string_view body, const std::vector<std::string_view>& secrets = {});

// `msg` shortened to one line of at most 300 characters, with each of `secrets` (4 bytes or
// longer) replaced by "[redacted]". For messages that come from a remote service.
std::string scrub_message(std::string msg, const std::vector<std::string_view>& secrets);

class StsClient {
 public:
  // `endpoint`: "https://sts.<region>.amazonaws.com" or an override; `region`: the signing region.
  StsClient(std::shared_ptr<AwsTransfers> transfers, const Clock* clock, CountCall count_call,
            std::string endpoint, std::string region);

  // The signed request (X-Amz-Date from the clock). kAuth without key id or secret key.
  [[nodiscard]] Result<HttpRequest> build_assume_role(const Credentials& base,
                                                      const AssumeRoleInput& in) const;
  HttpRequest build_web_identity(const std::string& role_arn, const std::string& session_name,
                                 const Sensitive& token) const;

  // `done` runs exactly once: from inside the call only when the request cannot be built (no
  // key id or secret key: kAuth), else on a later loop turn; never once the transfers are closed.
  void assume_role(const Credentials& base, const AssumeRoleInput& in, TimedDone done);
  void assume_role_with_web_identity(const std::string& role_arn, const std::string& session_name,
                                     Sensitive token, TimedDone done);

  const std::string& endpoint() const { return endpoint_; }
  int64_t timeout_ms = 15'000;
  int64_t connect_timeout_ms = 5'000;

 private:
  HttpRequest base_request(Sensitive body) const;
  void send(HttpRequest req, std::string_view action, const std::string& role_arn,
            std::vector<Sensitive> secrets, TimedDone done);

  std::shared_ptr<AwsTransfers> transfers_;
  const Clock* clock_;
  CountCall count_call_;
  std::string endpoint_;
  std::string region_;
};

}  // namespace esd::providers::aws
