#!/usr/bin/env python3
"""e2e: the Vault provider over time: rotation by a new KV version, outages (sealed Vault, 503s)
that leave the Secret untouched and recover, rate limiting (429 with Retry-After: retried inside
the provider, then a RateLimited failure that keeps the Secret and recovers; a Retry-After over
10 s left to the controller's schedule), a new token in the referenced Secret used at the next
sync without a restart, login frugality (100 ExternalSecrets per appRole store refreshing every
second: one login while the token lives, about one per TTL when it cannot be renewed), and the
provider API call metrics with ESO's names (success and error series, LookupSelf, RenewSelf,
RevokeSelf). Total runtime is kept under ~100 s.
"""

import datetime
import time

import harness
from harness import event_text, external_secret, ref
from vault_support import NS, PROVIDER, READ_POLICY, VaultCase, sel

LOAD_SECONDS = 30.0
SHORT_TTL = 10
RENEW_TTL = 6    # renewed at 4 s, 2 s before it would expire


def iso_ms(text):
    """Unix ms of the state views' ISO-8601 UTC text (2026-11-28T01:02:03.456Z)."""
    at = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(at.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


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

    def test_rate_limited_reads_keep_the_secret_and_recover(self):
        self.put_kv("rot", {"v": "a"})
        self.token_store()
        self.es("app", target={"name": "app", "deletionPolicy": "Delete"})
        d = self.start_daemon()
        self.wait_data("app", {"v": "a"})
        seq = self.vault_requests()[-1]["seq"]
        # Every read of the key answers 429 with a short Retry-After (the provider retries
        # those itself, twice by default, then gives up with a rate-limit error).
        self.ctl("POST", "/_fake/faults", {"path_regex": "^/v1/secret/data/rot$", "method": "GET",
                                           "status": 429, "count": 0, "retry_after": 1})
        es = self.wait_condition("app", "False", "SecretSyncedError", timeout=45)
        self.assertEqual(harness.ready_condition(es)["message"],
                         "could not get secret data from provider")
        s = self.cluster.get(harness.secret_path(NS, "app"))
        self.assertIsNotNone(s, "a rate-limited read is never NotFound")
        self.assertEqual(harness.decode_data(s), {"v": "a"})
        limited = [r for r in self.vault_requests() if r["seq"] > seq and r["status"] == 429]
        self.assertGreaterEqual(len(limited), 3, "the first try and two retries were refused")
        failed = d.wait_log("sync_failed", ns=NS, name="app")
        self.assertEqual(failed.get("error_code"), "RateLimited", failed)
        self.assertIn("rate limit quota exceeded", failed.get("error", ""))
        self.wait_until(lambda: [e for e in self.cluster.events(NS, "app")
                                 if e.get("type") == "Warning" and "HTTP 429" in event_text(e)
                                 and "rate limit quota exceeded" in event_text(e)],
                        what="a Warning event naming the rate limit")
        row = self.status_row("app")
        self.assertEqual(row["last_outcome"], "failed")
        self.assertIn("rate limit quota exceeded", row["last_error"])
        self.ctl("DELETE", "/_fake/faults")
        self.put_kv("rot", {"v": "b"})
        self.wait_data("app", {"v": "b"}, timeout=60)
        self.wait_condition("app", "True", "SecretSynced", timeout=30)
        self.assertEqual(self.status_row("app")["consecutive_failures"], 0)

    def test_a_long_retry_after_is_left_to_the_controller(self):
        """A Retry-After over 10 s is not waited for inside the provider: the attempt fails at
        once and the controller schedules the next one no earlier than the hint."""
        self.put_kv("rot", {"v": "a"})
        self.token_store()
        self.es("app")
        self.start_daemon()
        self.wait_data("app", {"v": "a"})
        seq = self.vault_requests()[-1]["seq"]
        self.ctl("POST", "/_fake/faults", {"path_regex": "^/v1/secret/data/rot$", "method": "GET",
                                           "status": 429, "count": 0, "retry_after": 120})
        self.wait_condition("app", "False", "SecretSyncedError", timeout=45)
        def failed_row():
            row = self.status_row("app")
            return row if row and row["last_outcome"] == "failed" else None
        row = self.wait_until(failed_row, what="the failed attempt in sync_status")
        limited = [r for r in self.vault_requests() if r["seq"] > seq and r["status"] == 429]
        self.assertEqual(len(limited), 1, "no retry inside the provider: %r" % limited)
        due = iso_ms(row["next_due_at"]) - iso_ms(row["last_attempt_at"])
        self.assertGreaterEqual(due, 120_000 - 1_000, "next attempt after the Retry-After hint")
        self.assertIn("rate limit quota exceeded", row["last_error"])

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
        self.put_kv("denied", {"v": "never"})
        self.put_kv("e2e_find_one", {"x": "1"})
        # The main store's token may read everything but secret/data/denied (a policy 403).
        self.ctl("POST", "/_fake/policy", {"name": "e2e-deny", "rules": [
            {"path": "secret/data/denied", "capabilities": ["deny"]}]})
        self.auth_role("approle", role="store", role_id="rid-store", secret_id="sid-store",
                       token_ttl=3600, token_max_ttl=3600, policies=[READ_POLICY, "e2e-deny"])
        self.put_secret("sid", {"secret-id": "sid-store"})
        self.store({"appRole": {"roleId": "rid-store", "secretRef": sel("sid", "secret-id")}})
        # A short-lived renewable token: renewed with renew-self at 2/3 of its TTL.
        self.auth_role("approle", path="approle-renew", role="renew", role_id="rid-renew",
                       secret_id="sid-renew", token_ttl=RENEW_TTL, token_max_ttl=3600)
        self.put_secret("sid-renew", {"secret-id": "sid-renew"})
        self.store({"appRole": {"path": "approle-renew", "roleId": "rid-renew",
                                "secretRef": sel("sid-renew", "secret-id")}}, name="renewing")
        self.es("app")
        self.es("denied", key="denied")
        self.es("renewing", store="renewing")
        self.cluster.apply(external_secret(NS, "found", target={"name": "found"}, data_from=[
            {"find": {"name": {"regexp": "e2e_find_.+"}}}]))
        d = self.start_daemon()
        self.wait_data("app", {"v": "a"})
        self.wait_data("renewing", {"v": "a"})
        self.wait_data("found", {"e2e_find_one": '{"x":"1"}'})
        self.wait_condition("denied", "False", "SecretSyncedError")

        def calls(call, status):
            return d.metric("externalsecret_provider_api_calls_count", provider=PROVIDER,
                            call=call, status=status)
        # success: the calls ESO makes, and the token calls of our client: LookupSelf (store
        # validation, and the check that tells the 403 on secret/data/denied from an invalid
        # token) and RenewSelf (the short-lived token).
        for call in ("Login", "ReadSecretData", "ListSecrets", "LookupSelf", "RenewSelf"):
            self.wait_until(lambda: calls(call, "success"),
                            what="provider_api_calls_count call=%s status=success" % call)
        # error: the policy-denied read (and nothing else failed).
        self.wait_until(lambda: calls("ReadSecretData", "error"),
                        what="provider_api_calls_count call=ReadSecretData status=error")
        for call in ("Login", "ListSecrets", "LookupSelf", "RenewSelf"):
            self.assertIsNone(calls(call, "error"), "no %s failed" % call)
        self.assertEqual(calls("Login", "success"), 2.0,
                         "one login per good store, renewals instead of new logins")
        self.assertGreaterEqual(self.stats()["renewals"], 1)
        # RevokeSelf: a store that goes away revokes its login token.
        self.cluster.delete(harness.store_path(NS, "renewing"))
        self.wait_until(lambda: calls("RevokeSelf", "success"),
                        what="provider_api_calls_count call=RevokeSelf status=success")
        self.assertGreaterEqual(self.stats()["revocations"], 1)

    # A call that never reaches Vault because the login before it failed is not counted (ESO
    # logs in when it builds the client and makes, and counts, no further call when that
    # fails): only Login status="error" appears.
    def test_a_failed_login_counts_only_the_login(self):
        self.put_kv("rot", {"v": "a"})
        self.auth_role("approle", role="store", role_id="rid-store", secret_id="sid-store",
                       token_ttl=3600)
        self.put_secret("sid", {"wrong": "sid-wrong"})
        self.store({"appRole": {"roleId": "rid-store", "secretRef": sel("sid", "wrong")}})
        self.es("app")
        d = self.start_daemon()
        self.wait_condition("app", "False", "SecretSyncedError")

        def calls(call, status):
            return d.metric("externalsecret_provider_api_calls_count", provider=PROVIDER,
                            call=call, status=status)
        self.wait_until(lambda: (calls("Login", "error") or 0) >= 2,
                        what="two failed logins (validation and the first sync)")
        sent = {r["path"] for r in self.vault_requests()}
        self.assertEqual(sent, {"/v1/auth/approle/login"}, "only logins reached Vault")
        self.assertIsNone(calls("ReadSecretData", "error"), "no read was sent")
        self.assertIsNone(calls("LookupSelf", "error"), "no lookup-self was sent")


if __name__ == "__main__":
    harness.main()
