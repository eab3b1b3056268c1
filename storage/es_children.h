// The child rows of an es_state row: owned fields (es_owned) and key versions (es_versions).
// Both are sets: read back sorted, and replaced only when they differ from what is stored, so
// that an unchanged refresh writes no pages for them (fewer WAL frames per put). Callers hold
// the transaction. Internal to storage/.
#pragma once

#include <string>
#include <vector>

#include "daemon/common/result.h"
#include "storage/database.h"
#include "storage/state_store.h"

namespace esd::storage {

// Sorted by (kind, name), duplicates dropped.
std::vector<OwnedField> normalized(std::vector<OwnedField> owned);
// Sorted by secret_key; for a key given twice the last version wins.
std::vector<KeyVersion> normalized(const std::vector<KeyVersion>& versions);

Result<std::vector<OwnedField>> load_owned(Database& db, const std::string& uid);
Result<std::vector<KeyVersion>> load_versions(Database& db, const std::string& uid);

// Make the stored rows equal `wanted` (already normalized); no write when they are.
Status replace_owned(Database& db, const std::string& uid, const std::vector<OwnedField>& wanted);
Status replace_versions(Database& db, const std::string& uid,
                        const std::vector<KeyVersion>& wanted);

Status delete_children(Database& db, const std::string& uid);

}  // namespace esd::storage
