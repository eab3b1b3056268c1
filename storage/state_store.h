// StateStore: the only domain-facing API of storage/. It records, per ExternalSecret (keyed by
// uid), what was last written (a keyed HMAC, never a value), when it is next due, failures, the
// keys/labels/annotations it owns on its target Secret, and a pruned history of attempts.
// SQLite lives behind it; no SQL leaves storage/. Synchronous and short; single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/common/result.h"

namespace esd::storage {

enum class Outcome { kWritten, kUnchanged, kFailed, kDeleted, kSkipped };
std::string_view outcome_name(Outcome o);  // "written", "unchanged", "failed", "deleted", "skipped"

struct OwnedField {
  std::string kind;  // "data" | "label" | "annotation"
  std::string name;
  bool operator==(const OwnedField&) const = default;
};

struct KeyVersion {
  std::string secret_key;  // key in the target Secret
  std::string version;     // provider version id where known
  bool operator==(const KeyVersion&) const = default;
};

struct EsState {
  std::string uid;
  std::string ns;
  std::string name;
  std::string store;             // "SecretStore/name" or "ClusterSecretStore/name"
  std::string target;            // target Secret name
  std::string data_hmac;         // hex HMAC-SHA256 of the final data last written (or "")
  std::string secret_rv;         // target Secret resourceVersion after our last write (or "")
  std::string synced_version;    // "<generation>-<meta hash>" of the ES last synced (or "")
  int64_t last_attempt_ms = 0;   // Unix ms; 0 = never
  int64_t last_success_ms = 0;
  int64_t next_due_ms = 0;       // 0 = not scheduled (refresh disabled)
  int64_t consecutive_failures = 0;
  std::string last_outcome;      // outcome_name() of the last attempt, "" if none
  std::string last_error;        // message of the last failure, "" after a success
  int64_t write_count = 0;       // Secret writes performed for this ES
  std::vector<OwnedField> owned;       // replaced wholesale by put()...
  std::vector<KeyVersion> versions;    // ...
  bool write_children = true;          // ...unless false: then put() leaves both as stored
};

struct HistoryRow {
  int64_t at_ms = 0;
  std::string ns;
  std::string name;
  std::string outcome;  // outcome_name()
  std::string error;    // "" when none
  int64_t duration_ms = 0;
};

struct StoreOptions {
  int busy_timeout_ms = 2000;
  int history_per_es = 50;        // newest rows kept per ExternalSecret (<= 0: no such limit)
  int history_total = 100'000;    // newest rows kept overall (<= 0: no such limit)
};

class StateStore {
 public:
  // Opens (creating with mode 0600, parent directory 0700 if missing) and migrates the database.
  static Result<std::unique_ptr<StateStore>> open(const std::string& path,
                                                  const StoreOptions& opts = {});
  // Read-only open for the `status`/`history` commands (no migration, no creation).
  static Result<std::unique_ptr<StateStore>> open_readonly(const std::string& path);
  ~StateStore();

  // owned and versions come back sorted (kind, name) / (secret_key): they are sets; put()
  // drops duplicate owned fields and keeps the last version given for a key.
  Result<std::vector<EsState>> load_all();  // ordered by namespace, name
  Result<std::optional<EsState>> get(const std::string& uid);
  // Upserts the row and its owned fields/versions, and appends `history` if given, in one
  // BEGIN IMMEDIATE transaction; prunes history past the limits.
  Status put(const EsState& state, const std::optional<HistoryRow>& history);
  // The same for many items in ONE transaction (all or nothing), in order; much cheaper than
  // one put() each (the controller batches the writes of a loop turn). Empty: no-op.
  Status put_many(const std::vector<std::pair<EsState, std::optional<HistoryRow>>>& items);
  Status remove(const std::string& uid);  // ES deleted: drop its state (history is kept)
  // Recent history, newest first; ns/name empty = all.
  // (ns given, name empty: that namespace. limit <= 0: no limit. Newest = highest at_ms, then
  // the most recently recorded.)
  Result<std::vector<HistoryRow>> history(const std::string& ns, const std::string& name,
                                          int limit);
  int64_t schema_version() const;

 private:
  struct Impl;
  explicit StateStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace esd::storage
