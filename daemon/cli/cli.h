// The extsecretd command line: `run`, `status`, `history`, `version` (CLI11). main() only calls
// cli::main; each command lives in its own file.
#pragma once

#include <string>

namespace esd::cli {

inline constexpr const char kVersion[] = "0.1.0";

struct RunFlags {
  std::string kubeconfig;
  std::string context;
  std::string state;
  std::string hmac_key_file;
  std::string ns;
  std::string metrics_addr = "127.0.0.1:8080";
  std::string log_level = "info";
  std::string log_format = "json";
  bool once = false;
};

int main(int argc, char** argv);
int run_daemon(const RunFlags& flags);
int show_status(const std::string& state_path);
int show_history(const std::string& state_path, const std::string& which, int limit);

// --state default: $STATE_DIRECTORY/state.db (systemd), else /var/lib/extsecretd/state.db.
std::string default_state_path();

}  // namespace esd::cli
