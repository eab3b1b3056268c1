#!/usr/bin/env python3
"""e2e: a renewable Vault login token with a short TTL is renewed with renew-self at about two
thirds of its TTL (no fixed floor such as ESO's 60 s), so one login serves the whole run.
"""

import harness
from harness import external_secret, ref
from vault_support import NS, VaultCase, sel

TTL = 3  # seconds: renewal every ~2 s at the production fraction (2/3)


class Renewal(VaultCase):

    def test_short_ttl_token_is_renewed_not_replaced(self):
        self.put_kv("app", {"v": "ok"})
        self.auth_role("approle", role="e2e", role_id="rid-1", secret_id="sid-1",
                       token_ttl=TTL, token_max_ttl=3600)
        self.put_secret("approle", {"secret-id": "sid-1"})
        self.store({"appRole": {"path": "approle", "roleId": "rid-1",
                                "secretRef": sel("approle", "secret-id")}})
        self.cluster.apply(external_secret(NS, "es", data=[ref("v", "app", property="v")],
                                           refresh="1s"))
        self.start_daemon()
        self.wait_data("es", {"v": "ok"})
        # Five renewals span about 10 s, more than three TTLs: a token that was not renewed in
        # time would have expired and forced a new login (a 403 on a read, then a re-login).
        self.wait_until(lambda: self.stats()["renewals"] >= 5, timeout=40,
                        what="five renew-self calls")
        self.assertEqual(self.logins("approle/approle"), 1, self.stats())
        failed = self.sql("SELECT count(*) AS n FROM sync_history WHERE outcome = 'failed'")
        self.assertEqual(failed[0]["n"], 0, "no sync failed on an expired token")


if __name__ == "__main__":
    harness.main()
