#!/usr/bin/env python3
"""e2e: Vault values and Vault credentials never leak. A canary value in Vault, a static token,
an appRole secret_id, a userpass password and a JWT (each a unique canary) are used by the daemon,
including on failing paths (a wrong password, a missing property, a missing key); so are the
client tokens the fake Vault hands out at login (appRole, userPass, jwt, kubernetes; renewed with
renew-self; exact values from the fake's GET /_fake/tokens/issued, and every one starts with
"hvs."), and the service-account JWT of a Kubernetes TokenRequest (unknown to the test, but all
JWTs of both fakes start with a fixed header marker). Over TLS (VaultTlsCanary) the mTLS client
private key is used as the transport certificate of a token store and by cert auth, also on a
failing login. Afterwards none of them appears in the daemon's stderr/stdout, ExternalSecret
status or metadata, Events, the SQLite files (db, -wal, -shm), /metrics, or the
`status`/`history` output. The values do reach the Secrets (positive control).
"""

from pathlib import Path

import harness
from canary_support import CanaryChecks, canary
from harness import b64, external_secret, ref
from vault_support import NS, VaultCase, mint_jwt, sel

# Every client token the fake Vault issues is "hvs." + 24 characters (tests/fakes/vault/state.py
# add_token); JWT headers of both fakes encode {"alg":"HS256",... and start with this text.
VAULT_TOKEN_MARKER = "hvs."
JWT_HEADER_MARKER = "eyJhbGciOiJIUzI1NiIs"
PEM_KEY_MARKER = "PRIVATE KEY"
SHORT_TTL = 3   # renewed with renew-self every 2 s (2/3 of the TTL)


class IssuedTokens:
    """Mixin: the exact login tokens of the fake Vault as canaries."""

    def issued(self, *paths):
        """The fake's login tokens; asserts at least one per login path in `paths`."""
        issued = self.vault.issued_tokens()
        for path in paths:
            self.assertTrue([t for t in issued if t["path"] == path],
                            "positive control: a token was issued by %s" % path)
        used = {r.get("token_accessor") for r in self.vault_requests()
                if r["path"].startswith("/v1/secret/")}
        self.assertTrue(used & {t["accessor"] for t in issued},
                        "positive control: the daemon read with a login token")
        # The token and its random part alone (a leak without the "hvs." prefix is one too).
        return [x for t in issued for x in (t["token"], t["token"].split(".", 1)[-1])]


class VaultCanary(IssuedTokens, CanaryChecks, VaultCase):

    markers = (VAULT_TOKEN_MARKER, JWT_HEADER_MARKER)

    def es(self, name, store, data):
        self.cluster.apply(external_secret(NS, name, store=store, refresh="1s",
                                           target={"name": name}, data=data))

    def test_values_and_credentials_only_reach_the_secret(self):
        value, secret_id, password = canary("value"), canary("secretid"), canary("password")
        wrong_password = canary("wrong")
        jwt = mint_jwt({"sub": "system:serviceaccount:%s:canary" % NS, "aud": ["vault"],
                        "jti": canary("jti"), "exp": 4102444800, "iat": 1700000000})
        token = self.new_token(token=canary("token"))
        self.put_kv("app", {"v": value, "nested": {"inner": value}})
        self.auth_role("approle", role="c", role_id="rid-c", secret_id=secret_id,
                       token_ttl=SHORT_TTL, token_max_ttl=3600)
        self.auth_role("userpass", username="carol", password=password, token_ttl=3600)
        self.auth_role("jwt", role="c", bound_audiences=["vault"], token_ttl=3600)
        self.auth_role("kubernetes", role="c", bound_audiences=["vault"],
                       bound_service_account_names=["canary-sa"],
                       bound_service_account_namespaces=[NS], token_ttl=3600)
        self.service_account("canary-sa")
        self.put_secret("creds", {"token": token, "secret-id": secret_id, "password": password,
                                  "wrong": wrong_password, "jwt": jwt})
        self.canaries = [value, secret_id, password, wrong_password, jwt, token]

        self.store({"tokenSecretRef": sel("creds", "token")}, name="token")
        self.store({"appRole": {"roleId": "rid-c", "secretRef": sel("creds", "secret-id")}},
                   name="approle")
        self.store({"userPass": {"username": "carol", "secretRef": sel("creds", "password")}},
                   name="userpass")
        self.store({"jwt": {"role": "c", "secretRef": sel("creds", "jwt")}}, name="jwt")
        self.store({"kubernetes": {"role": "c", "serviceAccountRef": {
            "name": "canary-sa", "audiences": ["vault"]}}}, name="kubernetes")
        self.store({"userPass": {"username": "carol", "secretRef": sel("creds", "wrong")}},
                   name="wrong")
        good = ("token", "approle", "userpass", "jwt", "kubernetes")
        for store in good:
            self.es(store, store, [ref("v", "app", property="v")])
        self.es("wrong", "wrong", [ref("v", "app", property="v")])
        self.es("no-property", "token", [ref("v", "app", property="nested.missing")])
        self.es("no-key", "token", [ref("v", "no/such/key", property="v")])

        d = self.start_daemon()
        for store in good:
            s = self.wait_data(store, {"v": value})
            self.assertEqual(s["data"]["v"], b64(value), "positive control: the value arrives")
        for name in ("wrong", "no-property", "no-key"):
            self.wait_condition(name, "False", "SecretSyncedError")
        self.wait_until(lambda: [e for e in self.cluster.events(NS, "wrong")
                                 if e.get("type") == "Warning"], what="Warning events")
        self.wait_until(lambda: "unchanged" in self.outcomes("token")[-1:],
                        what="a refresh after the first sync")
        self.wait_until(lambda: self.stats()["renewals"] >= 1,
                        what="a renew-self of the short-lived appRole token")
        self.assertTrue([r for r in self.cluster.daemon_requests() if r["method"] == "POST" and
                         r["path"].endswith("/serviceaccounts/canary-sa/token")],
                        "positive control: a TokenRequest JWT was used")
        login_paths = ["auth/%s/login" % m for m in ("approle", "userpass", "jwt", "kubernetes")]
        self.canaries += self.issued(*login_paths)

        self.check_everything(d, NS, good, "wrong")
        self.stop_daemon(d)
        self.canaries += self.issued(*login_paths)   # also any login after the checks above
        self.check_after_stop(d)


