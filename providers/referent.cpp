#include "providers/referent.h"

#include <string_view>

#include "providers/provider.h"

namespace esd::providers {
namespace {

bool names_a_reference(std::string_view member) {
  return (member.size() > 3 && member.substr(member.size() - 3) == "Ref") ||
         member == "clientCert" || member == "caProvider";
}

bool namespaceless(const nlohmann::json& ref) {
  if (!ref.is_object() || !ref.contains("name")) return false;
  auto ns = ref.find("namespace");
  return ns == ref.end() || !ns->is_string() || ns->get_ref<const std::string&>().empty();
}

}  // namespace

bool has_namespaceless_refs(const nlohmann::json& provider_spec) {
  if (provider_spec.is_array()) {
    for (const auto& item : provider_spec) {
      if (has_namespaceless_refs(item)) return true;
    }
    return false;
  }
  if (!provider_spec.is_object()) return false;
  for (const auto& [member, value] : provider_spec.items()) {
    if (names_a_reference(member) && namespaceless(value)) return true;
    if (has_namespaceless_refs(value)) return true;
  }
  return false;
}

bool Provider::per_namespace(const nlohmann::json& provider_spec) const {
  return has_namespaceless_refs(provider_spec);
}

}  // namespace esd::providers
