#!/usr/bin/env python3
"""e2e: Vault values and Vault credentials never leak. A canary value in Vault, a static token,
an appRole secret_id, a userpass password and a JWT (each a unique canary) are used by the daemon,
including on failing paths (a wrong password, a missing property, a missing key); afterwards none
of them appears in the daemon's stderr/stdout, ExternalSecret status or metadata, Events, the
SQLite files (db, -wal, -shm), /metrics, or the `status`/`history` output. The value does reach
the Secret (positive control).
"""

import glob
import json
import os
import uuid

import harness
from harness import b64, es_path, external_secret, ref, secret_path
from vault_support import NS, VaultCase, mint_jwt, sel


def canary(tag):
    return "canary-%s-%s" % (tag, uuid.uuid4().hex)


class VaultCanary(VaultCase):

    def needles(self):
        out = []
        for c in self.canaries:
            out += [c, b64(c)]
        return out

    def assert_clean(self, where, text):
        data = text.encode() if isinstance(text, str) else text
        for n in self.needles():
            self.assertNotIn(n.encode(), data, "a secret leaked into %s" % where)

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

        self.check_everything(d)
        self.stop_daemon(d)
        self.assert_clean("daemon stderr", d.stderr_text())
        self.assert_clean("daemon stdout", "\n".join(d.out_lines))
        self.check_state_files("after shutdown")

    def check_everything(self, d):
        self.assert_clean("daemon stderr", d.stderr_text())
        self.assert_clean("daemon stdout", "\n".join(d.out_lines))
        for es in self.cluster.fake.objects(es_path(NS)):
            self.assert_clean("ExternalSecret %s status" % es["metadata"]["name"],
                              json.dumps(es.get("status")))
            self.assert_clean("ExternalSecret %s metadata" % es["metadata"]["name"],
                              json.dumps(es.get("metadata")))
        events = self.cluster.events(NS)
        self.assertTrue(events, "events were recorded")
        self.assert_clean("Events", json.dumps(events))
        for name in ("token", "approle", "userpass", "jwt"):
            secret = self.cluster.get(secret_path(NS, name))
            self.assert_clean("Secret %s metadata" % name, json.dumps(secret["metadata"]))
        self.assert_clean("/metrics", d.metrics_text())
        self.check_state_files("while running")
        for args in (["status"], ["history"], ["history", "%s/wrong" % NS]):
            r = self.cli(*args, "--state", self.state)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assert_clean("extsecretd %s" % " ".join(args), r.stdout + r.stderr)

    def check_state_files(self, when):
        files = glob.glob(os.path.join(os.path.dirname(self.state), "*"))
        self.assertIn(self.state, files, "the state file exists")
        for f in sorted(files):
            with open(f, "rb") as fh:
                self.assert_clean("%s %s" % (os.path.basename(f), when), fh.read())
        rows = self.sql("SELECT * FROM sync_history") + self.sql("SELECT * FROM sync_status")
        self.assert_clean("state views %s" % when, json.dumps(rows))


if __name__ == "__main__":
    harness.main()
