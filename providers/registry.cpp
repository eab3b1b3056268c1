#include "providers/registry.h"

#include <array>

#include "providers/fake/fake_provider.h"

namespace esd::providers {
namespace {

// One row per compiled-in provider, in spec.provider key order. Add new backends here.
constexpr std::array<RegistryEntry, 1> kProviders = {{
    {"fake", &fake::provider},
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
