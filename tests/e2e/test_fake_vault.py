#!/usr/bin/env python3
"""Self-test of the fake HashiCorp Vault server (tests/fakes/vault_server.py).

Run by ctest as `python3 tests/e2e/test_fake_vault.py --binary <extsecretd>`; the binary is
not used here (unknown arguments are ignored). Starts the fake as a subprocess and checks the
contract in tests/fakes/VAULT_FAKE_API.md over real HTTP(S).
"""

import argparse
import http.client
import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
from vaultfake_client import start_vault  # noqa: E402

DENIED = "permission denied"


class VaultCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.vault = start_vault(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.vault.clear_faults()

    def call(self, method, path, body=None, expect=200, **kw):
        status, out = self.vault.api(method, path, body, **kw)
        self.assertEqual(status, expect, out)
        return out

    def denied(self, method, path, body=None, **kw):
        out = self.call(method, path, body, 403, **kw)
        self.assertIn(DENIED, out["errors"][0])


class KvV2(VaultCase):
    def test_write_read_versions(self):
        out = self.call("POST", "/v1/secret/data/ver", {"data": {"k": "one"}})
        self.assertEqual(out["data"]["version"], 1)
        self.call("PUT", "/v1/secret/data/ver", {"data": {"k": "two"}})
        out = self.call("GET", "/v1/secret/data/ver")
        for key in ("request_id", "lease_id", "renewable", "lease_duration", "wrap_info",
                    "warnings", "auth"):
            self.assertIn(key, out)
        self.assertEqual(out["data"]["data"], {"k": "two"})
        meta = out["data"]["metadata"]
        self.assertEqual((meta["version"], meta["deletion_time"], meta["destroyed"]),
                         (2, "", False))
        self.assertTrue(meta["created_time"].endswith("Z"))
        self.assertEqual(self.call("GET", "/v1/secret/data/ver?version=1")["data"]["data"],
                         {"k": "one"})
        meta = self.call("GET", "/v1/secret/metadata/ver")["data"]
        self.assertEqual(meta["current_version"], 2)
        self.assertEqual(sorted(meta["versions"]), ["1", "2"])
        self.assertEqual(self.call("GET", "/v1/secret/data/ver?version=7", expect=404),
                         {"errors": []})
        self.assertEqual(self.call("GET", "/v1/secret/data/never", expect=404), {"errors": []})

    def test_soft_delete_undelete_destroy(self):
        self.vault.put_kv("secret", "del", {"a": "1"})
        self.vault.put_kv("secret", "del", {"a": "2"})
        self.call("DELETE", "/v1/secret/data/del", expect=204)
        out = self.call("GET", "/v1/secret/data/del", expect=404)
        self.assertIsNone(out["data"]["data"])
        self.assertNotEqual(out["data"]["metadata"]["deletion_time"], "")
        self.assertEqual(out["data"]["metadata"]["version"], 2)
        self.call("POST", "/v1/secret/undelete/del", {"versions": [2]}, expect=204)
        self.assertEqual(self.call("GET", "/v1/secret/data/del")["data"]["data"], {"a": "2"})
        self.call("POST", "/v1/secret/destroy/del", {"versions": [1]}, expect=204)
        out = self.call("GET", "/v1/secret/data/del?version=1", expect=404)
        self.assertTrue(out["data"]["metadata"]["destroyed"])
        self.vault.delete_kv("secret", "del")
        self.assertEqual(self.vault.api("GET", "/v1/secret/data/del")[0], 404)
        self.call("DELETE", "/v1/secret/metadata/del", expect=204)
        self.assertEqual(self.call("GET", "/v1/secret/metadata/del", expect=404), {"errors": []})

    def test_custom_metadata(self):
        self.vault.put_kv("secret", "cm", {"x": "y"}, custom_metadata={"owner": "team-a"})
        out = self.call("GET", "/v1/secret/data/cm")
        self.assertEqual(out["data"]["metadata"]["custom_metadata"], {"owner": "team-a"})
        self.call("POST", "/v1/secret/metadata/cm", {"custom_metadata": {"env": "prod"}},
                  expect=204)
        meta = self.call("GET", "/v1/secret/metadata/cm")["data"]
        self.assertEqual(meta["custom_metadata"], {"env": "prod"})

    def test_list(self):
        for p in ("tree/a", "tree/b", "tree/dir/c", "tree/dir/deeper/d"):
            self.vault.put_kv("secret", p, {"v": p})
        out = self.call("LIST", "/v1/secret/metadata/tree/")
        self.assertEqual(out["data"]["keys"], ["a", "b", "dir/"])
        out = self.call("GET", "/v1/secret/metadata/tree/dir?list=true")
        self.assertEqual(out["data"]["keys"], ["c", "deeper/"])
        self.assertEqual(self.call("LIST", "/v1/secret/metadata/nothing/", expect=404),
                         {"errors": []})

    def test_cas_patch_and_wrong_path(self):
        self.vault.put_kv("secret", "cas", {"a": "1"})
        out = self.call("POST", "/v1/secret/data/cas", {"data": {"a": "2"},
                                                        "options": {"cas": 0}}, expect=400)
        self.assertIn("check-and-set", out["errors"][0])
        self.call("POST", "/v1/secret/data/cas", {"data": {"a": "2"}, "options": {"cas": 1}})
        self.call("PATCH", "/v1/secret/data/cas", {"data": {"b": "3"}})
        self.assertEqual(self.call("GET", "/v1/secret/data/cas")["data"]["data"],
                         {"a": "2", "b": "3"})
        out = self.call("GET", "/v1/secret/cas", expect=404)
        self.assertIn("versioned K/V", out["warnings"][0])

    def test_mount_detection(self):
        out = self.call("GET", "/v1/sys/internal/ui/mounts/secret")
        self.assertEqual((out["data"]["type"], out["data"]["options"]["version"],
                          out["data"]["path"]), ("kv", "2", "secret/"))
        self.vault.mount("kv-extra", version=1)
        out = self.call("GET", "/v1/sys/internal/ui/mounts/kv-extra/some/key")
        self.assertEqual(out["data"]["options"]["version"], "1")


class KvV1(VaultCase):
    def test_crud_and_list(self):
        self.call("POST", "/v1/secret_v1/app/cfg", {"user": "u", "pass": "p"}, expect=204)
        self.vault.put_kv("secret_v1", "app/other", {"k": "v"})
        out = self.call("GET", "/v1/secret_v1/app/cfg")
        self.assertEqual(out["data"], {"user": "u", "pass": "p"})
        self.assertEqual(out["lease_duration"], 2764800)
        self.assertEqual(self.call("LIST", "/v1/secret_v1/app/")["data"]["keys"],
                         ["cfg", "other"])
        self.call("DELETE", "/v1/secret_v1/app/cfg", expect=204)
        self.assertEqual(self.call("GET", "/v1/secret_v1/app/cfg", expect=404), {"errors": []})


class Tokens(VaultCase):
    def test_policies(self):
        self.vault.policy("app-read", [{"path": "secret/data/app/*", "capabilities": ["read"]},
                                       {"path": "secret/metadata/app/*",
                                        "capabilities": ["list"]}])
        self.vault.put_kv("secret", "app/one", {"k": "v"})
        self.vault.put_kv("secret", "other/one", {"k": "v"})
        tok = self.vault.token(["app-read"])
        self.assertEqual(self.call("GET", "/v1/secret/data/app/one", token=tok)["data"]["data"],
                         {"k": "v"})
        self.call("LIST", "/v1/secret/metadata/app/", token=tok)
        self.denied("GET", "/v1/secret/data/other/one", token=tok)
        self.denied("POST", "/v1/secret/data/app/one", {"data": {"k": "w"}}, token=tok)
        self.denied("GET", "/v1/secret/metadata/app/one", token=tok)
        self.denied("GET", "/v1/secret/data/app/one", token="no-such-token")
        self.denied("GET", "/v1/secret/data/app/one", token=None)
        self.call("GET", "/v1/auth/token/lookup-self", token=tok)

    def test_ttl_expiry_via_clock(self):
        tok = self.vault.token(["default"], ttl=60)
        data = self.call("GET", "/v1/auth/token/lookup-self", token=tok)["data"]
        self.assertTrue(55 <= data["ttl"] <= 60, data["ttl"])
        self.assertIsNotNone(data["expire_time"])
        self.vault.advance_clock(61)
        self.denied("GET", "/v1/auth/token/lookup-self", token=tok)
        self.assertIsNone(self.call("GET", "/v1/auth/token/lookup-self")["data"]["expire_time"])

    def test_renew_self_up_to_max(self):
        tok = self.vault.token(["default"], ttl=100, max_ttl=300)
        self.vault.advance_clock(50)
        before = self.vault.stats()["renewals"]
        auth = self.call("POST", "/v1/auth/token/renew-self", {"increment": "100s"},
                         token=tok)["auth"]
        self.assertEqual((auth["client_token"], auth["lease_duration"], auth["renewable"]),
                         (tok, 100, True))
        self.vault.advance_clock(90)          # t=140: 160s left before max_ttl
        out = self.call("POST", "/v1/auth/token/renew-self", {"increment": 200}, token=tok)
        self.assertTrue(158 <= out["auth"]["lease_duration"] <= 160, out["auth"])
        self.assertIn("max_ttl", out["warnings"][0])
        self.assertEqual(self.vault.stats()["renewals"], before + 2)
        self.vault.advance_clock(161)
        self.denied("POST", "/v1/auth/token/renew-self", {}, token=tok)
        fixed = self.vault.token(["default"], renewable=False)
        self.call("POST", "/v1/auth/token/renew-self", {}, expect=400, token=fixed)

    def test_revoke_self(self):
        tok = self.vault.token(["default"])
        self.call("POST", "/v1/auth/token/revoke-self", token=tok, expect=204)
        self.denied("GET", "/v1/auth/token/lookup-self", token=tok)


class Logins(VaultCase):
    def login_ok(self, path, body, username=None, **kw):
        status, out = self.vault.login(path, body, username, **kw)
        self.assertEqual(status, 200, out)
        auth = out["auth"]
        for key in ("client_token", "accessor", "policies", "token_policies", "metadata",
                    "lease_duration", "renewable", "entity_id", "token_type"):
            self.assertIn(key, auth)
        return auth

    def login_err(self, path, body, expect, text, username=None):
        status, out = self.vault.login(path, body, username)
        self.assertEqual(status, expect, out)
        self.assertIn(text, out["errors"][0])

    def test_approle(self):
        self.vault.policy("p-app", {"secret/data/approle/*": ["read"]})
        self.vault.put_kv("secret", "approle/x", {"k": "v"})
        self.vault.approle("app", "rid", "sid", ["p-app"], ttl=120)
        auth = self.login_ok("approle", {"role_id": "rid", "secret_id": "sid"})
        self.assertEqual(auth["lease_duration"], 120)
        self.assertEqual(auth["policies"], ["default", "p-app"])
        self.call("GET", "/v1/secret/data/approle/x", token=auth["client_token"])
        self.login_err("approle", {"role_id": "rid", "secret_id": "bad"}, 400, "invalid")
        self.login_err("approle", {"secret_id": "sid"}, 400, "missing role_id")
        stats = self.vault.stats()
        self.assertGreaterEqual(stats["logins"]["approle/approle"], 1)
        self.assertGreaterEqual(stats["login_failures"]["approle/approle"], 2)

    def test_kubernetes(self):
        v = self.vault
        v.k8s_role("k8s", ["default"], ttl=300, max_ttl=600, bound_audiences=["vault"],
                   bound_service_account_names=["eso"],
                   bound_service_account_namespaces=["infra"])
        auth = self.login_ok("kubernetes", {"role": "k8s", "jwt": v.make_jwt("infra", "eso")})
        self.assertEqual(auth["metadata"]["service_account_name"], "eso")
        self.assertEqual(auth["lease_duration"], 300)
        self.login_err("kubernetes", {"role": "k8s", "jwt": v.make_jwt("infra", "eso",
                                                                        key="wrong")},
                       403, DENIED)
        self.login_err("kubernetes", {"role": "k8s", "jwt": v.make_jwt("infra", "eso",
                                                                        aud=["other"])},
                       403, "audience")
        self.login_err("kubernetes", {"role": "k8s", "jwt": v.make_jwt("infra", "bob")},
                       403, "service account name not authorized")
        self.login_err("kubernetes", {"role": "k8s", "jwt": v.make_jwt("apps", "eso")},
                       403, "namespace not authorized")
        self.login_err("kubernetes", {"role": "nope", "jwt": "a.b.c"}, 400,
                       'invalid role name "nope"')
        self.login_err("kubernetes", {"jwt": "x"}, 400, "missing role")
        self.login_err("kubernetes", {"role": "k8s", "jwt": "garbage"}, 400, "segments")
        old = v.make_jwt("infra", "eso", exp_in=600)
        v.advance_clock(601)
        self.login_err("kubernetes", {"role": "k8s", "jwt": old}, 403, DENIED)
        v.k8s_role("own-key", ["default"], jwt_key="role-key", path="k8s-b")
        self.login_ok("k8s-b", {"role": "own-key", "jwt": v.make_jwt(key="role-key")})

    def test_jwt(self):
        v = self.vault
        v.jwt_role("j", ["default"], ttl=90, bound_audiences=["api"], bound_subject="me")
        good = v.make_jwt(aud="api", claims={"sub": "me"})
        self.assertEqual(self.login_ok("jwt", {"role": "j", "jwt": good})["lease_duration"], 90)
        self.login_err("jwt", {"role": "j", "jwt": v.make_jwt(aud="api", key="bad",
                                                              claims={"sub": "me"})},
                       400, "signature")
        self.login_err("jwt", {"role": "j", "jwt": v.make_jwt(aud="web",
                                                              claims={"sub": "me"})},
                       400, "audience")
        self.login_err("jwt", {"role": "j", "jwt": v.make_jwt(aud="api")}, 400, "sub")

    def test_userpass_and_ldap(self):
        self.vault.userpass("alice", "pw", ["default"], ttl=30)
        self.assertEqual(self.login_ok("userpass", {"password": "pw"}, "alice")
                         ["metadata"]["username"], "alice")
        self.login_err("userpass", {"password": "no"}, 400, "invalid username or password",
                       "alice")
        self.vault.ldap("bob", "pw2", ["default"], path="corp-ldap")
        self.login_ok("corp-ldap", {"password": "pw2"}, "bob")
        self.login_err("corp-ldap", {"password": "x"}, 400, "ldap", "bob")
        self.assertEqual(self.vault.stats()["logins"]["ldap/corp-ldap"], 1)

    def test_cert_needs_tls_client_cert(self):
        self.vault.cert_role("web", ["default"])
        self.login_err("cert", {"name": "web"}, 400, "client certificate")

    def test_unknown_auth_mount(self):
        self.login_err("nowhere", {"role": "x"}, 403, DENIED)

    def test_issued_tokens_lists_every_login_token(self):
        v = self.vault
        v.approle("issued", "rid-issued", "sid-issued", ["default"], path="approle-issued")
        first = self.login_ok("approle-issued", {"role_id": "rid-issued",
                                                 "secret_id": "sid-issued"})
        second = self.login_ok("approle-issued", {"role_id": "rid-issued",
                                                  "secret_id": "sid-issued"})
        self.login_err("approle-issued", {"role_id": "rid-issued", "secret_id": "x"}, 400,
                       "invalid")
        self.call("POST", "/v1/auth/token/revoke-self", token=first["client_token"],
                  expect=204)
        static = v.token(["default"])
        mine = [t for t in v.issued_tokens() if t["path"] == "auth/approle-issued/login"]
        self.assertEqual([(t["token"], t["accessor"]) for t in mine],
                         [(first["client_token"], first["accessor"]),
                          (second["client_token"], second["accessor"])],
                         "both logins, in order, the revoked one included; no failed login")
        self.assertTrue(all(t["token"].startswith("hvs.") for t in mine))
        issued = [t["token"] for t in v.issued_tokens()]
        self.assertNotIn(static, issued, "tokens made through the control API are not listed")
        self.assertNotIn(v.root_token, issued)


class Namespaces(VaultCase):
    def test_isolation(self):
        v = self.vault
        v.put_kv("secret", "ns-only", {"team": "a"}, namespace="team-a")
        self.assertEqual(self.call("GET", "/v1/secret/data/ns-only", namespace="team-a")
                         ["data"]["data"], {"team": "a"})
        self.assertEqual(self.call("GET", "/v1/team-a/secret/data/ns-only")["data"]["data"],
                         {"team": "a"})
        self.call("GET", "/v1/secret/data/ns-only", expect=404)
        v.policy("read-all", {"secret/data/*": ["read"]}, namespace="team-a")
        tok = v.token(["read-all"], namespace="team-a")
        self.call("GET", "/v1/secret/data/ns-only", token=tok, namespace="team-a")
        self.denied("GET", "/v1/secret/data/ns-only", token=tok)
        v.approle("r", "rid-ns", "sid-ns", ["read-all"], namespace="team-a")
        status, out = v.login("approle", {"role_id": "rid-ns", "secret_id": "sid-ns"},
                              namespace="team-a")
        self.assertEqual(status, 200, out)
        self.assertEqual(v.login("approle", {"role_id": "rid-ns", "secret_id": "sid-ns"})[0],
                         403)
        entries = [e for e in v.requests() if e["path"].endswith("/ns-only")]
        self.assertIn("team-a", [e["namespace"] for e in entries])


class Faults(VaultCase):
    def test_429_503_and_delay(self):
        v = self.vault
        v.put_kv("secret", "flaky", {"k": "v"})
        v.fault(path_regex="/v1/secret/data/flaky", status=429, count=1, retry_after=2)
        out = self.call("GET", "/v1/secret/data/flaky", expect=429)
        self.assertIn("rate limit quota exceeded", out["errors"][0])
        self.assertEqual(v.last_headers.get("Retry-After"), "2")
        self.call("GET", "/v1/secret/data/flaky")
        v.fault(method="GET", path_regex="flaky", status=503, count=2)
        self.call("GET", "/v1/secret/data/flaky", expect=503)
        self.call("GET", "/v1/secret/data/flaky", expect=503)
        self.call("GET", "/v1/secret/data/flaky")
        v.fault(path_regex="flaky", status=0, delay_ms=200, count=1)
        t0 = time.monotonic()
        self.call("GET", "/v1/secret/data/flaky")
        self.assertGreaterEqual(time.monotonic() - t0, 0.19)

    def test_seal(self):
        v = self.vault
        v.seal(True)
        try:
            out = self.call("GET", "/v1/secret/data/anything", expect=503)
            self.assertEqual(out, {"errors": ["Vault is sealed"]})
            self.assertTrue(self.call("GET", "/v1/sys/health", expect=503)["sealed"])
        finally:
            v.seal(False)
        self.assertFalse(self.call("GET", "/v1/sys/health")["sealed"])


class Observation(VaultCase):
    def test_stats_and_request_log_hide_secrets(self):
        v = self.vault
        v.reset_stats()
        v.reset_requests()
        v.put_kv("secret", "obs/s", {"password": "hunter2-value"})
        tok = v.token(["root"])
        self.call("GET", "/v1/secret/data/obs/s", token=tok)
        self.call("GET", "/v1/secret/data/obs/s?version=1")
        self.call("LIST", "/v1/secret/metadata/obs/")
        stats = v.stats()
        self.assertEqual((stats["reads"], stats["lists"]), (2, 1))
        log = v.requests()
        self.assertEqual([e["method"] for e in log], ["GET", "GET", "LIST"])
        self.assertTrue(all(e["vault_request"] for e in log))
        self.assertTrue(log[0]["token_accessor"])
        with open(v.log_path) as f:
            text = json.dumps(log) + f.read()
        for secret in (tok, "hunter2-value", v.root_token + '"'):
            self.assertNotIn(secret, text)

    def test_throughput_keep_alive(self):
        v = self.vault
        v.put_kv("secret", "fast", {"k": "v"})
        conn = http.client.HTTPConnection("127.0.0.1", v.port, timeout=10)
        t0 = time.monotonic()
        for _ in range(300):
            conn.request("GET", "/v1/secret/data/fast", headers={"X-Vault-Token": "root"})
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 200)
        elapsed = time.monotonic() - t0
        conn.close()
        self.assertLess(elapsed, 3.0, "300 keep-alive requests took %.2fs" % elapsed)


