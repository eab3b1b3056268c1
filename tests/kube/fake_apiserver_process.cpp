#include "kube/fake_apiserver_process.h"

#include <curl/curl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <utility>

extern char** environ;

namespace esd::testing {
namespace {

void short_nap() {
  timespec ts{0, 20'000'000};  // 20 ms: only while waiting for a child process to start/exit
  nanosleep(&ts, nullptr);
}

double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

size_t append_body(char* data, size_t size, size_t n, void* out) noexcept {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

Result<std::unique_ptr<FakeApiServer>> FakeApiServer::start(FakeApiServerOptions opts) {
  std::unique_ptr<FakeApiServer> s(new FakeApiServer());
  s->opts_ = std::move(opts);
  std::string tmpl = "/tmp/esd-fakekube-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return Error(ErrorCode::kInternal, "mkdtemp failed");
  s->dir_ = tmpl;
  std::vector<std::string> args = {"python3",     ESD_SOURCE_DIR "/tests/fakes/kube_apiserver.py",
                                   "--port",      "0",
                                   "--port-file", s->dir_ + "/port",
                                   "--token",     s->opts_.token,
                                   "--quiet"};
  if (s->opts_.tls) {
    args.push_back("--tls-dir");
    args.push_back(s->dir_ + "/tls");
  }
  args.insert(args.end(), s->opts_.extra_args.begin(), s->opts_.extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, "python3", nullptr, nullptr, argv.data(), environ);
  if (rc != 0) return Error(ErrorCode::kInternal, std::string("posix_spawnp: ") + strerror(rc));
  s->pid_ = pid;
  if (!s->wait_for_port(15.0)) return Error(ErrorCode::kInternal, "fake API server did not start");
  return s;
}

bool FakeApiServer::wait_for_port(double seconds) {
  const double deadline = now_s() + seconds;
  while (now_s() < deadline) {
    std::ifstream in(dir_ + "/port");
    int port = 0;
    if (in >> port && port > 0) {
      port_ = port;
      return true;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;  // exited early
      return false;
    }
    short_nap();
  }
  return false;
}

FakeApiServer::~FakeApiServer() {
  stop();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

void FakeApiServer::stop() {
  if (pid_ <= 0) return;
  (void)kill(pid_, SIGTERM);
  const double deadline = now_s() + 5.0;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (now_s() > deadline) {
      (void)kill(pid_, SIGKILL);
      (void)waitpid(pid_, &status, 0);
      break;
    }
    short_nap();
  }
  pid_ = -1;
}

std::string FakeApiServer::url() const {
  return std::string(opts_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::string FakeApiServer::ca_file() const { return dir_ + "/tls/ca.crt"; }

kube::KubeConfig FakeApiServer::kube_config(const std::string& token) const {
  kube::KubeConfig c;
  c.server = url();
  TlsOptions tls;
  if (opts_.tls) {
    std::ifstream in(ca_file());
    tls.ca_pem.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  c.tls = std::make_shared<const TlsOptions>(std::move(tls));
  c.token = Sensitive(token == "\x01" ? opts_.token : token);
  c.namespace_ = "default";
  c.source = "fake";
  return c;
}

FakeResponse FakeApiServer::call(const std::string& method, const std::string& path,
                                 const std::string& body, const std::string& content_type) const {
  FakeResponse out;
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return out;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
  if (path.rfind("/_fake/", 0) != 0) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + opts_.token).c_str());
  }
  const std::string full = url() + path;
  curl_easy_setopt(easy, CURLOPT_URL, full.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10'000L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &append_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &out.body);
  if (opts_.tls) curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file().c_str());
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (curl_easy_perform(easy) == CURLE_OK) {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &out.status);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  return out;
}

void FakeApiServer::add_fault(const nlohmann::json& rule) const {
  call("POST", "/_fake/faults", rule.dump());
}

void FakeApiServer::drop_watches() const { call("POST", "/_fake/watches/drop", "{}"); }

void FakeApiServer::expire_watches(bool http_410) const {
  call("POST", "/_fake/watches/expire", http_410 ? R"({"mode":"http"})" : "{}");
}

nlohmann::json FakeApiServer::requests() const { return call("GET", "/_fake/requests").json(); }

int FakeApiServer::open_watches() const {
  auto j = call("GET", "/_fake/watches").json();
  return j.is_object() && j["open"].is_number_integer() ? j["open"].get<int>() : -1;
}

}  // namespace esd::testing
