#!/usr/bin/env python3
"""e2e: failures. A missing store, an invalid spec, a missing remote key or a broken provider give
Ready=False (reason SecretSyncedError) with ESO's message and a Warning event, never touch the
existing Secret, and recover by themselves once the cause is fixed (retry with backoff).
"""

import harness
from harness import (decode_data, es_path, event_text, external_secret, fake_store,
                     ready_condition, ref, secret_path, store_path)

NS = "e2e"
PROVIDER_MSG = "could not get secret data from provider"
RECOVER = 60.0   # backoff starts at 1 s and doubles: a few failures fit well within this


class Errors(harness.E2ETestCase):

    def warnings(self, name):
        return [e for e in self.cluster.events(NS, name) if e.get("type") == "Warning"]

    def wait_warning(self, name, needle):
        return self.wait_until(lambda: [e for e in self.warnings(name)
                                        if needle.lower() in event_text(e).lower()],
                               what="Warning event about %s containing %r" % (name, needle))

    def synced(self):
        self.cluster.apply(fake_store(NS, "store", {"k": "v1"}))
        self.cluster.apply(external_secret(NS, "app", data=[ref("key", "k")], refresh="1h"))
        d = self.start_daemon()
        s = self.wait_data("app", {"key": "v1"})
        self.wait_condition("app", "True", "SecretSynced")
        return d, s

    def assert_untouched(self, old):
        now = self.cluster.get(secret_path(NS, old["metadata"]["name"]))
        self.assertEqual(now["metadata"]["resourceVersion"], old["metadata"]["resourceVersion"])
        self.assertEqual(decode_data(now), decode_data(old))

    def test_missing_store_fails_and_recovers_when_the_store_appears(self):
        self.cluster.apply(external_secret(NS, "app", store="nope", data=[ref("key", "k")]))
        d = self.start_daemon()
        es = self.wait_condition("app", "False", "SecretSyncedError")
        self.assertEqual(ready_condition(es)["message"], PROVIDER_MSG)
        ev = self.wait_warning("app", 'could not get SecretStore "nope"')
        self.assertEqual(ev[0].get("reason"), "UpdateFailed")
        self.assertIsNone(self.cluster.get(secret_path(NS, "app")))
        row = self.wait_until(lambda: self.status_row("app"), what="sync_status row")
        self.assertEqual(row["last_outcome"], "failed")
        self.assertGreaterEqual(row["consecutive_failures"], 1)
        self.assertIn("nope", row["last_error"])
        failed = [r for r in self.history("app") if r["outcome"] == "failed"]
        self.assertTrue(failed and failed[0]["error"], "a failed history row with the error")
        self.assertGreaterEqual(d.metric("externalsecret_sync_calls_error") or 0, 1)
        self.assertEqual(d.metric("externalsecret_status_condition", name="app", namespace=NS,
                                  condition="Ready", status="False"), 1.0)

        self.cluster.apply(fake_store(NS, "nope", {"k": "finally"}))
        self.wait_data("app", {"key": "finally"}, timeout=RECOVER)
        self.wait_condition("app", "True", "SecretSynced")
        self.assertEqual(self.status_row("app")["consecutive_failures"], 0)

    def test_malformed_refresh_interval_is_a_condition_not_a_default(self):
        self.cluster.apply(fake_store(NS, "store", {"k": "v1"}))
        self.cluster.apply(external_secret(NS, "app", data=[ref("key", "k")], refresh="every hour"))
        self.start_daemon()
        es = self.wait_condition("app", "False", "SecretSyncedError")
        self.assertTrue(ready_condition(es).get("message"))
        self.wait_warning("app", "refresh")
        self.assertIsNone(self.cluster.get(secret_path(NS, "app")))

    def test_invalid_spec_keeps_the_existing_secret(self):
        _, old = self.synced()
        self.cluster.update(es_path(NS, "app"), lambda o: o["spec"].update(refreshInterval="1x"))
        self.wait_condition("app", "False", "SecretSyncedError")
        self.assert_untouched(old)
        self.cluster.update(es_path(NS, "app"), lambda o: o["spec"].update(refreshInterval="1h"))
        self.wait_condition("app", "True", "SecretSynced")

    def test_no_data_and_no_data_from_is_rejected(self):
        self.cluster.apply(fake_store(NS, "store", {"k": "v1"}))
        self.cluster.apply(external_secret(NS, "app"))
        self.start_daemon()
        self.wait_condition("app", "False", "SecretSyncedError")
        self.assertIsNone(self.cluster.get(secret_path(NS, "app")))

    def test_missing_remote_key_keeps_the_existing_secret(self):
        _, old = self.synced()
        self.cluster.update(es_path(NS, "app"),
                            lambda o: o["spec"]["data"][0]["remoteRef"].update(key="no-such-key"))
        es = self.wait_condition("app", "False", "SecretSyncedError")
        self.assertEqual(ready_condition(es)["message"], PROVIDER_MSG)
        self.wait_warning("app", "no-such-key")
        self.assert_untouched(old)

    def test_template_is_not_supported_yet(self):
        self.cluster.apply(fake_store(NS, "store", {"k": "v1"}))
        self.cluster.apply(external_secret(NS, "app", data=[ref("key", "k")], target={
            "template": {"data": {"out": "value: {{ .key }}"}}}))
        self.start_daemon()
        self.wait_condition("app", "False", "SecretSyncedError")
        self.wait_warning("app", "not supported")
        self.assertIsNone(self.cluster.get(secret_path(NS, "app")))

    def test_template_added_later_keeps_the_existing_secret(self):
        _, old = self.synced()
        self.cluster.update(es_path(NS, "app"), lambda o: o["spec"]["target"].update(
            template={"data": {"out": "{{ .key }}"}}))
        self.wait_condition("app", "False", "SecretSyncedError")
        self.assert_untouched(old)

    def test_provider_error_keeps_the_secret_and_recovers(self):
        _, old = self.synced()
        broken = fake_store(NS, "store", {})
        broken["spec"]["provider"] = {"no-such-provider": {}}
        self.cluster.apply(broken)
        self.cluster.annotate_es(NS, "app", "force-sync", "1")   # sync now; the store alone waits
        es = self.wait_condition("app", "False", "SecretSyncedError")
        self.assertEqual(ready_condition(es)["message"], PROVIDER_MSG)
        self.assert_untouched(old)
        self.assertTrue(self.warnings("app") or self.wait_until(lambda: self.warnings("app")))

        self.cluster.apply(fake_store(NS, "store", {"k": "v2"}))
        s = self.wait_data("app", {"key": "v2"}, timeout=RECOVER)
        self.assertEqual(s["metadata"]["annotations"].get("force-sync"), "1")
        self.wait_condition("app", "True", "SecretSynced")

    def test_store_deleted_after_a_sync_keeps_the_secret_and_repeats_no_writes(self):
        _, old = self.synced()
        self.cluster.delete(store_path(NS, "store"))
        seq = self.cluster.last_seq()
        self.cluster.annotate_es(NS, "app", "force-sync", "1")   # sync now; the store alone waits
        self.wait_condition("app", "False", "SecretSyncedError")
        self.wait_warning("app", 'could not get SecretStore "store"')
        # Three more failed attempts (backoff 1 s, 2 s, 4 s) with the same error: the status and
        # the Warning event were written once, and the Secret never.
        self.wait_until(lambda: (self.status_row("app") or {}).get("consecutive_failures", 0) >= 4,
                        timeout=RECOVER, what="four failed attempts")
        status_writes = [r for r in self.cluster.writes(seq, ("status",))
                         if "/externalsecrets/app/" in r["path"]]
        self.assertEqual(len(status_writes), 1, status_writes)
        self.assertEqual(len(self.warnings("app")), 1)
        self.assertEqual(self.cluster.writes(seq, ("secrets",)), [])
        self.assert_untouched(old)
        self.cluster.apply(fake_store(NS, "store", {"k": "v2"}))
        self.wait_data("app", {"key": "v2"}, timeout=RECOVER)
        self.wait_condition("app", "True", "SecretSynced")


if __name__ == "__main__":
    harness.main()
