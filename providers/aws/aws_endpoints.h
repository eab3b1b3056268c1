// Service endpoints for a region, with the AWS SDKs' standard overrides and ESO's own variables
// (documented in the README, Providers > AWS). Pure; no I/O.
//   Secrets Manager: AWS_ENDPOINT_URL_SECRETS_MANAGER, then AWS_SECRETSMANAGER_ENDPOINT (ESO),
//                    then AWS_ENDPOINT_URL, else https://secretsmanager.<region>.<dns suffix>
//   SSM:             AWS_ENDPOINT_URL_SSM, AWS_SSM_ENDPOINT (ESO), AWS_ENDPOINT_URL, else
//                    https://ssm.<region>.<dns suffix>
//   STS:             AWS_ENDPOINT_URL_STS, AWS_STS_ENDPOINT (ESO), AWS_ENDPOINT_URL, else the
//                    regional https://sts.<region>.<dns suffix>
// dns suffix: amazonaws.com, amazonaws.com.cn for cn-* regions. AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
// =true disables the AWS_ENDPOINT_URL* variables (not ESO's). A trailing '/' is removed.
#pragma once

#include <string>

#include "daemon/common/result.h"
#include "providers/aws/aws_env.h"

namespace esd::providers::aws {

struct Endpoints {
  std::string secrets_manager;  // "https://secretsmanager.us-east-1.amazonaws.com"
  std::string ssm;
  std::string sts;
};

// kInvalidConfig for an empty or malformed region (must match [a-z0-9-]+) or an override that
// is not an http(s) URL.
Result<Endpoints> resolve_endpoints(const std::string& region, const EnvLookup& env);

// "secretsmanager.us-east-1.amazonaws.com" style host[:port] of a URL (the SigV4 Host header).
std::string host_of(const std::string& url);

}  // namespace esd::providers::aws
