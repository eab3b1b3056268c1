#include "providers/aws/aws_json.h"

namespace esd::providers::aws {

Error malformed_reply(std::string_view service, std::string_view what) {
  return Error(ErrorCode::kTransient,
               "malformed " + std::string(what) + " reply from " + std::string(service));
}

Result<nlohmann::json> parse_reply_object(const Sensitive& body, std::string_view service,
                                          std::string_view what) {
  nlohmann::json doc = nlohmann::json::parse(body.view(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return malformed_reply(service, what);
  return doc;
}

std::string string_member(const nlohmann::json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

}  // namespace esd::providers::aws
