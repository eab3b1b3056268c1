#include "storage/db_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "daemon/common/log.h"

namespace esd::storage {
namespace {

constexpr std::string_view kComponent = "storage";

Error errno_error(std::string_view what, const std::string& path, int err) {
  std::string msg(what);
  msg += " ";
  msg += path;
  msg += ": ";
  msg += std::strerror(err);
  return Error(ErrorCode::kInvalidConfig, std::move(msg), err);
}

// mkdir -p with mode 0700 for every component that does not exist yet.
Status make_parent_dirs(const std::filesystem::path& dir) {
  if (dir.empty()) {
    return ok_status();
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return errno_error("state directory is not a directory:", dir.string(), ENOTDIR);
    }
    return ok_status();
  }
  if (errno != ENOENT) {
    return errno_error("cannot stat state directory", dir.string(), errno);
  }
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    ESD_RETURN_IF_ERROR(make_parent_dirs(dir.parent_path()));
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return errno_error("cannot create state directory", dir.string(), errno);
  }
  return ok_status();
}

}  // namespace

Status prepare_db_file(const std::string& path) {
  if (path.empty()) {
    return Error(ErrorCode::kInvalidConfig, "state database path is empty");
  }
  ESD_RETURN_IF_ERROR(make_parent_dirs(std::filesystem::path(path).parent_path()));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) {
    // The umask may have removed bits; the owner must be able to read and write it.
    const int rc = ::fchmod(fd, 0600);
    const int err = errno;
    ::close(fd);
    if (rc != 0) {
      return errno_error("cannot set mode 0600 on", path, err);
    }
    return ok_status();
  }
  if (errno != EEXIST) {
    return errno_error("cannot create state database", path, errno);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    log::warn(kComponent, "state_file_mode_loose",
              {{"path", path}, {"mode", static_cast<int64_t>(st.st_mode & 0777)}});
  }
  return ok_status();
}

Status require_db_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      return Error(ErrorCode::kNotFound, "state database not found: " + path, err);
    }
    return errno_error("cannot stat state database", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    return Error(ErrorCode::kInvalidConfig, "state database is not a regular file: " + path);
  }
  return ok_status();
}

}  // namespace esd::storage
