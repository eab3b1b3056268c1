#include "daemon/controller/es_status.h"

#include <functional>

#include "daemon/common/clock.h"

namespace esd::controller {
namespace {

std::string str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

int64_t time_ms(const std::string& s) {
  if (s.empty()) return 0;
  const int64_t t = parse_rfc3339(s);
  return t < 0 ? 0 : t;
}

}  // namespace

uint64_t text_hash(const std::string& s) {
  if (s.empty()) return 0;
  const uint64_t h = std::hash<std::string>{}(s);
  return h == 0 ? 1 : h;
}

EsStatus parse_status(const nlohmann::json& es) {
  EsStatus s;
  auto st = es.find("status");
  if (st == es.end() || !st->is_object()) return s;
  s.refresh_ms = time_ms(str(*st, "refreshTime"));
  s.synced_rv_h = text_hash(str(*st, "syncedResourceVersion"));
  if (auto b = st->find("binding"); b != st->end() && b->is_object()) {
    s.binding_h = text_hash(str(*b, "name"));
  }
  if (auto cs = st->find("conditions"); cs != st->end() && cs->is_array()) {
    for (const auto& c : *cs) {
      if (!c.is_object() || str(c, "type") != "Ready") continue;
      s.ready = str(c, "status");
      s.reason = str(c, "reason");
      s.message = str(c, "message");
      s.transition_ms = time_ms(str(c, "lastTransitionTime"));
    }
  }
  return s;
}

nlohmann::json status_patch(const EsStatus& s, const std::string& synced_rv,
                            const std::string& binding) {
  nlohmann::json cond = {{"type", "Ready"},
                         {"status", s.ready},
                         {"reason", s.reason},
                         {"message", s.message},
                         {"lastTransitionTime", format_rfc3339(s.transition_ms)}};
  nlohmann::json status = {{"conditions", nlohmann::json::array({cond})}};
  if (s.refresh_ms > 0) status["refreshTime"] = format_rfc3339(s.refresh_ms);
  if (!synced_rv.empty()) status["syncedResourceVersion"] = synced_rv;
  if (!binding.empty()) status["binding"] = {{"name", binding}};
  return {{"status", status}};
}

}  // namespace esd::controller
