// TestPki: a throw-away PKI for TLS tests, generated at test time with the `openssl` CLI into a
// fresh temporary directory (header-only). It holds a CA, a server certificate signed by it
// (SAN: localhost, esd-test.internal, 127.0.0.1), a client certificate for mTLS, and an
// unrelated CA for negative tests. Files and their PEM text are both exposed. The directory is
// removed by the destructor. EC P-256 keys, valid for two days.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace esd::test {

class TestPki {
 public:
  TestPki() {
    char tmpl[] = "/tmp/esd-pki-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    dir_ = tmpl;
    write_file(path("openssl.cnf"), kConfig);
    ok_ = make("ca", "esd-test-ca", "ca_ext", "") &&
          make("server", "esd-test-server", "server_ext", "ca") &&
          make("client", "esd-test-client", "client_ext", "ca") &&
          make("other-ca", "esd-other-ca", "ca_ext", "");
  }
  ~TestPki() {
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  bool ok() const { return ok_; }
  // name is "ca", "server", "client" or "other-ca".
  std::string cert_file(const std::string& name) const { return path(name + ".crt"); }
  std::string key_file(const std::string& name) const { return path(name + ".key"); }
  std::string cert_pem(const std::string& name) const { return read_file(cert_file(name)); }
  std::string key_pem(const std::string& name) const { return read_file(key_file(name)); }

 private:
  static constexpr const char* kConfig =
      "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n"
      "[ca_ext]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
      "subjectKeyIdentifier = hash\n"
      "[server_ext]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n"
      "subjectAltName = DNS:localhost,DNS:esd-test.internal,IP:127.0.0.1\n"
      "authorityKeyIdentifier = keyid\n"
      "[client_ext]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = clientAuth\n"
      "authorityKeyIdentifier = keyid\n";

  std::string path(const std::string& file) const { return dir_ + "/" + file; }

  // One self-signed (issuer empty) or CA-signed certificate and its key.
  bool make(const std::string& name, const std::string& cn, const std::string& ext,
            const std::string& issuer) const {
    std::string cmd = "openssl req -config '" + path("openssl.cnf") +
                      "' -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2" +
                      " -keyout '" + key_file(name) + "' -out '" + cert_file(name) +
                      "' -subj /CN=" + cn + " -extensions " + ext;
    if (!issuer.empty()) {
      cmd += " -CA '" + cert_file(issuer) + "' -CAkey '" + key_file(issuer) + "'";
    }
    cmd += " >>'" + path("openssl.log") + "' 2>&1";
    return std::system(cmd.c_str()) == 0;
  }

  static void write_file(const std::string& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
  }
  static std::string read_file(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir_;
  bool ok_ = false;
};

}  // namespace esd::test
