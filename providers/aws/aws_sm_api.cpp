// SmApi (aws_sm_api.h): signing, sending, retrying and classifying AWS JSON 1.1 calls.
#include "providers/aws/aws_sm_api.h"

#include <algorithm>
#include <array>
#include <utility>

#include <nlohmann/json.hpp>

#include "daemon/common/log.h"
#include "daemon/loop/uv_handle.h"
#include "providers/aws/aws_endpoints.h"
#include "providers/aws/sigv4.h"

namespace esd::providers::aws {
namespace {

constexpr std::string_view kComponent = "aws";
constexpr size_t kMaxMessage = 300;

bool one_of(std::string_view code, std::initializer_list<std::string_view> codes) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

bool contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

std::string describe(const AwsError& e) {
  std::string msg = e.message.substr(0, kMaxMessage);
  std::string code = e.code.empty() ? "HTTP " + std::to_string(e.status) : e.code;
  return msg.empty() ? code : code + ": " + msg;
}

bool is_auth_code(std::string_view code) {
  return one_of(code, {"ExpiredTokenException", "ExpiredToken", "UnrecognizedClientException",
                       "InvalidSignatureException", "SignatureDoesNotMatch",
                       "IncompleteSignature", "IncompleteSignatureException",
                       "MissingAuthenticationToken", "MissingAuthenticationTokenException",
                       "InvalidClientTokenId", "RequestExpired", "AuthFailure"});
}

Error not_found(const AwsError& e, std::string_view secret_id, std::string_view what) {
  if (secret_id.empty()) return Error(ErrorCode::kNotFound, describe(e), static_cast<int>(e.status));
  return Error(ErrorCode::kNotFound, "secret " + std::string(secret_id) + std::string(what),
               static_cast<int>(e.status));
}

const SystemClock& system_clock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace

std::string normalize_error_code(std::string_view raw) {
  if (const size_t hash = raw.find('#'); hash != std::string_view::npos) raw.remove_prefix(hash + 1);
  if (const size_t colon = raw.find(':'); colon != std::string_view::npos) raw = raw.substr(0, colon);
  return std::string(raw);
}

AwsError parse_aws_error(const HttpResponse& resp) {
  AwsError e;
  e.status = resp.status;
  const auto doc = nlohmann::json::parse(resp.body.view(), nullptr, false);
  if (!doc.is_discarded() && doc.is_object()) {
    if (auto t = doc.find("__type"); t != doc.end() && t->is_string()) {
      e.code = normalize_error_code(t->get<std::string>());
    }
    for (const char* key : {"Message", "message"}) {
      if (auto m = doc.find(key); m != doc.end() && m->is_string()) {
        e.message = m->get<std::string>();
        break;
      }
    }
  }
  if (e.code.empty()) e.code = normalize_error_code(resp.header("x-amzn-errortype"));
  return e;
}

bool is_throttling(std::string_view code) {
  return one_of(code, {"Throttling", "ThrottlingException", "ThrottledException",
                       "RequestThrottledException", "TooManyRequestsException",
                       "LimitExceededException", "RequestLimitExceeded",
                       "ProvisionedThroughputExceededException", "TransactionInProgressException",
                       "RequestThrottled", "SlowDown", "BandwidthLimitExceeded",
                       "EC2ThrottledException"});
}

bool is_retryable(const AwsError& e) {
  if (is_throttling(e.code)) return true;
  if (one_of(e.code, {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
                      "InternalServiceError", "InternalFailure", "ServiceUnavailable"})) {
    return true;
  }
  return e.status == 500 || e.status == 502 || e.status == 503 || e.status == 504;
}

bool is_credential_rejection(const AwsError& e) {
  if (e.code == "InvalidSignatureException") return !contains(e.message, "Signature expired");
  return one_of(e.code, {"ExpiredTokenException", "UnrecognizedClientException"});
}

Error classify_aws_error(const AwsError& e, std::string_view secret_id) {
  const int native = static_cast<int>(e.status);
  const std::string& c = e.code;
  if (c == "ResourceNotFoundException") return not_found(e, secret_id, " not found");
  if (c == "InvalidRequestException" && contains(e.message, "marked for deletion")) {
    return not_found(e, secret_id, " is marked for deletion");
  }
  if (is_throttling(c)) return Error(ErrorCode::kRateLimited, describe(e), native);
  if (is_auth_code(c)) {
    if (contains(e.message, "Signature expired")) {
      return Error(ErrorCode::kAuth, c + ": request signature expired (check the clock)", native);
    }
    return Error(ErrorCode::kAuth, c + ": the AWS credentials were rejected", native);
  }
  if (one_of(c, {"AccessDeniedException", "DecryptionFailure", "KMSAccessDeniedException"})) {
    return Error(ErrorCode::kPermission, describe(e), native);
  }
  if (is_retryable(e)) return Error(ErrorCode::kTransient, describe(e), native);
  if (one_of(c, {"InvalidParameterException", "InvalidRequestException", "ValidationException",
                 "SerializationException", "InvalidNextTokenException"})) {
    return Error(ErrorCode::kInvalidRef, describe(e), native);
  }
  return Error(ErrorCode::kInternal, describe(e), native);
}

int64_t backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, double unit) {
  int64_t d = base_ms;
  for (int i = 0; i < attempt && d < cap_ms; ++i) d *= 2;
  d = std::min(d, cap_ms);
  return static_cast<int64_t>(static_cast<double>(d) * (0.5 + 0.5 * unit));
}

struct SmApi::Op {
  uint64_t id = 0;
  SmApi* api = nullptr;  // for the retry timer trampoline
  std::string op;
  std::string target;
  std::string body;
  SmDone done;
  int attempt = 0;
  bool creds_refreshed = false;
  TransferId transfer = 0;
  UvHandle<uv_timer_t> timer;
  bool timer_ready = false;
};

SmApi::SmApi(SmSetup setup) : setup_(std::move(setup)), rng_(std::random_device{}()) {
  host_ = host_of(setup_.endpoint);
  if (setup_.ctx.clock == nullptr) setup_.ctx.clock = &system_clock();
}

std::shared_ptr<SmApi> SmApi::create(SmSetup setup) {
  std::shared_ptr<SmApi> api(new SmApi(std::move(setup)));
  api->weak_ = api;
  return api;
}

SmApi::~SmApi() { close(); }

void SmApi::call(std::string op, std::string body, SmDone done) {
  if (closed_) return;
  auto o = std::make_shared<Op>();
  o->id = ++next_id_;
  o->api = this;
  o->target = setup_.target_prefix + op;
  o->op = std::move(op);
  o->body = std::move(body);
  o->done = std::move(done);
  ops_[o->id] = o;
  run(o);
}

SmApi::OpPtr SmApi::find(uint64_t id) const {
  auto it = ops_.find(id);
  return it == ops_.end() ? nullptr : it->second;
}

// Fresh credentials for every attempt: the provider caches them, so this is cheap.
void SmApi::run(const OpPtr& op) {
  setup_.creds->get([w = weak_, id = op->id](Result<std::shared_ptr<const Credentials>> c) {
    auto self = w.lock();
    if (!self || self->closed_) return;
    OpPtr op = self->find(id);
    if (!op) return;
    if (!c) return self->finish(op, SmReply{std::move(c).error(), {}});
    self->send(op, **c);
  });
}

void SmApi::send(const OpPtr& op, const Credentials& creds) {
  SigV4Request sreq;
  sreq.method = "POST";
  sreq.path = "/";
  sreq.headers = {{"Host", host_},
                  {"Content-Type", "application/x-amz-json-1.1"},
                  {"X-Amz-Target", op->target}};
  sreq.body = op->body;
  SigningParams params;
  params.region = setup_.region;
  params.service = setup_.signing_service;
  params.amz_date = amz_date_from_unix(setup_.ctx.clock->now_ms() / 1000);
  auto signed_ok = sign(sreq, creds, params);
  if (!signed_ok) return finish(op, SmReply{std::move(signed_ok).error(), {}});
  HttpRequest req;
  req.method = "POST";
  req.url = setup_.endpoint + "/";
  req.headers = std::move(sreq.headers);
  req.body = Sensitive(std::string_view(op->body));
  req.timeout_ms = setup_.options.request_timeout_ms;
  op->transfer = setup_.ctx.http->start(std::move(req),
                                        [w = weak_, id = op->id](Result<HttpResponse> r) {
                                          auto self = w.lock();
                                          if (!self || self->closed_) return;
                                          self->on_response(id, std::move(r));
                                        });
}

void SmApi::on_response(uint64_t id, Result<HttpResponse> r) {
  OpPtr op = find(id);
  if (!op) return;
  op->transfer = 0;
  const bool ok = r && r->status >= 200 && r->status < 300;
  if (setup_.ctx.count_call) setup_.ctx.count_call(setup_.metric_provider, op->op, ok);
  if (!r) {
    if (r.error().code == ErrorCode::kTransient && maybe_retry(op, r.error())) return;
    return finish(op, SmReply{std::move(r).error(), {}});
  }
  if (ok) return finish(op, SmReply{std::move(r->body), {}});
  AwsError e = parse_aws_error(*r);
  if (is_credential_rejection(e) && !op->creds_refreshed) {
    // Rotated keys or an expired session: rebuild the credentials and try once more.
    op->creds_refreshed = true;
    log::info(kComponent, "aws_credentials_rejected",
              {{"store", setup_.ctx.store_name}, {"call", op->op}, {"aws_error", e.code}});
    setup_.creds->invalidate();
    return run(op);
  }
  Error err = classify_aws_error(e);
  if (is_retryable(e) && maybe_retry(op, err)) return;
  finish(op, SmReply{std::move(err), std::move(e)});
}

bool SmApi::maybe_retry(const OpPtr& op, const Error& why) {
  if (op->attempt >= setup_.options.max_retries) return false;
  int64_t wait = setup_.options.retry_interval_ms;
  if (wait < 0) {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    wait = backoff_ms(op->attempt, setup_.options.backoff_base_ms, setup_.options.backoff_cap_ms,
                      unit(rng_));
  }
  if (!op->timer_ready) {
    if (uv_timer_init(setup_.ctx.loop, op->timer.get()) != 0) return false;
    op->timer.mark_initialized();
    op->timer.get()->data = op.get();
    op->timer_ready = true;
  }
  ++op->attempt;
  log::debug(kComponent, "aws_request_retry",
             {{"store", setup_.ctx.store_name}, {"call", op->op}, {"attempt", op->attempt},
              {"delay_ms", wait}, {"error", why}});
  uv_timer_start(op->timer.get(), &SmApi::on_retry_timer, static_cast<uint64_t>(wait), 0);
  return true;
}

void SmApi::on_retry_timer(uv_timer_t* t) noexcept {
  auto* op = static_cast<Op*>(t->data);
  SmApi* api = op->api;
  if (OpPtr o = api->find(op->id)) api->run(o);
}

void SmApi::finish(const OpPtr& op, SmReply reply) {
  ops_.erase(op->id);
  op->timer.close();
  auto done = std::move(op->done);
  if (done) done(std::move(reply));
}

void SmApi::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& [id, op] : ops_) {
    if (op->transfer != 0 && setup_.ctx.http != nullptr) setup_.ctx.http->cancel(op->transfer);
    op->timer.close();
  }
  ops_.clear();
}

Result<SmSetup> json_api_setup(const AwsSpec& spec, ProviderContext ctx,
                               std::shared_ptr<CredentialProvider> creds, std::string endpoint,
                               const ApiTimings& timings) {
  if (ctx.loop == nullptr || ctx.http == nullptr || ctx.deferrer == nullptr || !creds) {
    return Error(ErrorCode::kInternal,
                 "aws provider needs a loop, an HTTP client, a deferrer and credentials");
  }
  SmSetup setup;
  setup.ctx = std::move(ctx);
  setup.creds = std::move(creds);
  setup.endpoint = std::move(endpoint);
  while (!setup.endpoint.empty() && setup.endpoint.back() == '/') setup.endpoint.pop_back();
  setup.region = spec.region;
  setup.options.max_retries = spec.max_retries < 0 ? 2 : spec.max_retries;
  setup.options.retry_interval_ms = spec.retry_interval_ms;
  setup.options.backoff_base_ms = timings.backoff_base_ms;
  setup.options.backoff_cap_ms = timings.backoff_cap_ms;
  setup.options.request_timeout_ms = timings.request_timeout_ms;
  return setup;
}

}  // namespace esd::providers::aws
