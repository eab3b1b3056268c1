#include "daemon/controller/es_status.h"

namespace esd::controller {
namespace {

std::string str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

}  // namespace

EsStatus parse_status(const nlohmann::json& es) {
  EsStatus s;
  auto st = es.find("status");
  if (st == es.end() || !st->is_object()) return s;
  s.refresh_time = str(*st, "refreshTime");
  s.synced_rv = str(*st, "syncedResourceVersion");
  if (auto b = st->find("binding"); b != st->end() && b->is_object()) s.binding = str(*b, "name");
  if (auto cs = st->find("conditions"); cs != st->end() && cs->is_array()) {
    for (const auto& c : *cs) {
      if (!c.is_object() || str(c, "type") != "Ready") continue;
      s.ready = str(c, "status");
      s.reason = str(c, "reason");
      s.message = str(c, "message");
      s.transition = str(c, "lastTransitionTime");
    }
  }
  return s;
}

nlohmann::json status_patch(const EsStatus& s) {
  nlohmann::json cond = {{"type", "Ready"},
                         {"status", s.ready},
                         {"reason", s.reason},
                         {"message", s.message},
                         {"lastTransitionTime", s.transition}};
  nlohmann::json status = {{"conditions", nlohmann::json::array({cond})}};
  status["refreshTime"] = s.refresh_time.empty() ? nlohmann::json() : nlohmann::json(s.refresh_time);
  if (!s.synced_rv.empty()) status["syncedResourceVersion"] = s.synced_rv;
  if (!s.binding.empty()) status["binding"] = {{"name", s.binding}};
  return {{"status", status}};
}

}  // namespace esd::controller
