#include "providers/registry.h"

#include <catch2/catch.hpp>

#include <set>
#include <string>

TEST_CASE("registry: names are unique and match each provider", "[providers][registry]") {
  std::set<std::string_view> names;
  REQUIRE_FALSE(esd::providers::registry().empty());
  for (const auto& entry : esd::providers::registry()) {
    INFO(std::string(entry.name));
    CHECK(names.insert(entry.name).second);
    CHECK(entry.get().name() == entry.name);
    CHECK(esd::providers::find_provider(entry.name) == &entry.get());
  }
}

TEST_CASE("registry: finds fake and nothing unknown", "[providers][registry]") {
  const auto* fake = esd::providers::find_provider("fake");
  REQUIRE(fake != nullptr);
  CHECK(fake->name() == "fake");
  CHECK(fake->validate(nlohmann::json::parse(R"({"data":[{"key":"k","value":"v"}]})")).ok());
  CHECK(esd::providers::find_provider("nope") == nullptr);
  CHECK(esd::providers::find_provider("") == nullptr);
  CHECK(esd::providers::find_provider("Fake") == nullptr);
}
