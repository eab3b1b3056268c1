#!/usr/bin/env python3
"""e2e: SIGTERM while a provider request is in flight (a Vault read the fake holds for 30 s):
the daemon cancels it, commits its state and exits 0 within 5 s; the next start syncs.
"""

import harness
from harness import external_secret, ref
from vault_support import NS, VaultCase


class ShutdownInFlight(VaultCase):

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


if __name__ == "__main__":
    harness.main()
