#!/usr/bin/env python3
"""e2e: target.creationPolicy (Owner, Orphan, Merge, CreateOrMerge, None), target.deletionPolicy
(Delete, Merge, Retain) and target.immutable, with ESO v2.9 semantics (eso-api.md 2.4, 2.5).
"""

import harness
from harness import (CREATED_BY_LABEL, DATA_HASH_ANNOTATION, MANAGED_LABEL, b64, decode_data,
                     es_path, event_text, external_secret, fake_store, ready_condition, ref,
                     secret_path)

NS = "e2e"


def foreign_secret(name, data):
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": NS, "labels": {"app": "mine"}},
            "data": {k: b64(v) for k, v in data.items()}}


class CreationPolicy(harness.E2ETestCase):

    def setUp(self):
        super().setUp()
        self.cluster.apply(fake_store(NS, "store", {"k": "v1", "j": "w1"}))

    def es(self, name, policy, **target):
        target["creationPolicy"] = policy
        self.cluster.apply(external_secret(NS, name, data=[ref("key", "k")], target=target))

    def test_orphan_creates_without_owner_and_survives_deletion(self):
        self.es("orphan", "Orphan")
        self.start_daemon()
        s = self.wait_data("orphan", {"key": "v1"})
        labels = s["metadata"]["labels"]
        self.assertEqual(labels.get(MANAGED_LABEL), "true")
        self.assertNotIn(CREATED_BY_LABEL, labels)
        self.assertIn(DATA_HASH_ANNOTATION, s["metadata"]["annotations"])
        self.assertFalse(s["metadata"].get("ownerReferences"))
        self.wait_condition("orphan", "True", "SecretSynced")
        self.cluster.delete(es_path(NS, "orphan"))
        self.wait_until(lambda: self.cluster.get(es_path(NS, "orphan")) is None,
                        what="ExternalSecret gone (finalizer, if any, removed)")
        self.assertEqual(decode_data(self.cluster.get(secret_path(NS, "orphan"))), {"key": "v1"})

    def test_merge_without_a_secret_creates_nothing(self):
        self.es("merge", "Merge")
        self.start_daemon()
        es = self.wait_condition("merge", "True", "SecretMissing")
        self.assertEqual(ready_condition(es)["message"],
                         "secret will not be created due to CreationPolicy=Merge")
        self.assertIsNone(self.cluster.get(secret_path(NS, "merge")))

    def test_merge_into_an_existing_secret_keeps_foreign_keys(self):
        self.cluster.apply(foreign_secret("merge", {"foreign": "keep", "key": "old"}))
        self.es("merge", "Merge")
        self.start_daemon()
        s = self.wait_data("merge", {"foreign": "keep", "key": "v1"})
        self.assertEqual(s["metadata"]["labels"].get(MANAGED_LABEL), "true")
        self.assertEqual(s["metadata"]["labels"].get("app"), "mine")
        self.assertNotIn(CREATED_BY_LABEL, s["metadata"]["labels"])
        self.assertFalse(s["metadata"].get("ownerReferences"))
        self.wait_condition("merge", "True", "SecretSynced")

    def test_create_or_merge_creates_or_merges(self):
        self.cluster.apply(foreign_secret("existing", {"foreign": "keep"}))
        self.es("existing", "CreateOrMerge")
        self.es("fresh", "CreateOrMerge")
        self.start_daemon()
        self.wait_data("existing", {"foreign": "keep", "key": "v1"})
        s = self.wait_data("fresh", {"key": "v1"})
        self.assertFalse(s["metadata"].get("ownerReferences"))
        self.assertNotIn(CREATED_BY_LABEL, s["metadata"]["labels"])

    def test_none_touches_no_secret(self):
        self.cluster.apply(foreign_secret("existing", {"foreign": "keep"}))
        self.es("existing", "None")
        self.es("absent", "None")
        self.start_daemon()
        self.wait_condition("existing", "True", "SecretSynced")
        self.wait_condition("absent", "True", "SecretSynced")
        self.assertIsNone(self.cluster.get(secret_path(NS, "absent")))
        s = self.cluster.get(secret_path(NS, "existing"))
        self.assertEqual(decode_data(s), {"foreign": "keep"})
        self.assertNotIn(MANAGED_LABEL, s["metadata"].get("labels") or {})

    def test_immutable_secret_is_never_rewritten(self):
        self.cluster.apply(external_secret(NS, "imm", data=[ref("key", "k")], refresh="1s",
                                           target={"immutable": True}))
        self.start_daemon()
        s = self.wait_data("imm", {"key": "v1"})
        self.assertIs(s.get("immutable"), True)
        self.cluster.apply(fake_store(NS, "store", {"k": "v2", "j": "w1"}))
        es = self.wait_condition("imm", "False", "SecretSyncedError")
        self.assertEqual(ready_condition(es)["message"],
                         "could not update secret, target is immutable")
        now = self.cluster.get(secret_path(NS, "imm"))
        self.assertEqual(decode_data(now), {"key": "v1"})


