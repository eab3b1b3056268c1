// The process environment as the AWS provider sees it. Every environment read of providers/aws
// goes through an EnvLookup so tests can give each client its own environment.
#pragma once

#include <functional>
#include <map>
#include <string>

namespace esd::providers::aws {

// Returns the variable's value, "" when unset (AWS treats an empty variable as unset).
using EnvLookup = std::function<std::string(const std::string& name)>;

EnvLookup process_env();                                       // getenv
EnvLookup map_env(std::map<std::string, std::string> values);  // tests

}  // namespace esd::providers::aws
