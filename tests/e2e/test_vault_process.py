#!/usr/bin/env python3
"""e2e: the process against a real provider (the fake Vault). SIGTERM while a read is in flight
(held by the fake for 30 s): the daemon cancels it, commits its state and exits 0 within 5 s;
the next start syncs. `run --once` retries a transient failure (503) briefly and exits 0.
"""

import harness
from harness import external_secret, ref
from vault_support import NS, VaultCase


class VaultProcess(VaultCase):

    def test_sigterm_cancels_an_in_flight_read_and_exits_0(self):
        self.put_kv("app", {"v": "ok"})
        self.token_store()
        self.vault.fault(method="GET", path_regex=r"^/v1/secret/data/app$", status=0,
                         delay_ms=30000, count=1)
        self.cluster.apply(external_secret(NS, "es", data=[ref("v", "app", property="v")]))
        d = self.start_daemon()
        # The fault rule is consumed when the read arrives: from then on it is held in flight.
        self.wait_until(lambda: self.vault.faults() == [], what="the read held by the fake")
        took = self.stop_daemon(d)
        self.assertLess(took, 5.0)
        self.assertTrue(d.find_logs("shutdown_complete"))
        self.assertIsNone(self.cluster.get(harness.secret_path(NS, "es")))
        self.start_daemon()
        self.wait_data("es", {"v": "ok"})

    def test_once_retries_a_transient_failure(self):
        self.put_kv("app", {"v": "ok"})
        # No retry inside the Vault client: the two 503s fail two sync attempts, and --once
        # itself must try again.
        self.token_store(retrySettings={"maxRetries": 0})
        self.vault.fault(method="GET", path_regex=r"^/v1/secret/data/app$", status=503, count=2)
        self.cluster.apply(external_secret(NS, "es", data=[ref("v", "app", property="v")]))
        r = self.cli(*self.daemon_args("--once"), timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertEqual(self.vault.faults(), [], "both 503s were served")
        outcomes = [row["outcome"] for row in self.history("es")]
        self.assertEqual(sorted(outcomes), ["failed", "failed", "written"], outcomes)
        self.wait_data("es", {"v": "ok"}, timeout=1)


if __name__ == "__main__":
    harness.main()
