"""Shared leak checks of the canary tests (test_canary.py, test_vault_canary.py,
test_aws_canary.py).

A test sets `self.canaries` (unique strings: values and credentials) and calls check_everything()
while the daemon runs and check_after_stop() once it has stopped. Each canary is looked for
verbatim and base64-encoded in: the daemon's stderr/stdout, every ExternalSecret's status and
metadata, the namespace's Events, the metadata of the named target Secrets, /metrics, the
SQLite files next to --state (db, -wal, -shm) and the public views, and the output of the
`status` and `history` commands.
"""

import glob
import json
import os
import uuid

from harness import b64, es_path, secret_path


def canary(tag):
    return "canary-%s-%s" % (tag, uuid.uuid4().hex)


class CanaryChecks:
    """Mixin for harness.E2ETestCase subclasses."""

    canaries = ()
    markers = ()  # fixed substrings that must not appear either (e.g. a token format's prefix)

    def needles(self):
        out = list(self.markers)
        for c in self.canaries:
            out += [c, b64(c)]
        return out

    def assert_clean(self, where, text):
        data = text.encode() if isinstance(text, str) else text
        for n in self.needles():
            self.assertNotIn(n.encode(), data, "a secret leaked into %s" % where)

    def check_everything(self, d, ns, secrets, history_of):
        """Everything observable while daemon `d` runs; `secrets` are target Secret names."""
        self.assert_clean("daemon stderr", d.stderr_text())
        self.assert_clean("daemon stdout", "\n".join(d.out_lines))
        for es in self.cluster.fake.objects(es_path(ns)):
            name = es["metadata"]["name"]
            self.assert_clean("ExternalSecret %s status" % name, json.dumps(es.get("status")))
            self.assert_clean("ExternalSecret %s metadata" % name, json.dumps(es.get("metadata")))
        events = self.cluster.events(ns)
        self.assertTrue(events, "events were recorded")
        self.assert_clean("Events", json.dumps(events))
        for name in secrets:
            secret = self.cluster.get(secret_path(ns, name))
            self.assert_clean("Secret %s metadata" % name, json.dumps(secret["metadata"]))
        self.assert_clean("/metrics", d.metrics_text())
        self.check_state_files("while running")
        for args in (["status"], ["history"], ["history", "%s/%s" % (ns, history_of)]):
            r = self.cli(*args, "--state", self.state)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assert_clean("extsecretd %s" % " ".join(args), r.stdout + r.stderr)

    def check_after_stop(self, d):
        self.assert_clean("daemon stderr", d.stderr_text())
        self.assert_clean("daemon stdout", "\n".join(d.out_lines))
        self.check_state_files("after shutdown")

    def check_state_files(self, when):
        files = glob.glob(os.path.join(os.path.dirname(self.state), "*"))
        self.assertIn(self.state, files, "the state file exists")
        for f in sorted(set(files)):
            with open(f, "rb") as fh:
                self.assert_clean("%s %s" % (os.path.basename(f), when), fh.read())
        rows = self.sql("SELECT * FROM sync_history") + self.sql("SELECT * FROM sync_status")
        self.assert_clean("state views %s" % when, json.dumps(rows))
