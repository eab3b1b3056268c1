#!/usr/bin/env python3
"""e2e: Vault values and Vault credentials never leak. A canary value in Vault, a static token,
an appRole secret_id, a userpass password and a JWT (each a unique canary) are used by the daemon,
including on failing paths (a wrong password, a missing property, a missing key); afterwards none
of them appears in the daemon's stderr/stdout, ExternalSecret status or metadata, Events, the
SQLite files (db, -wal, -shm), /metrics, or the `status`/`history` output. The value does reach
the Secret (positive control).
"""

import harness
from canary_support import CanaryChecks, canary
from harness import b64, external_secret, ref
from vault_support import NS, VaultCase, mint_jwt, sel


class VaultCanary(CanaryChecks, VaultCase):

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
        self.auth_role("approle", role="c", role_id="rid-c", secret_id=secret_id, token_ttl=3600)
        self.auth_role("userpass", username="carol", password=password, token_ttl=3600)
        self.auth_role("jwt", role="c", bound_audiences=["vault"], token_ttl=3600)
        self.put_secret("creds", {"token": token, "secret-id": secret_id, "password": password,
                                  "wrong": wrong_password, "jwt": jwt})
        self.canaries = [value, secret_id, password, wrong_password, jwt, token]

        self.store({"tokenSecretRef": sel("creds", "token")}, name="token")
        self.store({"appRole": {"roleId": "rid-c", "secretRef": sel("creds", "secret-id")}},
                   name="approle")
        self.store({"userPass": {"username": "carol", "secretRef": sel("creds", "password")}},
                   name="userpass")
        self.store({"jwt": {"role": "c", "secretRef": sel("creds", "jwt")}}, name="jwt")
        self.store({"userPass": {"username": "carol", "secretRef": sel("creds", "wrong")}},
                   name="wrong")
        for store in ("token", "approle", "userpass", "jwt"):
            self.es(store, store, [ref("v", "app", property="v")])
        self.es("wrong", "wrong", [ref("v", "app", property="v")])
        self.es("no-property", "token", [ref("v", "app", property="nested.missing")])
        self.es("no-key", "token", [ref("v", "no/such/key", property="v")])

        d = self.start_daemon()
        for store in ("token", "approle", "userpass", "jwt"):
            s = self.wait_data(store, {"v": value})
            self.assertEqual(s["data"]["v"], b64(value), "positive control: the value arrives")
        for name in ("wrong", "no-property", "no-key"):
            self.wait_condition(name, "False", "SecretSyncedError")
        self.wait_until(lambda: [e for e in self.cluster.events(NS, "wrong")
                                 if e.get("type") == "Warning"], what="Warning events")
        self.wait_until(lambda: "unchanged" in self.outcomes("token")[-1:],
                        what="a refresh after the first sync")

        self.check_everything(d, NS, ("token", "approle", "userpass", "jwt"), "wrong")
        self.stop_daemon(d)
        self.check_after_stop(d)

if __name__ == "__main__":
    harness.main()
