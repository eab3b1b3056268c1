#!/usr/bin/env python3
"""e2e: core contract gaps. Secrets are listed/watched only with the `managed=true` selector and
an unrelated Secret is never read; overdue ExternalSecrets after a restart are spread over the
restart window and not rewritten; a slow store cannot take the in-flight slots of a healthy one;
403/422 on the Secret write give Ready=False, keep the Secret and recover; a Secret written by
ESO is adopted with one metadata update and nothing more.
"""

import datetime
import re
import sqlite3
import time
from urllib.parse import parse_qs

import harness
from harness import (CREATED_BY_LABEL, DATA_HASH_ANNOTATION, MANAGED_LABEL, b64, decode_data,
                     es_path, event_text, external_secret, fake_store, ready_condition, ref,
                     secret_path, sha3_224_hex)
from vault_support import VaultCase

NS = "e2e"
SELECTOR = MANAGED_LABEL + "=true"
SECRET_COLLECTION = re.compile(r"^/api/v1(/namespaces/[^/]+)?/secrets$")
UPDATE_MSG = "could not update secret"
RECOVER = 60.0   # backoff starts at 1 s and doubles: a few failures fit well within this


def iso_ms(text):
    """Unix ms of the state views' ISO-8601 UTC text (2026-11-28T01:02:03.456Z)."""
    at = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(at.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def eso_data_hash(data):
    """ESO's utils.ObjectHash(secret.Data): SHA3-224 of Go's "%+v" of map[string][]byte."""
    parts = ["%s:[%s]" % (k, " ".join(str(b) for b in data[k].encode())) for k in sorted(data)]
    return sha3_224_hex("map[%s]" % " ".join(parts))


def rfc3339(ts):
    return datetime.datetime.fromtimestamp(int(ts), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class CoreContract(harness.E2ETestCase):

    def synced(self, refresh="1h"):
        self.cluster.apply(fake_store(NS, "store", {"k": "v1"}))
        self.cluster.apply(external_secret(NS, "app", data=[ref("key", "k")], refresh=refresh))
        d = self.start_daemon()
        s = self.wait_data("app", {"key": "v1"})
        self.wait_condition("app", "True", "SecretSynced")
        return d, s

    def secret_writes(self, seq, name="app"):
        return [r for r in self.cluster.writes(seq, ("secrets",))
                if r["path"].rstrip("/").split("/")[-1] in (name, "secrets")]

    def assert_untouched(self, old):
        now = self.cluster.get(secret_path(NS, old["metadata"]["name"]))
        self.assertEqual(now["metadata"]["resourceVersion"], old["metadata"]["resourceVersion"])
        self.assertEqual(decode_data(now), decode_data(old))

    def wait_warning(self, name, *needles):
        def found():
            return [e for e in self.cluster.events(NS, name) if e.get("type") == "Warning" and
                    all(n.lower() in event_text(e).lower() for n in needles)]
        return self.wait_until(found, what="Warning event about %s with %r" % (name, needles))

    # --- 1. label-filtered list/watch -------------------------------------------------------
    def test_secrets_are_listed_and_watched_only_with_the_managed_selector(self):
        unrelated = self.cluster.apply({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                        "metadata": {"name": "unrelated", "namespace": NS,
                                                     "labels": {"app": "other"}},
                                        "data": {"password": b64("not-yours")}})
        self.synced()
        fake = self.cluster.fake
        self.assertTrue(fake.wait_watches(4), "the daemon keeps its watches open")
        # Force a re-list (410 Expired) and a re-watch (dropped streams): those paths too.
        seq = self.cluster.last_seq()
        self.cluster.apply({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "bump", "namespace": NS}, "data": {"a": "b"}})
        fake.expire_watches()

        def secret_reads(since, watch):
            return [r for r in self.cluster.daemon_requests(since) if r["method"] == "GET" and
                    SECRET_COLLECTION.match(r["path"]) and bool(r["watch"]) == watch]
        self.wait_until(lambda: secret_reads(seq, False), what="a Secret re-list after 410")
        self.wait_until(lambda: secret_reads(seq, True), what="a Secret re-watch after 410")
        seq2 = self.cluster.last_seq()
        fake.drop_watches()
        self.wait_until(lambda: secret_reads(seq2, True), what="a Secret re-watch after a drop")
        # The unrelated Secret changes (a watch without the selector would deliver this), and
        # the managed one drifts: the repair proves the re-opened watch works.
        unrelated = self.cluster.update(secret_path(NS, "unrelated"),
                                        lambda s: s["data"].update(password=b64("changed")))
        self.cluster.update(secret_path(NS, "app"), lambda s: s["data"].update(key=b64("x")))
        self.wait_data("app", {"key": "v1"})

        lists, watches = secret_reads(0, False), secret_reads(0, True)
        self.assertGreaterEqual(len(lists), 2, "initial list and the re-list")
        self.assertGreaterEqual(len(watches), 3, "initial watch and two re-watches")
        for r in lists + watches:
            q = parse_qs(r["query"])
            self.assertEqual(q.get("labelSelector"), [SELECTOR],
                             "Secret %s without the managed selector: %s?%s"
                             % ("watch" if r["watch"] else "list", r["path"], r["query"]))
        touched = [r for r in self.cluster.daemon_requests(0)
                   if r["path"] == secret_path(NS, "unrelated") or
                   "unrelated" in parse_qs(r["query"]).get("fieldSelector", [""])[0]]
        self.assertEqual(touched, [], "the daemon never reads or writes the unrelated Secret")
        now = self.cluster.get(secret_path(NS, "unrelated"))
        self.assertEqual(now["metadata"]["resourceVersion"],
                         unrelated["metadata"]["resourceVersion"])
        self.assertEqual(now["metadata"].get("labels"), {"app": "other"})
        self.assertFalse(now["metadata"].get("annotations"))
        self.assertEqual(decode_data(now), {"password": "changed"})

    # --- 2. restart spread ------------------------------------------------------------------
    def test_overdue_items_after_a_restart_are_spread_and_not_rewritten(self):
        n, refresh_ms = 30, 60_000
        # controller.cpp: overdue items are spread over min(30 s, max(1 s, refreshInterval/10)).
        window = min(30_000, max(1_000, refresh_ms // 10))
        names = ["app-%02d" % i for i in range(n)]
        self.cluster.apply(fake_store(NS, "store", {"k%d" % i: "v%d" % i for i in range(n)}))
        for i, name in enumerate(names):
            self.cluster.apply(external_secret(NS, name, data=[ref("key", "k%d" % i)],
                                               refresh="1m"))
        d = self.start_daemon()
        self.wait_until(lambda: len(self.sql("SELECT name FROM sync_status WHERE "
                                             "last_outcome = 'written'")) == n,
                        what="%d ExternalSecrets written" % n)
        for name in names:
            self.wait_condition(name, "True", "SecretSynced")
        self.stop_daemon(d)
        rv = {name: self.cluster.get(secret_path(NS, name))["metadata"]["resourceVersion"]
              for name in names}
        # Make everything overdue (an hour ago) while the daemon is down. es_state is the
        # internal table behind the sync_status view (schema.sql); next_due_ms is Unix ms.
        conn = sqlite3.connect(self.state, timeout=5)
        try:
            with conn:
                conn.execute("UPDATE es_state SET next_due_ms = ?",
                             (int(time.time() * 1000) - 3_600_000,))
        finally:
            conn.close()
        self.assertTrue(all(iso_ms(r["next_due_at"]) < time.time() * 1000 - 60_000
                            for r in self.sql("SELECT next_due_at FROM sync_status")))
        seq = self.cluster.last_seq()
        restart_ms = int(time.time() * 1000)

        self.start_daemon()

        def after_restart():
            rows = [r for r in self.sql("SELECT * FROM sync_history")
                    if iso_ms(r["at"]) >= restart_ms]
            return rows if len({r["name"] for r in rows}) == n else None
        rows = self.wait_until(after_restart, timeout=window / 1000 + 30,
                               what="one sync of each overdue ExternalSecret after the restart")
        self.assertEqual(sorted(r["name"] for r in rows), names, "exactly one sync each")
        self.assertEqual({r["outcome"] for r in rows}, {"unchanged"})
        at = sorted(iso_ms(r["at"]) for r in rows)
        # Uniform over the window: 30 samples all within half of it has probability ~6e-8; all
        # at once (no spreading) would take milliseconds.
        self.assertGreaterEqual(at[-1] - at[0], window // 2,
                                "overdue syncs are spread over the %d ms restart window: %r"
                                % (window, [t - at[0] for t in at]))
        self.assertEqual(self.cluster.writes(seq), [], "no Secret, status or event write")
        for name in names:
            now = self.cluster.get(secret_path(NS, name))
            self.assertEqual(now["metadata"]["resourceVersion"], rv[name], name)

    # --- 4. 403 / 422 on the Secret write ---------------------------------------------------
    def test_403_on_secret_create_fails_clearly_and_is_retried(self):
        self.cluster.fake.fault(method="POST", path_regex=r"^%s$" % secret_path(NS),
                                status=403, count=0)
        self.cluster.apply(fake_store(NS, "store", {"k": "v1"}))
        self.cluster.apply(external_secret(NS, "app", data=[ref("key", "k")], refresh="1h"))
        self.start_daemon()
        es = self.wait_condition("app", "False", "SecretSyncedError")
        self.assertEqual(ready_condition(es)["message"], UPDATE_MSG)
        self.wait_warning("app", "403", "forbidden")
        self.assertIn("403", self.status_row("app")["last_error"])
        self.assertIsNone(self.cluster.get(secret_path(NS, "app")))

        def posts():
            return [r["status"] for r in self.cluster.daemon_requests(0)
                    if r["method"] == "POST" and r["path"] == secret_path(NS)]
        self.wait_until(lambda: len(posts()) >= 3, timeout=RECOVER,
                        what="the 403 create retried (backoff), refreshInterval is 1h")
        self.assertIsNone(self.cluster.get(secret_path(NS, "app")))
        self.cluster.fake.clear_faults()
        self.wait_data("app", {"key": "v1"}, timeout=RECOVER)
        self.wait_condition("app", "True", "SecretSynced")
        self.assertEqual(set(posts()[:-1]), {403})
        self.assertEqual(posts()[-1], 201)

    def test_403_on_secret_update_keeps_the_secret_and_recovers(self):
        _, old = self.synced()
        self.cluster.fake.fault(method="PUT", path_regex=r"^%s$" % secret_path(NS, "app"),
                                status=403, count=0)
        seq = self.cluster.last_seq()
        self.cluster.apply(fake_store(NS, "store", {"k": "v2"}))
        self.cluster.annotate_es(NS, "app", "force-sync", "1")
        es = self.wait_condition("app", "False", "SecretSyncedError")
        self.assertEqual(ready_condition(es)["message"], UPDATE_MSG)
        self.wait_warning("app", "403", "forbidden")
        self.wait_until(lambda: len([r for r in self.secret_writes(seq) if r["status"] == 403])
                        >= 2, timeout=RECOVER, what="the 403 update retried")
        self.assert_untouched(old)
        self.cluster.fake.clear_faults()
        s = self.wait_data("app", {"key": "v2"}, timeout=RECOVER)
        self.assertEqual(s["metadata"]["annotations"].get("force-sync"), "1")
        self.wait_condition("app", "True", "SecretSynced")

    def test_422_on_secret_update_keeps_the_secret(self):
        _, old = self.synced()
        self.cluster.fake.fault(method="PUT", path_regex=r"^%s$" % secret_path(NS, "app"),
                                status=422, count=0)
        self.cluster.apply(fake_store(NS, "store", {"k": "v2"}))
        self.cluster.annotate_es(NS, "app", "force-sync", "1")
        es = self.wait_condition("app", "False", "SecretSyncedError")
        self.assertEqual(ready_condition(es)["message"], UPDATE_MSG)
        self.wait_warning("app", "422", "invalid")
        self.assertIn("422", self.status_row("app")["last_error"])
        self.assert_untouched(old)
        self.cluster.fake.clear_faults()
        self.cluster.annotate_es(NS, "app", "force-sync", "2")   # a change syncs again
        self.wait_data("app", {"key": "v2"}, timeout=RECOVER)
        self.wait_condition("app", "True", "SecretSynced")

    # A 422 may come from provider data that is fixed later: retried with backoff like every
    # failed write (ESO requeues every failed write too).
    def test_422_on_secret_update_is_retried_without_a_change(self):
        _, old = self.synced(refresh="1s")
        self.cluster.fake.fault(method="PUT", path_regex=r"^%s$" % secret_path(NS, "app"),
                                status=422, count=1)
        self.cluster.apply(fake_store(NS, "store", {"k": "v2"}))
        self.wait_condition("app", "False", "SecretSyncedError")
        self.assert_untouched(old)
        self.wait_data("app", {"key": "v2"}, timeout=30)   # the one-shot fault is gone

    # --- 5. adoption of an ESO-written Secret -----------------------------------------------
    def test_secret_written_by_eso_is_adopted_with_one_metadata_update(self):
        values = {"key": "v1", "other": "w1"}
        self.cluster.apply(fake_store(NS, "store", {"k": "v1", "j": "w1"}))
        es = self.cluster.apply(external_secret(NS, "app", refresh="1s",
                                                data=[ref("key", "k"), ref("other", "j")]))
        meta = es["metadata"]
        now = rfc3339(time.time() - 600)
        es["status"] = {
            "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced",
                            "message": "secret synced", "lastTransitionTime": now}],
            "refreshTime": now, "binding": {"name": "app"},
            "syncedResourceVersion": "%d-%s" % (meta["generation"], sha3_224_hex(
                "{annotations:map[] labels:map[]}"))}
        status, out = self.cluster.api("PUT", es_path(NS, "app") + "/status", es)
        self.assertEqual(status, 200, out)
        eso_hash = eso_data_hash(values)
        written = self.cluster.apply({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "app", "namespace": NS,
                         "labels": {MANAGED_LABEL: "true",
                                    CREATED_BY_LABEL: sha3_224_hex("%s/app" % NS)},
                         "annotations": {DATA_HASH_ANNOTATION: eso_hash},
                         "ownerReferences": [{"apiVersion": "external-secrets.io/v1",
                                              "kind": "ExternalSecret", "name": "app",
                                              "uid": meta["uid"], "controller": True,
                                              "blockOwnerDeletion": True}]},
            "data": {k: b64(v) for k, v in values.items()}})
        seq = self.cluster.last_seq()
        self.start_daemon()
        adopted = self.wait_secret("app", lambda s: s["metadata"]["annotations"].get(
            DATA_HASH_ANNOTATION) != eso_hash)
        self.assertRegex(adopted["metadata"]["annotations"][DATA_HASH_ANNOTATION],
                         "^[0-9a-f]{64}$")
        self.wait_condition("app", "True", "SecretSynced")
        # The adoption attempt is over (its status patch and event were sent before its history
        # row) once a later refresh (1 s) found the data unchanged; from then on, nothing.
        self.wait_until(lambda: "unchanged" in self.outcomes("app")[1:], timeout=30,
                        what="a refresh after the adoption")
        mid = self.cluster.last_seq()
        base = len(self.outcomes("app"))
        self.wait_until(lambda: self.outcomes("app")[base:].count("unchanged") >= 3, timeout=30,
                        what="three more unchanged refreshes")
        self.assertEqual(self.cluster.writes(mid), [], "refreshes after the adoption write nothing")
        writes = self.secret_writes(seq)
        self.assertEqual([(w["method"], w["status"]) for w in writes], [("PUT", 200)],
                         "adoption costs exactly one Secret update")
        self.assertEqual(self.outcomes("app").count("written"), 1)
        final = self.cluster.get(secret_path(NS, "app"))
        self.assertEqual(final["metadata"]["resourceVersion"],
                         adopted["metadata"]["resourceVersion"])
        self.assertEqual(decode_data(final), values)
        self.assertEqual(final["metadata"]["generation"], written["metadata"]["generation"],
                         "no data or type change")
        self.assertEqual(final.get("type"), "Opaque")
        self.assertEqual(final["metadata"]["labels"], written["metadata"]["labels"])
        self.assertEqual(final["metadata"]["ownerReferences"],
                         written["metadata"]["ownerReferences"])
        self.assertEqual(set(final["metadata"]["annotations"]), {DATA_HASH_ANNOTATION})


