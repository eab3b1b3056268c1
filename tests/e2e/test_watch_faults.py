#!/usr/bin/env python3
"""e2e: Kubernetes API faults. Dropped watch streams reconnect; 410 Expired (as an ERROR event or an
HTTP status) re-lists; 500s and 409s on writes are retried until the sync lands.
"""

import harness
from harness import b64, decode_data, external_secret, fake_store, ref, secret_path

NS = "e2e"
ES_COLLECTION = "/apis/external-secrets.io/v1/externalsecrets"
# Cluster-wide collections: only the daemon's list/watch requests use these paths (the harness
# reads namespaced object paths), so faults on them never hit the test's own requests.
INFORMER_LISTS = ("/api/v1/secrets", ES_COLLECTION, "/apis/external-secrets.io/v1/secretstores",
                  "/apis/external-secrets.io/v1/clustersecretstores")
INFORMER_PATHS = "^(%s)$" % "|".join(INFORMER_LISTS)


class WatchFaults(harness.E2ETestCase):

    def setUp(self):
        super().setUp()
        self.fake = self.cluster.fake
        self.cluster.apply(fake_store(NS, "store", {"k": "v1", "j": "w1"}))
        self.cluster.apply(external_secret(NS, "first", data=[ref("key", "k")], refresh="1h"))

    def running(self):
        d = self.start_daemon()
        self.wait_data("first", {"key": "v1"})
        self.wait_condition("first", "True", "SecretSynced")
        # Four informers: externalsecrets, secretstores, clustersecretstores, managed Secrets.
        self.assertTrue(self.fake.wait_watches(4), "the daemon keeps four watches open")
        return d

    def relists_since(self, seq):
        return [r for r in self.cluster.daemon_requests(seq)
                if r["method"] == "GET" and not r["watch"] and r["path"] in INFORMER_LISTS]

    def test_dropped_watches_reconnect_and_still_react(self):
        self.running()
        opened = self.fake.watches()["opened_total"]
        self.fake.drop_watches()
        self.cluster.apply(external_secret(NS, "second", data=[ref("key", "j")]))
        self.wait_data("second", {"key": "w1"})
        self.wait_until(lambda: self.fake.watches()["opened_total"] >= opened + 4,
                        what="four watches reopened")
        # Drift after the reconnect is still seen through the Secret watch.
        self.cluster.update(secret_path(NS, "first"), lambda s: s["data"].update(key=b64("x")))
        self.wait_data("first", {"key": "v1"})

    def expire_and_check(self, mode):
        self.running()
        seq = self.cluster.last_seq()
        # Move the global resourceVersion past what the informers have seen (they only learn it
        # from bookmarks), so that resuming after the compaction is 410 Expired for them.
        self.cluster.apply({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "bump", "namespace": NS}, "data": {"a": "b"}})
        self.fake.expire_watches(mode)
        self.cluster.apply(external_secret(NS, "second", data=[ref("key", "j")]))
        self.wait_data("second", {"key": "w1"})
        self.wait_until(lambda: self.relists_since(seq), what="a re-list after 410 Expired")
        self.cluster.delete(secret_path(NS, "first"))
        self.wait_data("first", {"key": "v1"})

    def test_expired_watch_event_relists_and_reacts(self):
        self.expire_and_check(None)

    def test_expired_watch_http_410_relists_and_reacts(self):
        self.expire_and_check("http")

    def test_changes_while_watches_are_down_are_not_lost(self):
        self.running()
        # Every watch request fails for a while; a change made meanwhile must still arrive.
        self.fake.fault(method="GET", path_regex=INFORMER_PATHS, status=500, count=6)
        self.fake.drop_watches()
        self.cluster.apply(external_secret(NS, "second", data=[ref("key", "j")]))
        self.wait_data("second", {"key": "w1"}, timeout=45)

    def test_secret_deleted_while_its_watch_is_down_is_recreated(self):
        # The Secret informer cannot resume (410) and its re-list fails a few times; the Secret is
        # deleted meanwhile. The re-list no longer contains it: that must count as a deletion.
        self.running()
        self.cluster.apply({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "bump", "namespace": NS}, "data": {"a": "b"}})
        self.fake.fault(method="GET", path_regex=r"^/api/v1/secrets$", status=500, count=3)
        self.fake.expire_watches()
        self.cluster.delete(secret_path(NS, "first"))
        self.wait_data("first", {"key": "v1"}, timeout=45)

    def test_500_on_secret_create_is_retried(self):
        self.fake.fault(method="POST", path_regex=r"^/api/v1/namespaces/%s/secrets$" % NS,
                        status=500, count=2)
        self.start_daemon()
        self.wait_data("first", {"key": "v1"}, timeout=45)
        self.wait_condition("first", "True", "SecretSynced")
        posts = [r for r in self.cluster.daemon_requests(0) if r["method"] == "POST" and
                 r["path"] == secret_path(NS)]
        self.assertEqual([r["status"] for r in posts][:2], [500, 500])
        self.assertEqual(posts[-1]["status"], 201)

    def test_500_on_secret_update_is_retried(self):
        self.cluster.apply(external_secret(NS, "first", data=[ref("key", "k")], refresh="1s"))
        self.running()
        self.fake.fault(method="PUT", path_regex=r"^/api/v1/namespaces/%s/secrets/first$" % NS,
                        status=500, count=2)
        self.cluster.apply(fake_store(NS, "store", {"k": "v2", "j": "w1"}))
        self.wait_data("first", {"key": "v2"}, timeout=45)
        self.wait_condition("first", "True", "SecretSynced")

    def test_409_conflicts_on_secret_writes_are_handled(self):
        self.cluster.apply(external_secret(NS, "first", data=[ref("key", "k")], refresh="1s"))
        self.running()
        self.fake.fault(method="PUT", path_regex=r"^/api/v1/namespaces/%s/secrets/first$" % NS,
                        status=409, count=2, reason="Conflict")
        self.cluster.apply(fake_store(NS, "store", {"k": "v2", "j": "w1"}))
        self.wait_data("first", {"key": "v2"}, timeout=45)
        self.assertEqual(decode_data(self.cluster.get(secret_path(NS, "first"))), {"key": "v2"})

    def test_failed_status_writes_are_retried(self):
        # The status is a merge patch; a 500 and a 409 on it must not leave the ExternalSecret
        # without a condition until its next refresh (1h here): the daemon syncs again soon.
        self.cluster.apply(external_secret(NS, "first", data=[ref("key", "k")], refresh="1h"))
        self.running()
        status_path = r"/externalsecrets/second/status$"
        self.fake.fault(method="PATCH", path_regex=status_path, status=500, count=1)
        self.fake.fault(method="PATCH", path_regex=status_path, status=409, count=1,
                        reason="Conflict")
        seq = self.cluster.last_seq()
        self.cluster.apply(external_secret(NS, "second", data=[ref("key", "j")], refresh="1h"))
        self.wait_condition("second", "True", "SecretSynced", timeout=45)
        patches = [r["status"] for r in self.cluster.daemon_requests(seq)
                   if r["method"] == "PATCH" and r["path"].endswith("/externalsecrets/second/status")]
        self.assertEqual(patches, [500, 409, 200], "both faults were hit, then the write landed")
        self.assertEqual(len(self.cluster.writes(seq, ("secrets",))), 1,
                         "one Secret create; the retries rewrote only the status")

    def test_500_on_initial_list_is_retried(self):
        self.fake.fault(method="GET", path_regex=r"^%s$" % ES_COLLECTION, status=500, count=2)
        self.start_daemon(ready=False).wait_metrics_port()
        self.wait_data("first", {"key": "v1"}, timeout=45)


if __name__ == "__main__":
    harness.main()
