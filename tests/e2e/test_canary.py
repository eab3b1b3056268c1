#!/usr/bin/env python3
"""e2e: secret values never leak. Unique canary values are synced, rotated and pushed through
failing paths (bad property, bad base64); they must reach the Secret and nothing else: not the
daemon's stderr/stdout, ExternalSecret status, Events, the SQLite files (db, -wal, -shm),
/metrics, or the `status`/`history` commands.
"""

import glob
import json
import os
import uuid

import harness
from harness import b64, decode_data, es_path, external_secret, fake_store, ref, secret_path

NS = "e2e"


def canary(tag):
    return "canary-%s-%s" % (tag, uuid.uuid4().hex)


class Canary(harness.E2ETestCase):

    def needles(self):
        out = []
        for c in self.canaries:
            out += [c, b64(c)]
        return out

    def assert_clean(self, where, text):
        data = text.encode() if isinstance(text, str) else text
        for n in self.needles():
            self.assertNotIn(n.encode(), data, "a secret value leaked into %s" % where)

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
        secret = self.cluster.get(secret_path(NS, "app"))
        self.assert_clean("Secret metadata", json.dumps(secret["metadata"]))
        self.assertIn(b64(self.canaries[1]), json.dumps(secret["data"]))
        self.assert_clean("/metrics", d.metrics_text())
        self.check_state_files("while running")
        for args in (["status"], ["history"], ["history", "%s/app" % NS]):
            r = self.cli(*args, "--state", self.state)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assert_clean("extsecretd %s" % " ".join(args), r.stdout + r.stderr)

    def check_state_files(self, when):
        files = glob.glob(os.path.join(os.path.dirname(self.state), "*"))
        self.assertTrue(any(f == self.state for f in files), "the state file exists")
        for f in sorted(set(files)):
            with open(f, "rb") as fh:
                self.assert_clean("%s %s" % (os.path.basename(f), when), fh.read())
        # The values are not in the Secret's recorded history either (decoded view).
        rows = self.sql("SELECT * FROM sync_history") + self.sql("SELECT * FROM sync_status")
        self.assert_clean("state views %s" % when, json.dumps(rows))
        self.assertNotIn(decode_data(self.cluster.get(secret_path(NS, "app")))["key"],
                         json.dumps(rows))


if __name__ == "__main__":
    harness.main()
