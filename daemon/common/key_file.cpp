// load_or_create_key (declared in crypto.h): the daemon's HMAC key file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "daemon/common/crypto.h"
#include "daemon/common/log.h"

namespace esd {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kMaxKeyFileBytes = 4096;

Error io_error(std::string_view what, const std::string& path, int err) {
  return Error(ErrorCode::kInternal,
               std::string(what) + " " + path + ": " + std::strerror(err), err);
}

// Closes a file descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) (void)::close(fd);  // read-only or already fsynced: nothing to report
  }
};

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return {};
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// mkdir -p with mode 0700 for every directory it creates.
Status ensure_dir(const std::string& dir) {
  if (dir.empty() || dir == "/") return ok_status();
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return ok_status();
    return Error(ErrorCode::kInvalidConfig, "key file parent is not a directory: " + dir);
  }
  ESD_RETURN_IF_ERROR(ensure_dir(parent_dir(dir)));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return io_error("cannot create directory", dir, errno);
  }
  return ok_status();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// 64 hex characters, optionally followed by "\n" or "\r\n": the 32 bytes they spell.
bool decode_hex_line(std::string_view text, std::string& out) {
  if (text.size() >= 1 && text.back() == '\n') text.remove_suffix(1);
  if (text.size() >= 1 && text.back() == '\r') text.remove_suffix(1);
  if (text.size() != 2 * kKeyBytes) return false;
  std::string bytes(kKeyBytes, '\0');
  for (size_t i = 0; i < kKeyBytes; ++i) {
    const int hi = hex_value(text[2 * i]);
    const int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      OPENSSL_cleanse(bytes.data(), bytes.size());
      return false;
    }
    bytes[i] = static_cast<char>(hi * 16 + lo);
  }
  out = std::move(bytes);
  return true;
}

Result<Sensitive> read_key(const std::string& path, int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("cannot stat key file", path, errno);
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    log::warn("crypto", "key_file_permissive", {{"path", path}, {"mode", std::string_view(mode)}});
  }
  Sensitive raw;
  std::string buf(kMaxKeyFileBytes + 1, '\0');
  size_t got = 0;
  while (got < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      OPENSSL_cleanse(buf.data(), buf.size());
      return io_error("cannot read key file", path, errno);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  raw = Sensitive(std::move(buf));
  if (raw.size() > kMaxKeyFileBytes) {
    return Error(ErrorCode::kInvalidConfig, "key file is larger than 4096 bytes: " + path);
  }
  std::string decoded;
  if (decode_hex_line(raw.view(), decoded)) return Sensitive(std::move(decoded));
  if (raw.size() < kKeyBytes) {
    return Error(ErrorCode::kInvalidConfig,
                 "key file must hold 64 hex characters or at least 32 raw bytes: " + path);
  }
  return raw;
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot write key file", path, errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd) != 0) return io_error("cannot fsync key file", path, errno);
  return ok_status();
}

// Writes 32 random bytes to a private temporary file and links it into place. link() fails with
// EEXIST if someone else created the key meanwhile; theirs wins and is read back by the caller.
Status create_key(const std::string& path) {
  auto bytes = random_bytes(kKeyBytes);
  if (!bytes) return std::move(bytes).error();
  Sensitive key(std::move(bytes).value());
  std::string tmp = path + ".tmp.XXXXXX";
  Fd f;
  f.fd = ::mkstemp(tmp.data());  // mode 0600
  if (f.fd < 0) return io_error("cannot create key file", path, errno);
  Status st = write_all(f.fd, key.view(), tmp);
  if (st && ::fchmod(f.fd, 0600) != 0) st = io_error("cannot chmod key file", tmp, errno);
  if (st && ::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    st = io_error("cannot create key file", path, errno);
  }
  (void)::unlink(tmp.c_str());  // best effort: the key now lives under its real name
  if (st) log::info("crypto", "key_file_created", {{"path", path}});
  return st;
}

}  // namespace

Result<Sensitive> load_or_create_key(const std::string& path) {
  if (path.empty()) return Error(ErrorCode::kInvalidConfig, "key file path is empty");
  for (int attempt = 0; attempt < 2; ++attempt) {
    Fd f;
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd >= 0) return read_key(path, f.fd);
    if (errno != ENOENT) return io_error("cannot open key file", path, errno);
    ESD_RETURN_IF_ERROR(ensure_dir(parent_dir(path)));
    ESD_RETURN_IF_ERROR(create_key(path));
  }
  return Error(ErrorCode::kInternal, "key file vanished after creation: " + path);
}

}  // namespace esd
