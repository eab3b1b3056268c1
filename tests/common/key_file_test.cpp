#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/common/crypto.h"
#include "daemon/common/log.h"

namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed on scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "esd-key-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

void write_file(const fs::path& p, const std::string& bytes, unsigned mode) {
  {
    std::ofstream f(p, std::ios::binary);
    f << bytes;
  }
  REQUIRE(::chmod(p.c_str(), mode) == 0);
}

// Captures log lines for the lifetime of the object.
struct LogCapture {
  std::vector<std::string> lines;
  LogCapture() {
    esd::log::set_sink([this](std::string_view l) { lines.emplace_back(l); });
  }
  ~LogCapture() { esd::log::reset_sink(); }
};

}  // namespace

TEST_CASE("key file: created with 0600 in a 0700 directory and reloaded", "[common][crypto]") {
  TempDir dir;
  const fs::path key_path = dir.path / "state" / "sub" / "hmac.key";
  LogCapture logs;
  auto first = esd::load_or_create_key(key_path.string());
  REQUIRE(first.ok());
  CHECK(first->size() == 32);
  CHECK(mode_of(key_path) == 0600);
  CHECK(mode_of(dir.path / "state") == 0700);
  CHECK(mode_of(dir.path / "state" / "sub") == 0700);
  CHECK(fs::file_size(key_path) == 32);
  auto again = esd::load_or_create_key(key_path.string());
  REQUIRE(again.ok());
  CHECK(*again == *first);
  // No temporary file is left behind.
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(key_path.parent_path())) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 1);
  const std::string hex = esd::hex_encode(first->view());
  for (const auto& l : logs.lines) CHECK(l.find(hex) == std::string::npos);
}

TEST_CASE("key file: accepts 64 hex characters or 32+ raw bytes", "[common][crypto]") {
  TempDir dir;
  const fs::path p = dir.path / "key";
  SECTION("hex line with newline") {
    const std::string hex(64, 'a');
    write_file(p, hex + "\n", 0600);
    auto k = esd::load_or_create_key(p.string());
    REQUIRE(k.ok());
    CHECK(k->view() == std::string(32, '\xaa'));
  }
  SECTION("raw bytes") {
    std::string raw(40, '\0');
    for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<char>(i * 7);
    write_file(p, raw, 0600);
    auto k = esd::load_or_create_key(p.string());
    REQUIRE(k.ok());
    CHECK(k->view() == raw);
  }
  SECTION("too short") {
    write_file(p, "short", 0600);
    auto k = esd::load_or_create_key(p.string());
    REQUIRE_FALSE(k.ok());
    CHECK(k.error().code == esd::ErrorCode::kInvalidConfig);
    CHECK(k.error().message.find("short") == std::string::npos);
  }
  SECTION("too long") {
    write_file(p, std::string(5000, 'x'), 0600);
    auto k = esd::load_or_create_key(p.string());
    REQUIRE_FALSE(k.ok());
    CHECK(k.error().code == esd::ErrorCode::kInvalidConfig);
  }
}

TEST_CASE("key file: a group-readable file is used with a warning", "[common][crypto]") {
  TempDir dir;
  const fs::path p = dir.path / "key";
  const std::string raw(32, 'Q');
  write_file(p, raw, 0640);
  LogCapture logs;
  auto k = esd::load_or_create_key(p.string());
  REQUIRE(k.ok());
  CHECK(k->view() == raw);
  bool warned = false;
  for (const auto& l : logs.lines) {
    if (l.find("key_file_permissive") != std::string::npos) warned = true;
    CHECK(l.find(raw) == std::string::npos);
  }
  CHECK(warned);
}
