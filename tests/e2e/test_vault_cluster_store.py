#!/usr/bin/env python3
"""e2e: a Vault ClusterSecretStore whose credentials name their namespace is one identity: one
client, one login and shared reads for every namespace that uses it (ESO's isReferentSpec). A
referent one (a reference without a namespace) logs in once per ExternalSecret namespace.
"""

import harness
from harness import external_secret, ref
from vault_support import NS, VaultCase, sel

NAMESPACES = ("team-a", "team-b", "team-c")


class ClusterStoreClients(VaultCase):

    def setUp(self):
        super().setUp()
        self.put_kv("shared", {"v": "ok"})
        self.auth_role("approle", role="e2e", role_id="rid-1", secret_id="sid-1",
                       token_ttl=3600, token_max_ttl=7200)

    def es_in_every_namespace(self, store):
        for ns in NAMESPACES:
            self.cluster.apply(external_secret(
                ns, "es-" + store, store=store, store_kind="ClusterSecretStore",
                data=[ref("v", "shared", property="v")]))

    def test_namespaced_credentials_mean_one_login_for_all_namespaces(self):
        self.put_secret("approle", {"secret-id": "sid-1"}, ns=NS)
        self.store({"appRole": {"path": "approle", "roleId": "rid-1",
                                "secretRef": sel("approle", "secret-id", ns=NS)}},
                   name="css", kind="ClusterSecretStore")
        self.es_in_every_namespace("css")
        self.start_daemon()
        for ns in NAMESPACES:
            self.wait_data("es-css", {"v": "ok"}, ns=ns)
        self.assertEqual(self.logins("approle/approle"), 1)

    def test_referent_credentials_log_in_once_per_namespace(self):
        for ns in NAMESPACES:
            self.put_secret("approle", {"secret-id": "sid-1"}, ns=ns)
        self.store({"appRole": {"path": "approle", "roleId": "rid-1",
                                "secretRef": sel("approle", "secret-id")}},
                   name="referent", kind="ClusterSecretStore")
        self.es_in_every_namespace("referent")
        self.start_daemon()
        for ns in NAMESPACES:
            self.wait_data("es-referent", {"v": "ok"}, ns=ns)
        self.assertEqual(self.logins("approle/approle"), len(NAMESPACES))


if __name__ == "__main__":
    harness.main()
