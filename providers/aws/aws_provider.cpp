// AwsProvider (aws_provider.h): parse, endpoints, credentials, then the Secrets Manager or
// Parameter Store client.
#include "providers/aws/aws_provider.h"

#include <utility>

#include "providers/aws/aws_credentials.h"
#include "providers/aws/aws_endpoints.h"
#include "providers/aws/aws_env.h"
#include "providers/aws/aws_ps_client.h"
#include "providers/aws/aws_sm_client.h"
#include "providers/aws/aws_spec.h"

namespace esd::providers::aws {
namespace {

Result<AwsSpec> parse_supported(const nlohmann::json& provider_spec) {
  auto spec = parse_aws_spec(provider_spec);
  if (!spec) return std::move(spec).error();
  // Both services parse_aws_spec accepts (SecretsManager, ParameterStore) have a client.
  return spec;
}

class AwsProvider final : public Provider {
 public:
  std::string_view name() const override { return "aws"; }
  bool gathers_reads() const override { return true; }
  // Session tags name the ExternalSecret's namespace (esoNamespace): one session per namespace.
  bool per_namespace(const nlohmann::json& provider_spec) const override {
    auto spec = parse_supported(provider_spec);
    if (spec && spec->session_tags_policy != SessionTagsPolicy::kNone) return true;
    return Provider::per_namespace(provider_spec);
  }

  Status validate(const nlohmann::json& provider_spec) const override {
    auto spec = parse_supported(provider_spec);
    if (!spec) return std::move(spec).error();
    return ok_status();
  }

  Result<std::unique_ptr<SecretClient>> create(const nlohmann::json& provider_spec,
                                               ProviderContext ctx) const override {
    auto spec = parse_supported(provider_spec);
    if (!spec) return std::move(spec).error();
    EnvLookup env = process_env();
    auto endpoints = resolve_endpoints(spec->region, env);
    if (!endpoints) return std::move(endpoints).error();
    CredentialDeps deps{ctx, *endpoints, env};
    auto creds = make_credential_provider(*spec, std::move(deps));
    if (!creds) return std::move(creds).error();
    if (spec->service == AwsService::kParameterStore) {
      return make_ps_client(std::move(*spec), std::move(ctx), std::move(*creds), endpoints->ssm);
    }
    std::string endpoint = endpoints->secrets_manager;
    return make_sm_client(std::move(*spec), std::move(ctx), std::move(*creds), std::move(endpoint));
  }
};

}  // namespace

const Provider& provider() {
  static const AwsProvider instance;
  return instance;
}

}  // namespace esd::providers::aws
