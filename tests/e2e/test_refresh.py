#!/usr/bin/env python3
"""e2e: periodic refresh. Rotation reaches the Secret; unchanged refreshes write nothing at all;
an annotation change on the ExternalSecret forces a sync; history and status views record it.
"""

import datetime

import harness
from harness import (decode_data, es_path, event_text, external_secret, fake_store, ref,
                     secret_path)

NS = "e2e"
ALL_KINDS = ("secrets", "status", "events", "externalsecrets", "stores", "other")


def parse_ts(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class Refresh(harness.E2ETestCase):

    def setUp(self):
        super().setUp()
        self.cluster.apply(fake_store(NS, "store", {"k": "v1"}))

    def set_remote(self, value):
        self.cluster.apply(fake_store(NS, "store", {"k": value}))

    def test_rotation_reaches_the_secret_within_the_refresh_interval(self):
        self.cluster.apply(external_secret(NS, "app", data=[ref("key", "k")], refresh="1s"))
        self.start_daemon()
        first = self.wait_data("app", {"key": "v1"})
        self.set_remote("v2")
        second = self.wait_data("app", {"key": "v2"})
        self.assertNotEqual(first["metadata"]["resourceVersion"],
                            second["metadata"]["resourceVersion"])
        updated = self.wait_until(lambda: [e for e in self.cluster.events(NS, "app")
                                           if e.get("reason") == "Updated"], what="Updated event")
        self.assertEqual(event_text(updated[0]), "secret updated")
        self.wait_until(lambda: self.outcomes("app").count("written") >= 2,
                        what="two written history rows")
        self.assertEqual(decode_data(self.cluster.get(secret_path(NS, "app"))), {"key": "v2"})

    def test_unchanged_refreshes_write_nothing(self):
        self.cluster.apply(external_secret(NS, "app", data=[ref("key", "k")], refresh="1s"))
        d = self.start_daemon()
        self.wait_data("app", {"key": "v1"})
        self.wait_condition("app", "True", "SecretSynced")
        # Start counting once a first unchanged refresh is recorded: the first sync is complete.
        self.wait_until(lambda: "unchanged" in self.outcomes("app"),
                        what="a first unchanged refresh")
        seq = self.cluster.last_seq()
        secret_rv = self.cluster.get(secret_path(NS, "app"))["metadata"]["resourceVersion"]
        es_before = self.cluster.get(es_path(NS, "app"))
        writes_metric = d.metric("extsecretd_secret_writes_total")
        status_metric = d.metric("extsecretd_status_writes_total")
        base = self.outcomes("app").count("unchanged")

        self.wait_until(lambda: self.outcomes("app").count("unchanged") >= base + 3,
                        what="three more unchanged refreshes")
        self.assertEqual(self.cluster.writes(seq, ALL_KINDS), [],
                         "an unchanged refresh must not write anything to the API server")
        self.assertEqual(self.cluster.get(secret_path(NS, "app"))["metadata"]["resourceVersion"],
                         secret_rv)
        es_after = self.cluster.get(es_path(NS, "app"))
        self.assertEqual(es_after["metadata"]["resourceVersion"],
                         es_before["metadata"]["resourceVersion"])
        self.assertEqual(es_after["status"], es_before["status"])
        self.assertEqual(d.metric("extsecretd_secret_writes_total"), writes_metric)
        self.assertEqual(d.metric("extsecretd_status_writes_total"), status_metric)
        self.assertEqual(self.status_row("app")["write_count"], 1)
        self.assertEqual(self.status_row("app")["last_outcome"], "unchanged")

    def test_annotation_change_forces_an_immediate_sync(self):
        self.cluster.apply(external_secret(NS, "app", data=[ref("key", "k")], refresh="1h"))
        self.start_daemon()
        self.wait_data("app", {"key": "v1"})
        self.wait_condition("app", "True", "SecretSynced")
        # A store change alone waits for the next refresh (1h); the force-sync recipe does not.
        self.set_remote("v2")
        self.cluster.annotate_es(NS, "app", "force-sync", "1700000000")
        s = self.wait_data("app", {"key": "v2"})
        # No template: the ExternalSecret's annotations are copied to the Secret, as ESO does.
        self.assertEqual(s["metadata"]["annotations"].get("force-sync"), "1700000000")
        # The two changes arrive on different watches: when the annotation is seen first, the
        # forced sync may read the old store and is then run again for the store change.
        self.assertIn(self.outcomes("app").count("written"), (2, 3))

    def test_label_change_forces_an_immediate_sync(self):
        self.cluster.apply(external_secret(NS, "app", data=[ref("key", "k")], refresh="1h"))
        self.start_daemon()
        self.wait_data("app", {"key": "v1"})
        self.set_remote("v2")
        self.cluster.update(es_path(NS, "app"),
                            lambda o: o["metadata"].setdefault("labels", {}).update(team="a"))
        s = self.wait_data("app", {"key": "v2"})
        self.assertEqual(s["metadata"]["labels"].get("team"), "a", "ES labels go to the Secret")
        self.assertEqual(self.outcomes("app").count("written"), 2)

    def test_history_and_status_views(self):
        self.cluster.apply(external_secret(NS, "fast", data=[ref("key", "k")], refresh="1s"))
        self.cluster.apply(external_secret(NS, "slow", data=[ref("key", "k")], refresh="1h"))
        self.start_daemon()
        self.wait_data("fast", {"key": "v1"})
        self.wait_data("slow", {"key": "v1"})
        self.wait_until(lambda: "unchanged" in self.outcomes("fast"), what="unchanged refresh")
        self.set_remote("v2")
        self.wait_data("fast", {"key": "v2"})
        self.wait_until(lambda: self.outcomes("fast")[-1:] == ["unchanged"] and
                        self.outcomes("fast").count("written") == 2,
                        what="written, unchanged, written, unchanged history")

        rows = self.history("fast")
        outcomes = [r["outcome"] for r in rows]
        self.assertEqual(outcomes[0], "written")
        self.assertIn("unchanged", outcomes[1:outcomes.index("written", 1)])
        self.assertTrue(set(outcomes) <= {"written", "unchanged"}, outcomes)
        for r in rows:
            self.assertFalse(r["error"])
            self.assertGreaterEqual(r["duration_ms"], 0)
            parse_ts(r["at"])

        fast = self.status_row("fast")
        self.assertEqual((fast["write_count"], fast["consecutive_failures"]), (2, 0))
        slow = self.status_row("slow")
        self.assertEqual((slow["last_outcome"], slow["write_count"], slow["store"], slow["target"]),
                         ("written", 1, "SecretStore/store", "slow"))
        due = parse_ts(slow["next_due_at"]) - parse_ts(slow["last_success_at"])
        self.assertGreaterEqual(due, datetime.timedelta(minutes=54), "1h minus at most 10% jitter")
        self.assertLessEqual(due, datetime.timedelta(minutes=66), "1h plus at most 10% jitter")

    def test_refreshes_of_external_secrets_created_together_are_spread(self):
        # The fake provider does not batch reads: each refresh gets its own +-10% jitter, so
        # twenty ExternalSecrets synced in the same second do not all come due together.
        names = ["es%02d" % i for i in range(20)]
        for n in names:
            self.cluster.apply(external_secret(NS, n, data=[ref("key", "k")], refresh="1h"))
        self.start_daemon()
        for n in names:
            self.wait_data(n, {"key": "v1"})
        offsets = []
        for n in names:
            row = self.status_row(n)
            offsets.append(parse_ts(row["next_due_at"]) - parse_ts(row["last_success_at"]))
        for off in offsets:
            self.assertGreaterEqual(off, datetime.timedelta(minutes=54))
            self.assertLessEqual(off, datetime.timedelta(minutes=66))
        # Uniform draws over 12 minutes: all twenty within one minute is a 1e-20 chance.
        self.assertGreater(max(offsets) - min(offsets), datetime.timedelta(minutes=1), offsets)

    def test_created_once_and_interval_zero_ignore_spec_and_label_changes(self):
        # ESO: once synced, refreshPolicy CreatedOnce and a Periodic refreshInterval of 0 do not
        # sync again when the ExternalSecret's spec, labels or annotations change; OnChange does.
        self.cluster.apply(external_secret(NS, "once", data=[ref("key", "k")], refresh="1h",
                                           refreshPolicy="CreatedOnce"))
        self.cluster.apply(external_secret(NS, "zero", data=[ref("key", "k")], refresh="0"))
        self.cluster.apply(external_secret(NS, "onchange", data=[ref("key", "k")], refresh="0",
                                           refreshPolicy="OnChange"))
        self.start_daemon()
        for n in ("once", "zero", "onchange"):
            self.wait_data(n, {"key": "v1"})
        self.set_remote("v2")
        self.cluster.annotate_es(NS, "once", "force-sync", "1")
        self.cluster.apply(external_secret(NS, "zero", data=[ref("key", "k")], refresh="0",
                                           labels={"team": "a"}))
        # The events are handled in order: once "onchange" shows v2, the two changes before it
        # were seen and (had they queued a sync) synced first.
        self.cluster.annotate_es(NS, "onchange", "force-sync", "1")
        self.wait_data("onchange", {"key": "v2"})
        for n in ("once", "zero"):
            self.assertEqual(decode_data(self.cluster.get(secret_path(NS, n))), {"key": "v1"}, n)
            self.assertEqual(self.outcomes(n), ["written"], n)
        # Drift is still repaired: a deleted Secret comes back (with the current value).
        self.cluster.delete(secret_path(NS, "once"))
        self.wait_data("once", {"key": "v2"})


if __name__ == "__main__":
    harness.main()
