#include "daemon/controller/events.h"

#include <unistd.h>

#include <cstdio>

#include "daemon/common/clock.h"
#include "daemon/common/log.h"
#include "daemon/server/metrics.h"

namespace esd::controller {
namespace {

constexpr size_t kMaxNote = 1024;  // events.k8s.io validation limit

std::string hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "extsecretd";
  return buf;
}

// ESO's recorder names per kind of object.
const char* reporting_controller(const std::string& kind) {
  if (kind == "SecretStore") return "secret-store";
  if (kind == "ClusterSecretStore") return "cluster-secret-store";
  return "external-secrets";
}

}  // namespace

EventRecorder::EventRecorder(kube::KubeClient& kube, Metrics& metrics, const Clock& clock)
    : kube_(kube), metrics_(metrics), clock_(clock), instance_(hostname()) {}

void EventRecorder::normal(const EventTarget& es, const std::string& reason,
                           const std::string& note) {
  record(es, "Normal", reason, note);
}

void EventRecorder::warning(const EventTarget& es, const std::string& reason,
                            const std::string& note) {
  record(es, "Warning", reason, note);
}

void EventRecorder::record(const EventTarget& es, const char* type, const std::string& reason,
                           const std::string& note) {
  const int64_t now = clock_.now_ms();
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx%04llx", static_cast<unsigned long long>(now),
                static_cast<unsigned long long>(++seq_ & 0xffff));
  nlohmann::json ev = {
      {"apiVersion", "events.k8s.io/v1"},
      {"kind", "Event"},
      {"metadata", {{"name", es.name + suffix}, {"namespace", es.ns}}},
      {"eventTime", format_micro_time(now)},
      {"reportingController", reporting_controller(es.kind)},
      {"reportingInstance", instance_.substr(0, 128)},
      {"action", "Sync"},
      {"reason", reason},
      {"type", type},
      {"note", note.size() > kMaxNote ? note.substr(0, kMaxNote) : note},
      {"regarding",
       {{"apiVersion", "external-secrets.io/v1"},
        {"kind", es.kind},
        {"namespace", es.ns},
        {"name", es.name},
        {"uid", es.uid},
        {"resourceVersion", es.resource_version}}}};
  metrics_.inc("extsecretd_events_total", {{"type", type}, {"reason", reason}});
  kube_.create("/apis/events.k8s.io/v1/namespaces/" + es.ns + "/events", ev,
               [](Result<nlohmann::json> r) {
                 if (!r) log::debug("events", "event_write_failed", {{"error", r.error()}});
               });
}

}  // namespace esd::controller
