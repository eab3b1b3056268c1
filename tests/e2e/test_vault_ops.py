#!/usr/bin/env python3
"""e2e: the Vault provider over time: rotation by a new KV version, outages (sealed Vault, 503s)
that leave the Secret untouched and recover, a new token in the referenced Secret used at the next
sync without a restart, login frugality (100 ExternalSecrets per appRole store refreshing every
second: one login while the token lives, about one per TTL when it cannot be renewed), and the
provider API call metrics with ESO's names. Total runtime is kept under ~90 s.
"""

import time

import harness
from harness import event_text, external_secret, ref
from vault_support import NS, PROVIDER, VaultCase, sel

LOAD_SECONDS = 30.0
SHORT_TTL = 10


class Ops(VaultCase):

    def es(self, name, store="store", key="rot", **kw):
        kw.setdefault("target", {"name": name})
        self.cluster.apply(external_secret(NS, name, store=store, refresh="1s",
                                           data=[ref("v", key, property="v")], **kw))

    def test_rotation_by_writing_a_new_kv_version(self):
        self.put_kv("rot", {"v": "first"})
        self.token_store()
        self.es("app")
        self.start_daemon()
        self.wait_data("app", {"v": "first"})
        self.put_kv("rot", {"v": "second"})
        self.wait_data("app", {"v": "second"})
        updated = self.wait_until(lambda: [e for e in self.cluster.events(NS, "app")
                                           if e.get("reason") == "Updated"], what="Updated event")
        self.assertEqual(event_text(updated[0]), "secret updated")

    def outage(self, start, end, value_before, value_after):
        """During start()..end() the Secret keeps value_before (even with deletionPolicy
        Delete) and Ready turns False; afterwards a new version arrives and Ready is True."""
        start()
        self.wait_condition("app", "False", "SecretSyncedError", timeout=45)
        s = self.cluster.get(harness.secret_path(NS, "app"))
        self.assertIsNotNone(s, "a transient failure is never NotFound")
        self.assertEqual(harness.decode_data(s), {"v": value_before})
        end()
        self.put_kv("rot", {"v": value_after})
        self.wait_data("app", {"v": value_after}, timeout=60)
        self.wait_condition("app", "True", "SecretSynced", timeout=30)

    def test_outage_keeps_the_secret_and_recovers(self):
        self.put_kv("rot", {"v": "a"})
        self.token_store()
        self.es("app", target={"name": "app", "deletionPolicy": "Delete"})
        self.start_daemon()
        self.wait_data("app", {"v": "a"})
        self.outage(lambda: self.ctl("POST", "/_fake/seal", {"sealed": True}),
                    lambda: self.ctl("POST", "/_fake/seal", {"sealed": False}), "a", "b")
        self.outage(lambda: self.ctl("POST", "/_fake/faults", {
            "path_regex": "^/v1/secret/", "method": "*", "status": 503, "count": 0}),
            lambda: self.ctl("DELETE", "/_fake/faults"), "b", "c")

    def test_a_new_token_in_the_secret_is_used_without_restart(self):
        self.put_kv("rot", {"v": "a"})
        old = self.token_store()
        self.es("app")
        d = self.start_daemon()
        self.wait_data("app", {"v": "a"})
        new = self.new_token()
        new_accessor = self.accessor(new)
        self.put_secret("vault-token", {"token": new})
        self.wait_until(lambda: [r for r in self.vault_requests()
                                 if r["path"].startswith("/v1/secret/") and
                                 r.get("token_accessor") == new_accessor],
                        what="a read with the new token")
        status, out = self.http("POST", "/v1/auth/token/revoke-self", token=old)
        self.assertIn(status, (200, 204), out)
        self.put_kv("rot", {"v": "b"})
        self.wait_data("app", {"v": "b"})
        self.wait_condition("app", "True", "SecretSynced")
        self.assertIsNone(d.proc.poll(), "the same daemon, no restart")
        self.assertEqual(len(self.daemons), 1)

    def approle_store(self, name, path, ttl):
        self.auth_role("approle", path=path, role=name, role_id="rid-" + name,
                       secret_id="sid-" + name, token_ttl=ttl, token_max_ttl=ttl)
        self.put_secret("sid-" + name, {"secret-id": "sid-" + name})
        self.store({"appRole": {"path": path, "roleId": "rid-" + name,
                                "secretRef": sel("sid-" + name, "secret-id")}}, name=name)

    def test_login_counts_with_long_and_short_token_ttls(self):
        for i in range(10):
            self.put_kv("load/%d" % i, {"v": "value-%d" % i})
        self.approle_store("long", "approle", 3600)
        self.approle_store("short", "approle-short", SHORT_TTL)
        for store in ("long", "short"):
            for i in range(100):
                self.es("%s-%03d" % (store, i), store=store, key="load/%d" % (i % 10))
        started = time.monotonic()
        self.start_daemon()

        def all_synced():
            rows = self.sql("SELECT count(*) AS n FROM sync_status WHERE last_success_at "
                            "IS NOT NULL")
            return rows[0]["n"] == 200
        self.wait_until(all_synced, timeout=LOAD_SECONDS, what="200 ExternalSecrets synced")
        reads_before = self.stats()["reads"]
        while time.monotonic() - started < LOAD_SECONDS:   # the load itself, not a timing wait
            time.sleep(0.5)
        stats = self.stats()
        duration = time.monotonic() - started
        logins = stats.get("logins") or {}
        self.assertEqual(logins.get("approle/approle"), 1,
                         "one login while the token outlives the test: %r" % logins)
        expected = duration / SHORT_TTL
        short = logins.get("approle/approle-short", 0)
        self.assertTrue(int(expected) - 1 <= short <= int(expected) + 2,
                        "about %.1f logins for a %d s token over %.0f s, got %d"
                        % (expected, SHORT_TTL, duration, short))
        self.assertGreaterEqual(stats["reads"] - reads_before, 10, "refreshes kept reading")
        failed = self.sql("SELECT count(*) AS n FROM sync_history WHERE outcome = 'failed'")
        self.assertEqual(failed[0]["n"], 0, "no sync failed because a token expired")

    def test_provider_api_call_metrics(self):
        self.put_kv("rot", {"v": "a"})
        self.put_kv("e2e_find_one", {"x": "1"})
        self.approle_store("store", "approle", 3600)
        self.es("app")
        self.cluster.apply(external_secret(NS, "found", target={"name": "found"}, data_from=[
            {"find": {"name": {"regexp": "e2e_find_.+"}}}]))
        d = self.start_daemon()
        self.wait_data("app", {"v": "a"})
        self.wait_data("found", {"e2e_find_one": '{"x":"1"}'})
        for call in ("Login", "ReadSecretData", "ListSecrets"):
            self.wait_until(lambda: d.metric("externalsecret_provider_api_calls_count",
                                             provider=PROVIDER, call=call, status="success"),
                            what="provider_api_calls_count call=%s" % call)
        self.assertEqual(d.metric("externalsecret_provider_api_calls_count", provider=PROVIDER,
                                  call="Login", status="success"), 1.0)


if __name__ == "__main__":
    harness.main()
