// Reading AWS JSON 1.1 replies (Secrets Manager, Parameter Store): pure helpers shared by
// aws_sm_values and aws_ps_values. A reply that is not a JSON object is kTransient
// "malformed <what> reply from <service>" (never quoting the body: it may hold values).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"

namespace esd::providers::aws {

Error malformed_reply(std::string_view service, std::string_view what);
Result<nlohmann::json> parse_reply_object(const Sensitive& body, std::string_view service,
                                          std::string_view what);
// The member's string value, "" when absent or not a string.
std::string string_member(const nlohmann::json& obj, const char* name);

}  // namespace esd::providers::aws
