#include "providers/registry.h"

#include <array>

#include "providers/aws/aws_provider.h"
#include "providers/fake/fake_provider.h"
#include "providers/vault/vault_provider.h"

namespace esd::providers {
namespace {

// One row per compiled-in provider, in spec.provider key order. Add new backends here.
constexpr std::array<RegistryEntry, 3> kProviders = {{
    {"aws", &aws::provider},
    {"fake", &fake::provider},
    {"vault", &vault::provider},
}};

}  // namespace

std::span<const RegistryEntry> registry() { return kProviders; }

const Provider* find_provider(std::string_view name) {
  for (const auto& entry : kProviders) {
    if (entry.name == name) return &entry.get();
  }
  return nullptr;
}

}  // namespace esd::providers
