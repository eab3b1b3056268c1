// SmApi: one AWS JSON 1.1 operation as a signed call (protocols.md b.1-b.3): POST / with
// X-Amz-Target <target_prefix><Op> and SigV4 (<signing_service>) as SmSetup says: by default
// Secrets Manager ("secretsmanager.", "secretsmanager"), Parameter Store ("AmazonSSM.", "ssm").
// Credentials come from the store's CredentialProvider; retries of throttling, 5xx and connection
// errors with jittered exponential backoff (or retrySettings' fixed interval) on a uv timer, and
// one credential refresh when the service rejects the credentials. Every HTTP call is counted
// (setup.metric_provider). Owned through a shared_ptr by its store client; continuations hold a
// weak_ptr. `done` runs exactly once, on the loop thread, never from inside call(); after close()
// never.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "daemon/http/http_client.h"
#include "providers/aws/aws_credentials.h"
#include "providers/provider.h"

namespace esd::providers::aws {

inline constexpr std::string_view kSmMetricProvider = "AWS/SecretsManager";
inline constexpr std::string_view kPsMetricProvider = "AWS/ParameterStore";

// An error reply of an AWS JSON service (b.3). status 0 = not a service error.
struct AwsError {
  long status = 0;
  std::string code;     // normalized: no "namespace#" prefix, no ":..." suffix
  std::string message;  // Message or message; may be empty
};

// "com.amazonaws.secretsmanager#ThrottlingException:http://..." -> "ThrottlingException".
std::string normalize_error_code(std::string_view raw);
// The code from __type (else X-Amzn-ErrorType) and Message/message of a non-2xx response.
AwsError parse_aws_error(const HttpResponse& resp);
bool is_throttling(std::string_view code);
// Throttling, 5xx and the transient codes botocore retries.
bool is_retryable(const AwsError& e);
// The service rejected the credentials themselves (not a clock skew "Signature expired").
bool is_credential_rejection(const AwsError& e);
// ESO's classes (eso-api.md §3.1): ResourceNotFoundException and "marked for deletion" kNotFound
// ("secret <id> not found" when `secret_id` is given), AccessDenied and DecryptionFailure
// kPermission, throttling kRateLimited, 5xx kTransient, credential errors kAuth (without the
// service's message, which may echo the canonical request), bad parameters kInvalidRef.
Error classify_aws_error(const AwsError& e, std::string_view secret_id = {});

// Jittered exponential backoff: base * 2^attempt * (0.5 + 0.5 * unit), capped; unit in [0, 1).
int64_t backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, double unit);

struct SmOptions {
  int max_retries = 2;            // extra attempts for retryable failures (spec: -1 -> 2)
  int64_t retry_interval_ms = -1;  // fixed wait between attempts; -1 = jittered exponential
  int64_t backoff_base_ms = 500;
  int64_t backoff_cap_ms = 20'000;
  int64_t request_timeout_ms = 30'000;
};

// Retry and timeout knobs of a client (tests shorten them); the defaults are production's.
struct ApiTimings {
  int64_t backoff_base_ms = 500;
  int64_t backoff_cap_ms = 20'000;
  int64_t request_timeout_ms = 30'000;
};

struct SmSetup {
  ProviderContext ctx;  // loop, http, clock, count_call (deferrer unused here)
  std::shared_ptr<CredentialProvider> creds;
  std::string endpoint;  // "https://secretsmanager.us-east-1.amazonaws.com" (no trailing '/')
  std::string region;
  SmOptions options;
  // The service: X-Amz-Target prefix, SigV4 service name, metric provider label.
  std::string target_prefix = "secretsmanager.";
  std::string signing_service = "secretsmanager";
  std::string metric_provider = std::string(kSmMetricProvider);
};

// The outcome of one operation after retries: the 2xx body, or a classified Error. `aws` holds
// the service's error reply when there was one (callers re-classify per secret id).
struct SmReply {
  Result<Sensitive> body = Error(ErrorCode::kInternal, "no reply");
  AwsError aws;
};
using SmDone = std::function<void(SmReply)>;

// What the Secrets Manager and Parameter Store clients build alike: kInternal unless the
// context has a loop, an HTTP client and a deferrer and `creds` is set; the endpoint without a
// trailing '/'; the spec's region and retrySettings (maxRetries unset: 2) and `timings`. The
// service fields keep their Secrets Manager defaults.
Result<SmSetup> json_api_setup(const AwsSpec& spec, ProviderContext ctx,
                               std::shared_ptr<CredentialProvider> creds, std::string endpoint,
                               const ApiTimings& timings);

// Any JSON 1.1 service (SmSetup names it); the alias reads better in Parameter Store code.
class SmApi;
using AwsJsonApi = SmApi;

class SmApi : public std::enable_shared_from_this<SmApi> {
 public:
  static std::shared_ptr<SmApi> create(SmSetup setup);
  ~SmApi();
  SmApi(const SmApi&) = delete;
  SmApi& operator=(const SmApi&) = delete;

  // op: "GetSecretValue", "BatchGetSecretValue", ...; body: the JSON request (never a secret).
  void call(std::string op, std::string body, SmDone done);
  // Cancels every transfer and timer; no callback follows. Does not close the credentials.
  void close();
  bool closed() const { return closed_; }
  size_t in_flight() const { return ops_.size(); }
  const ProviderContext& ctx() const { return setup_.ctx; }
  CredentialProvider& creds() { return *setup_.creds; }

 private:
  struct Op;
  using OpPtr = std::shared_ptr<Op>;
  explicit SmApi(SmSetup setup);

  void run(const OpPtr& op);
  void send(const OpPtr& op, const Credentials& creds);
  void on_response(uint64_t id, Result<HttpResponse> r);
  bool maybe_retry(const OpPtr& op, const Error& why);
  void finish(const OpPtr& op, SmReply reply);
  OpPtr find(uint64_t id) const;
  static void on_retry_timer(uv_timer_t* t) noexcept;

  SmSetup setup_;
  std::string host_;
  std::weak_ptr<SmApi> weak_;
  std::map<uint64_t, OpPtr> ops_;
  uint64_t next_id_ = 0;
  std::mt19937_64 rng_;
  bool closed_ = false;
};

}  // namespace esd::providers::aws
