// Credentials from the local metadata endpoints of the default chain: container credentials
// (EKS Pod Identity, ECS; protocols.md b.7) and IMDSv2 (EC2 instance profile). Both are plain
// HTTP to link-local hosts (HttpRequest::allow_http_metadata), with short timeouts and no
// retries, so a pod that is not on EC2 never hangs on them. Token files are read with blocking
// file IO (small local files). Messages never hold a token or key. Loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"
#include "providers/aws/aws_env.h"
#include "providers/aws/aws_sts.h"
#include "providers/aws/aws_transfers.h"

namespace esd::providers::aws {

// Reads a small token file (≤ 64 KiB). kAuth when it is missing, unreadable or empty; the
// message names `what` (a variable name), never the contents.
Result<Sensitive> read_token_file(const std::string& path, std::string_view what);

// The container credentials URL the environment names: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
// (→ http://169.254.170.2<relative>, as the SDKs, it wins) or AWS_CONTAINER_CREDENTIALS_FULL_URI.
// nullopt when neither is set. kInvalidConfig for a plain-http URL whose host is not loopback
// or 169.254.170.2, 169.254.170.23, fd00:ec2::23.
Result<std::optional<std::string>> container_credentials_url(const EnvLookup& env);

// The Authorization value: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read on every call; it
// wins) or AWS_CONTAINER_AUTHORIZATION_TOKEN; empty when neither is set. kInvalidConfig when
// the value holds CR or LF; kAuth for an unreadable file.
Result<Sensitive> container_authorization(const EnvLookup& env);

// {AccessKeyId, SecretAccessKey, Token, Expiration[, Code]} as container credentials and IMDS
// return them. A Code other than "Success" is kAuth; a body without keys or Expiration is
// kTransient. `source` prefixes messages ("container credentials", "IMDSv2").
Result<TimedCredentials> parse_metadata_credentials(std::string_view body, std::string_view source);

struct MetadataTimeouts {
  int64_t connect_ms = 1000;
  int64_t total_ms = 2000;
};

// GET <url> with Accept: application/json and the Authorization value (if any). `done` runs
// exactly once on a later loop turn (never after the transfers are closed).
void fetch_container_credentials(const std::shared_ptr<AwsTransfers>& transfers,
                                 const std::string& url, Sensitive authorization, TimedDone done,
                                 MetadataTimeouts timeouts = {});

// AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://[fd00:ec2::254] when
// AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE is IPv6, else http://169.254.169.254 (no trailing '/').
std::string imds_endpoint(const EnvLookup& env);

// IMDSv2: PUT /latest/api/token (TTL 21600), GET .../iam/security-credentials/ (first line is the
// role), GET .../security-credentials/<role>. An endpoint that does not answer, refuses the
// token or has no role attached is kInvalidConfig (nothing to get credentials from); 5xx is
// kTransient. `done` runs exactly once on a later loop turn (never after the transfers close).
void fetch_imds_credentials(const std::shared_ptr<AwsTransfers>& transfers,
                            const std::string& endpoint, TimedDone done,
                            MetadataTimeouts timeouts = {});

}  // namespace esd::providers::aws