class DeletionPolicy(harness.E2ETestCase):
    """The provider reports that remote keys are gone (NotFound)."""

    def setUp(self):
        super().setUp()
        self.cluster.apply(fake_store(NS, "store", {"a": "1", "b": "2"}))

    def remote(self, data):
        self.cluster.apply(fake_store(NS, "store", data))

    def es(self, policy, **spec):
        self.cluster.apply(external_secret(NS, "app", refresh="1s",
                                           target={"deletionPolicy": policy},
                                           data=[ref("a", "a"), ref("b", "b")], **spec))
        self.start_daemon()
        return self.wait_data("app", {"a": "1", "b": "2"})

    def test_delete_drops_missing_keys_then_deletes_the_secret(self):
        self.es("Delete")
        self.remote({"a": "1"})
        self.wait_data("app", {"a": "1"})
        missing = self.wait_until(lambda: [e for e in self.cluster.events(NS, "app")
                                           if e.get("reason") == "MissingProviderSecret"],
                                  what="MissingProviderSecret event")
        self.assertEqual(missing[0].get("type"), "Normal")
        self.remote({})
        self.wait_secret_gone("app")
        es = self.wait_condition("app", "True", "SecretDeleted")
        self.assertEqual(ready_condition(es)["message"],
                         "secret deleted due to DeletionPolicy=Delete")
        deleted = self.wait_until(lambda: [e for e in self.cluster.events(NS, "app")
                                           if e.get("reason") == "Deleted"], what="Deleted event")
        self.assertEqual(event_text(deleted[0]), "secret deleted due to DeletionPolicy=Delete")
        self.wait_until(lambda: "deleted" in self.outcomes("app"), what="a deleted history row")

    def test_merge_keeps_the_secret_and_removes_managed_keys(self):
        self.es("Merge")
        self.remote({"b": "2"})
        self.wait_data("app", {"b": "2"})
        self.remote({})
        s = self.wait_secret("app", lambda s: decode_data(s) == {})
        self.assertEqual(s["metadata"]["labels"].get(MANAGED_LABEL), "true")
        self.wait_condition("app", "True", "SecretSynced")

    def test_retain_fails_on_a_missing_key_and_keeps_the_secret(self):
        old = self.es("Retain")
        self.remote({"a": "1"})
        self.wait_condition("app", "False", "SecretSyncedError")
        now = self.cluster.get(secret_path(NS, "app"))
        self.assertEqual(now["metadata"]["resourceVersion"], old["metadata"]["resourceVersion"])

    def test_retain_with_an_empty_find_keeps_the_secret_untouched(self):
        self.cluster.apply(external_secret(NS, "found", refresh="1s", data_from=[
            {"find": {"name": {"regexp": "^[ab]$"}}}]))
        self.start_daemon()
        old = self.wait_data("found", {"a": "1", "b": "2"})
        self.remote({"unrelated": "x"})
        self.wait_condition("found", "True", "SecretSynced",
                            message="secret retained due to DeletionPolicy=Retain")
        now = self.cluster.get(secret_path(NS, "found"))
        self.assertEqual(now["metadata"]["resourceVersion"], old["metadata"]["resourceVersion"])
        self.assertEqual(decode_data(now), {"a": "1", "b": "2"})


if __name__ == "__main__":
    harness.main()
