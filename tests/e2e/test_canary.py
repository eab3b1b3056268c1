#!/usr/bin/env python3
"""e2e: secret values never leak. Unique canary values are synced, rotated and pushed through
failing paths (bad property, bad base64); they must reach the Secret and nothing else: not the
daemon's stderr/stdout, ExternalSecret status, Events, the SQLite files (db, -wal, -shm),
/metrics, or the `status`/`history` commands.
"""

import json

import harness
from canary_support import CanaryChecks, canary
from harness import b64, decode_data, external_secret, fake_store, ref, secret_path

NS = "e2e"


class Canary(CanaryChecks, harness.E2ETestCase):

    def store(self, first, token, bad_b64):
        return fake_store(NS, "store", {
            "k": first, "cfg": json.dumps({"token": token}), "enc": bad_b64})

    def test_canary_only_reaches_the_secret(self):
        c1, c2, c3, c4 = canary("one"), canary("two"), canary("json"), canary("b64")
        bad_b64 = "!!%s!!" % c4
        self.canaries = [c1, c2, c3, c4, bad_b64]
        self.cluster.apply(self.store(c1, c3, bad_b64))
        self.cluster.apply(external_secret(NS, "app", refresh="1s", data=[ref("key", "k")],
                                           data_from=[{"extract": {"key": "cfg"}}]))
        # Failing paths whose error text must not quote the value.
        self.cluster.apply(external_secret(NS, "bad-property", data=[
            ref("x", "cfg", property="no.such.path")]))
        self.cluster.apply(external_secret(NS, "bad-base64", data=[
            ref("x", "enc", decodingStrategy="Base64")]))
        self.cluster.apply(external_secret(NS, "not-json", data=[ref("x", "k", property="a")]))
        d = self.start_daemon()
        s = self.wait_data("app", {"key": c1, "token": c3})
        self.assertEqual(s["data"]["key"], b64(c1), "positive control: the Secret holds the value")
        for name in ("bad-property", "bad-base64", "not-json"):
            self.wait_condition(name, "False", "SecretSyncedError")
        # Rotation to a second canary.
        self.cluster.apply(self.store(c2, c3, bad_b64))
        self.wait_data("app", {"key": c2, "token": c3})
        self.wait_until(lambda: "unchanged" in self.outcomes("app")[-1:], what="a refresh after it")
        self.wait_until(lambda: [e for e in self.cluster.events(NS, "bad-base64")
                                 if e.get("type") == "Warning"], what="Warning events")

        self.check_everything(d, NS, ("app",), "app")
        secret = self.cluster.get(secret_path(NS, "app"))
        self.assertIn(b64(self.canaries[1]), json.dumps(secret["data"]))
        # The decoded value is not in the recorded history either.
        rows = self.sql("SELECT * FROM sync_history") + self.sql("SELECT * FROM sync_status")
        self.assertNotIn(decode_data(secret)["key"], json.dumps(rows))
        self.stop_daemon(d)
        self.check_after_stop(d)

if __name__ == "__main__":
    harness.main()