class StoreIsolation(VaultCase):
    """Per-store in-flight bound: a store whose reads hang cannot starve a healthy store."""

    SLOW = 40          # more than the global in-flight bound (32)
    HOLD_MS = 15000

    def test_slow_store_does_not_delay_a_healthy_store(self):
        for i in range(self.SLOW):
            self.put_kv("s%d" % i, {"v": "x%d" % i})
        self.token_store(name="slow")
        self.cluster.apply(fake_store(NS, "fast", {"k": "quick"}))
        self.vault.fault(method="GET", path_regex=r"^/v1/secret/data/s\d+$", status=0,
                         delay_ms=self.HOLD_MS, count=0)
        for i in range(self.SLOW):
            self.cluster.apply(external_secret(NS, "slow-%02d" % i, store="slow",
                                               data=[ref("v", "s%d" % i, property="v")]))

        def slow_reads():
            return [r for r in self.vault_requests() if r["method"] == "GET" and
                    re.match(r"^/v1/secret/data/s\d+$", r["path"])]
        self.start_daemon()
        self.wait_until(lambda: len(slow_reads()) >= 16, what="16 slow reads held by the fake")
        self.cluster.apply(external_secret(NS, "healthy", store="fast", data=[ref("key", "k")]))
        self.wait_data("healthy", {"key": "quick"})
        self.wait_condition("healthy", "True", "SecretSynced")
        held = slow_reads()
        self.assertTrue(held and all(r["status"] == 0 for r in held),
                        "the healthy store synced while every slow read was still held: %r"
                        % [(r["path"], r["status"]) for r in held])
        self.assertLessEqual(len(held), 16, "at most the per-store bound in flight on one store")
        self.assertFalse([i for i in range(self.SLOW)
                          if self.cluster.get(secret_path(NS, "slow-%02d" % i)) is not None])
        self.vault.clear_faults()
        for i in range(self.SLOW):
            self.wait_data("slow-%02d" % i, {"v": "x%d" % i}, timeout=self.HOLD_MS / 1000 + 45)


if __name__ == "__main__":
    harness.main()
