// The Vault provider's registry entry (spec.provider.vault, eso-api.md §3.4): a stateless
// factory that validates the store spec and creates VaultClients. Lives for the whole process.
#pragma once

#include "providers/provider.h"

namespace esd::providers::vault {

const Provider& provider();

}  // namespace esd::providers::vault
