// Subprocess: runs a helper program (e.g. a Python fake server) for a test, with its stdin and
// stdout on pipes (header-only). read_line() waits for one stdout line with a deadline, so a
// helper that never starts fails the test instead of hanging it. The destructor closes stdin,
// sends SIGTERM to that one pid and reaps it. Single-threaded; not for use on the loop thread
// while the loop must keep running (it blocks).
#pragma once

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

extern char** environ;

namespace esd::test {

// The Python 3 to run helpers with: $ESD_PYTHON3 if set, else Debian's /usr/bin/python3 (a
// pyenv shim on PATH can add seconds per start), else whatever "python3" PATH finds.
inline std::string python3() {
  if (const char* env = std::getenv("ESD_PYTHON3"); env != nullptr && *env != '\0') return env;
  if (access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
  return "python3";
}

class Subprocess {
 public:
  // Starts argv[0] (looked up in PATH). Null if it could not be started.
  static std::unique_ptr<Subprocess> start(const std::vector<std::string>& argv) {
    int in[2];
    int out[2];
    if (pipe(in) != 0) return nullptr;
    if (pipe(out) != 0) {
      ::close(in[0]);
      ::close(in[1]);
      return nullptr;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) {
      ::close(in[1]);
      ::close(out[0]);
      return nullptr;
    }
    return std::unique_ptr<Subprocess>(new Subprocess(pid, in[1], out[0]));
  }

  ~Subprocess() {
    ::close(stdin_);
    ::close(stdout_);
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // One line from the child's stdout, without the newline. Empty on EOF or after timeout_ms.
  std::string read_line(int timeout_ms = 10000) {
    std::string line;
    char c = 0;
    while (true) {
      pollfd p{stdout_, POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0) return {};
      if (::read(stdout_, &c, 1) != 1) return {};
      if (c == '\n') return line;
      line.push_back(c);
    }
  }

  pid_t pid() const { return pid_; }

 private:
  Subprocess(pid_t pid, int in, int out) : pid_(pid), stdin_(in), stdout_(out) {}
  pid_t pid_;
  int stdin_;
  int stdout_;
};

}  // namespace esd::test
