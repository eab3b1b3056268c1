// Filesystem side of the state database: missing parent directories are created 0700 and a
// missing database file 0600 before SQLite opens it (SQLite gives -wal/-shm the same mode).
// Existing directories and files are never chmod'ed. Synchronous; internal to storage/.
#pragma once

#include <string>

#include "daemon/common/result.h"

namespace esd::storage {

// Creates the missing parent directories (0700) and the file itself (0600) if missing.
Status prepare_db_file(const std::string& path);

// kNotFound with a clear message if `path` does not exist or is not a regular file.
Status require_db_file(const std::string& path);

}  // namespace esd::storage