class Tls(unittest.TestCase):
    def test_https_and_cert_login(self):
        with tempfile.TemporaryDirectory() as tmp, start_vault(tmp, tls=True) as v:
            self.assertTrue(v.url.startswith("https://127.0.0.1:"))
            for f in (v.ca_file, v.client_cert, v.client_key, v.client_ca):
                self.assertTrue(os.path.exists(f), f)
            v.put_kv("secret", "tls", {"k": "v"})
            status, out = v.api("GET", "/v1/secret/data/tls")
            self.assertEqual((status, out["data"]["data"]), (200, {"k": "v"}))
            v.cert_role("web", ["default"], ttl=45, allowed_common_names=["fake-vault-client"])
            status, out = v.login("cert", {"name": "web"}, cert=True)
            self.assertEqual(status, 200, out)
            self.assertEqual(out["auth"]["lease_duration"], 45)
            self.assertEqual(out["auth"]["metadata"]["common_name"], "fake-vault-client")
            status, out = v.login("cert", {}, cert=True)
            self.assertEqual(status, 200, out)
            status, out = v.login("cert", {"name": "web"})
            self.assertEqual(status, 400, out)
            v.cert_role("strict", ["default"], allowed_common_names=["someone-else"])
            self.assertEqual(v.login("cert", {"name": "strict"}, cert=True)[0], 403)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary")
    parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]], verbosity=2)