class VaultTlsCanary(IssuedTokens, CanaryChecks, VaultCase):
    TLS = True
    markers = (VAULT_TOKEN_MARKER, PEM_KEY_MARKER)

    def es(self, name, store, data):
        self.cluster.apply(external_secret(NS, name, store=store, refresh="1s",
                                           target={"name": name}, data=data))

    def test_mtls_client_key_never_leaks(self):
        value = canary("value")
        key_pem = Path(self.vault.client_key).read_text()
        body = [line for line in key_pem.splitlines() if line and not line.startswith("-----")]
        self.assertTrue(body, "the client key is a PEM")
        self.put_kv("app", {"v": value})
        token = self.new_token(token=canary("token"))
        self.auth_role("cert", name="canary-cert", token_ttl=3600)
        self.put_secret("client", {"tls.crt": Path(self.vault.client_cert).read_text(),
                                   "tls.key": key_pem})
        self.put_secret("creds", {"token": token})
        # The key as a whole (base64 body without line breaks) and each of its lines, so that
        # a leak with escaped or dropped line breaks is found too.
        self.canaries = [value, token, "".join(body)] + body

        ca = b64(Path(self.vault.ca_file).read_text())
        tls = {"certSecretRef": sel("client", "tls.crt"), "keySecretRef": sel("client", "tls.key")}
        self.store({"tokenSecretRef": sel("creds", "token")}, name="mtls", caBundle=ca, tls=tls)
        self.store({"cert": {"vaultRole": "canary-cert", "clientCert": sel("client", "tls.crt"),
                             "secretRef": sel("client", "tls.key")}}, name="cert", caBundle=ca)
        self.store({"cert": {"vaultRole": "no-such-role", "clientCert": sel("client", "tls.crt"),
                             "secretRef": sel("client", "tls.key")}}, name="cert-wrong",
                   caBundle=ca)
        good = ("mtls", "cert")
        for store in good:
            self.es(store, store, [ref("v", "app", property="v")])
        self.es("cert-wrong", "cert-wrong", [ref("v", "app", property="v")])
        self.es("no-key", "mtls", [ref("v", "no/such/key", property="v")])

        d = self.start_daemon()
        for store in good:
            self.wait_data(store, {"v": value})
        for name in ("cert-wrong", "no-key"):
            self.wait_condition(name, "False", "SecretSyncedError")
            self.wait_until(lambda: [e for e in self.cluster.events(NS, name)
                                     if e.get("type") == "Warning"],
                            what="a Warning event for %s" % name)
        self.wait_until(lambda: "unchanged" in self.outcomes("mtls")[-1:],
                        what="a refresh after the first sync")
        self.assertGreaterEqual(self.stats()["login_failures"].get("cert/cert", 0), 1,
                                "positive control: the failing cert login reached Vault")
        self.canaries += self.issued("auth/cert/login")

        self.check_everything(d, NS, good, "cert-wrong")
        self.stop_daemon(d)
        self.canaries += self.issued("auth/cert/login")
        self.check_after_stop(d)


if __name__ == "__main__":
    harness.main()
