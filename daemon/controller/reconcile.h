// One reconcile in flight: the steps of reconcile.cpp and the bookkeeping of record.cpp share it.
// Internal to daemon/controller.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/controller/controller_impl.h"

namespace esd::controller {

using storage::Outcome;

// What a successful or failed attempt leaves to record.
struct Attempt {
  Outcome outcome = Outcome::kUnchanged;
  std::string reason = reason::kSecretSynced;
  std::string message = message::kSynced;
  bool wrote = false;
  std::optional<Error> error;
  bool retry = true;
  std::string data_hmac;  // "" = keep
  std::string secret_rv;
  std::vector<storage::OwnedField> owned;
  std::vector<storage::KeyVersion> versions;
  bool set_owned = false;

  static Attempt failed(const char* message, Error error, bool retry = true) {
    Attempt a;
    a.outcome = Outcome::kFailed;
    a.reason = reason::kSecretSyncedError;
    a.message = message;
    a.error = std::move(error);
    a.retry = retry;
    return a;
  }
};

struct Reconcile : std::enable_shared_from_this<Reconcile> {
  Controller::Impl* c;
  std::string uid;
  int64_t started_ms;
  std::string slot;  // store key of the in-flight slot this reconcile holds
  int conflicts = 0;
  FetchOutcome fetched;

  EsEntry* entry() {
    auto it = c->es.find(uid);
    return it == c->es.end() ? nullptr : &it->second;
  }
  void run();
  void on_fetched(Result<FetchOutcome> r);
  void write_target();
  void on_live(Result<nlohmann::json> live);
  void send_write(bool create, Sensitive body, Attempt ok);
  void on_written(Result<nlohmann::json> r, Attempt ok, bool create);
  void delete_target();
  void done(Attempt a);
  void report(EsEntry& e, const Attempt& a, const std::string& prev_error, int64_t now);
  void write_status(EsEntry& e, const Attempt& a, int64_t now);
  void release_slot();
};

}  // namespace esd::controller
