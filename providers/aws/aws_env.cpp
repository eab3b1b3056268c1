// The two EnvLookup sources of aws_env.h: the real process environment and a fixed map (tests).
#include "providers/aws/aws_env.h"

#include <cstdlib>
#include <memory>
#include <utility>

namespace esd::providers::aws {

EnvLookup process_env() {
  return [](const std::string& name) -> std::string {
    const char* v = std::getenv(name.c_str());
    return v == nullptr ? std::string() : std::string(v);
  };
}

EnvLookup map_env(std::map<std::string, std::string> values) {
  auto shared = std::make_shared<const std::map<std::string, std::string>>(std::move(values));
  return [shared](const std::string& name) -> std::string {
    auto it = shared->find(name);
    return it == shared->end() ? std::string() : it->second;
  };
}

}  // namespace esd::providers::aws
