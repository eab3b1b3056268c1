#!/usr/bin/env python3
"""e2e: drift. An edited or deleted managed Secret is repaired from the watch, long before the
refresh interval (1h here); with creationPolicy Orphan it is only repaired by the next refresh.
"""

import harness
from harness import MANAGED_LABEL, b64, decode_data, external_secret, fake_store, ref, secret_path

NS = "e2e"


class Drift(harness.E2ETestCase):

    def setUp(self):
        super().setUp()
        self.cluster.apply(fake_store(NS, "store", {"k": "v1", "other": "o"}))

    def synced(self, name="app", policy="Owner"):
        self.cluster.apply(external_secret(NS, name, data=[ref("key", "k")], refresh="1h",
                                           target={"creationPolicy": policy}))
        d = self.start_daemon()
        self.wait_data(name, {"key": "v1"})
        self.wait_condition(name, "True", "SecretSynced")
        return d

    def tamper(self, name, mutate):
        self.cluster.update(secret_path(NS, name), mutate)

    def test_edited_data_is_repaired_from_the_watch(self):
        self.synced()
        before = len(self.history("app"))
        self.tamper("app", lambda s: s["data"].update({"key": b64("tampered")}))
        self.wait_data("app", {"key": "v1"})
        self.wait_until(lambda: "written" in self.outcomes("app")[before:],
                        what="a written history row for the repair")

    def test_foreign_key_added_to_an_owned_secret_is_removed(self):
        self.synced()
        self.tamper("app", lambda s: s["data"].update({"extra": b64("x")}))
        self.wait_data("app", {"key": "v1"})

    def test_deleted_secret_is_recreated(self):
        self.synced()
        old = self.cluster.get(secret_path(NS, "app"))
        self.cluster.delete(secret_path(NS, "app"))
        s = self.wait_secret("app")
        self.assertNotEqual(s["metadata"]["uid"], old["metadata"]["uid"])
        self.assertEqual(decode_data(s), {"key": "v1"})
        self.assertEqual(s["metadata"]["labels"], old["metadata"]["labels"])
        self.assertEqual(s["metadata"]["ownerReferences"], old["metadata"]["ownerReferences"])

    def test_secret_that_lost_the_managed_label_is_taken_back(self):
        self.synced()

        def strip(s):
            del s["metadata"]["labels"][MANAGED_LABEL]
            s["data"]["key"] = b64("tampered")
        self.tamper("app", strip)
        s = self.wait_secret("app", lambda s: (s["metadata"].get("labels") or {}).get(MANAGED_LABEL)
                             == "true" and decode_data(s) == {"key": "v1"})
        self.assertEqual(s["metadata"]["labels"][MANAGED_LABEL], "true")

    def test_orphan_policy_is_not_repaired_until_the_next_refresh(self):
        self.synced("orphan", policy="Orphan")
        self.tamper("orphan", lambda s: s["data"].update({"key": b64("tampered")}))
        before = len(self.history("orphan"))
        # A sentinel synced after the edit: the Secret watch delivered the edit before the
        # sentinel's Secret, so by now the daemon has seen the tampering and ignored it.
        self.cluster.apply(external_secret(NS, "sentinel", data=[ref("key", "other")]))
        self.wait_data("sentinel", {"key": "o"})
        self.wait_condition("sentinel", "True", "SecretSynced")
        self.assertEqual(decode_data(self.cluster.get(secret_path(NS, "orphan"))),
                         {"key": "tampered"})
        self.assertEqual([o for o in self.outcomes("orphan")[before:] if o != "skipped"], [],
                         "no sync of the Orphan ExternalSecret because of the edit")
        # The next refresh (forced through an annotation change) restores the data.
        self.cluster.annotate_es(NS, "orphan", "force-sync", "1")
        s = self.wait_secret("orphan", lambda s: decode_data(s) == {"key": "v1"})
        self.assertFalse(s["metadata"].get("ownerReferences"))


if __name__ == "__main__":
    harness.main()
