// The Vault SecretClient (spec.provider.vault): KV v1/v2 reads, extract and find over one cached
// token (see vault_core.h and README.md). Lives across syncs until its store changes; every
// public call posts to the Deferrer first, so results never arrive from inside the call; after
// close() (or destruction) nothing is delivered. Loop thread only.
#pragma once

#include <memory>

#include "providers/provider.h"
#include "providers/vault/vault_core.h"
#include "providers/vault/vault_spec.h"

namespace esd::providers::vault {

// kInternal when the context lacks a loop, HttpClient or Deferrer.
Result<std::unique_ptr<SecretClient>> make_vault_client(VaultSpec spec, ProviderContext ctx,
                                                        ClientOptions options = {});

}  // namespace esd::providers::vault
