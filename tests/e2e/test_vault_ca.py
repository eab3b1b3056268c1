#!/usr/bin/env python3
"""e2e: the Vault store's trust anchors over HTTPS (eso-api.md §3.4). caProvider from a Secret
or a ConfigMap is trusted; caBundle, when set, is the whole trust (caProvider unused, as ESO); a
ClusterSecretStore's caProvider must name its namespace (ESO's "missing namespace on caProvider
secret"), so that no tenant namespace can supply the CA of a cluster-wide login.
"""

from pathlib import Path

import harness
from harness import b64, event_text, external_secret, ref
from vault_support import NS, VaultCase, sel


class VaultCa(VaultCase):
    TLS = True

    def setUp(self):
        super().setUp()
        self.ca_pem = Path(self.vault.ca_file).read_text()
        self.put_kv("app", {"v": "ok"})
        self.put_secret("vault-token", {"token": self.new_token()})

    def token_auth(self, ns=None):
        return {"tokenSecretRef": sel("vault-token", "token", ns=ns)}

    def es(self, name, store, ns=NS, kind="SecretStore"):
        self.cluster.apply(external_secret(ns, name, store=store, store_kind=kind,
                                           data=[ref("v", "app", property="v")]))

    def test_ca_provider_secret_and_config_map(self):
        self.put_secret("vault-ca", {"ca.crt": self.ca_pem})
        self.cluster.apply({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "vault-ca", "namespace": NS},
                            "data": {"ca.crt": self.ca_pem}})
        self.store(self.token_auth(), name="by-secret",
                   caProvider={"type": "Secret", "name": "vault-ca", "key": "ca.crt"})
        self.store(self.token_auth(), name="by-configmap",
                   caProvider={"type": "ConfigMap", "name": "vault-ca", "key": "ca.crt"})
        self.store(self.token_auth(), name="missing",
                   caProvider={"type": "Secret", "name": "no-such-ca", "key": "ca.crt"})
        for store in ("by-secret", "by-configmap", "missing"):
            self.es("es-" + store, store)
        self.start_daemon()
        self.wait_data("es-by-secret", {"v": "ok"})
        self.wait_data("es-by-configmap", {"v": "ok"})
        self.wait_condition("es-missing", "False", "SecretSyncedError")
        self.assertIsNone(self.cluster.get(harness.secret_path(NS, "es-missing")))

    def test_ca_bundle_wins_over_ca_provider(self):
        # The caProvider names a Secret that does not exist: it must not even be read.
        self.store(self.token_auth(), name="both", caBundle=b64(self.ca_pem),
                   caProvider={"type": "Secret", "name": "no-such-ca", "key": "ca.crt"})
        self.es("es", "both")
        self.start_daemon()
        self.wait_data("es", {"v": "ok"})
        self.assertEqual([r for r in self.cluster.daemon_requests()
                          if r["path"].endswith("/secrets/no-such-ca")], [])

    def test_cluster_store_ca_provider_needs_a_namespace(self):
        self.put_secret("vault-ca", {"ca.crt": self.ca_pem})
        self.store(self.token_auth(ns=NS), name="css-no-ns", kind="ClusterSecretStore",
                   caProvider={"type": "Secret", "name": "vault-ca", "key": "ca.crt"})
        self.store(self.token_auth(ns=NS), name="css-ns", kind="ClusterSecretStore",
                   caProvider={"type": "Secret", "name": "vault-ca", "key": "ca.crt",
                               "namespace": NS})
        self.es("es-no-ns", "css-no-ns", kind="ClusterSecretStore")
        self.es("es-ns", "css-ns", kind="ClusterSecretStore")
        self.start_daemon()
        self.wait_data("es-ns", {"v": "ok"})
        self.wait_condition("es-no-ns", "False", "SecretSyncedError")
        self.wait_until(lambda: any("missing namespace on caProvider secret" in event_text(e)
                                    for e in self.cluster.events(NS, "es-no-ns")),
                        what="a Warning event with the reason")


if __name__ == "__main__":
    harness.main()
