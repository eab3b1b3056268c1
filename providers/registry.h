// The explicit provider table (curl's available_backends[] idea): no static self-registration.
#pragma once

#include <span>
#include <string_view>

#include "providers/provider.h"

namespace esd::providers {

struct RegistryEntry {
  std::string_view name;  // key under spec.provider
  const Provider& (*get)();
};

std::span<const RegistryEntry> registry();
// nullptr if no provider of that name is compiled in.
const Provider* find_provider(std::string_view name);

}  // namespace esd::providers
