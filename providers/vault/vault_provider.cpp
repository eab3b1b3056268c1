#include "providers/vault/vault_provider.h"

#include "providers/vault/vault_client.h"
#include "providers/vault/vault_spec.h"

namespace esd::providers::vault {
namespace {

class VaultProvider final : public Provider {
 public:
  std::string_view name() const override { return "vault"; }

  Status validate(const nlohmann::json& provider_spec) const override {
    auto spec = parse_vault_spec(provider_spec);
    if (!spec) return std::move(spec).error();
    return ok_status();
  }

  Result<std::unique_ptr<SecretClient>> create(const nlohmann::json& provider_spec,
                                               ProviderContext ctx) const override {
    auto spec = parse_vault_spec(provider_spec);
    if (!spec) return std::move(spec).error();
    // ESO: a cluster-wide store must not trust a CA that each tenant namespace could supply.
    if (ctx.store_kind == "ClusterSecretStore" && spec->has_ca_provider &&
        spec->ca_provider.ns.empty()) {
      return Error(ErrorCode::kInvalidConfig,
                   "spec.provider.vault.caProvider: missing namespace on caProvider secret "
                   "(required in a ClusterSecretStore)");
    }
    return make_vault_client(std::move(*spec), std::move(ctx));
  }
};

}  // namespace

const Provider& provider() {
  static const VaultProvider instance;
  return instance;
}

}  // namespace esd::providers::vault
