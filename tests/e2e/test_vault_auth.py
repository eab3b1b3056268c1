#!/usr/bin/env python3
"""e2e: every Vault auth method of issue 3 against the fake Vault (eso-api.md §3.4, §6.2).
Kubernetes auth also with the daemon's own service-account token (neither serviceAccountRef nor
secretRef): the kubeconfig's tokenFile, which in a pod is the projected service-account token.

Each store logs in (or uses its static token), the reads carry that identity's token (the fake's
request log names the token accessor, never the token), bad credentials give Ready=False, and
credentials resolve where ESO resolves them: a ClusterSecretStore's reference in the
ExternalSecret's namespace, a SecretStore's never in another namespace. Cert auth and mTLS run
against the fake over HTTPS (TlsAuth).
"""

import subprocess
from pathlib import Path

import harness
from harness import b64, event_text, external_secret, ref
from vault_support import NS, VaultCase, sa_jwt, sel

EXPECTED = {"value": "ok", "name": "great-name", "surname": "great-surname"}


class AuthBase(VaultCase):

    def setUp(self):
        super().setUp()
        self.put_kv("auth-check", {"v": "ok"})
        self.put_kv("app", {"name": "great-name", "surname": "great-surname"})

    def es(self, name, store="store", ns=NS, kind="SecretStore"):
        self.cluster.apply(external_secret(
            ns, name, store=store, store_kind=kind, target={"name": name},
            data=[ref("value", "auth-check", property="v")],
            data_from=[{"extract": {"key": "app"}}]))

    def read_accessors(self):
        """Token accessors on the daemon's KV reads (paths under the `secret` mount)."""
        return {r.get("token_accessor") for r in self.vault_requests()
                if r["path"].startswith("/v1/secret/")}

    def assert_synced_with_login(self, name, method):
        self.wait_data(name, EXPECTED)
        self.wait_condition(name, "True", "SecretSynced")
        accessors = self.read_accessors()
        self.assertNotIn(self.accessor("root"), accessors, "reads use the login token")
        self.assertNotIn(None, accessors)
        self.assertGreaterEqual(self.logins(method), 1)

    def assert_refused(self, name, why, ns=NS):
        """Ready=False, no Secret, and a Warning event that gives the reason (`why`)."""
        self.wait_condition(name, "False", "SecretSyncedError", ns=ns)
        self.assertIsNone(self.cluster.get(harness.secret_path(ns, name)))
        self.wait_until(lambda: [e for e in self.cluster.events(ns, name) if e.get("type") ==
                                 "Warning" and why in event_text(e)],
                        what="a Warning event for %s/%s saying %r" % (ns, name, why))


class Auth(AuthBase):

    def test_token_secret_ref(self):
        token = self.token_store()
        self.es("es")
        self.start_daemon()
        self.wait_data("es", EXPECTED)
        self.assertEqual(self.read_accessors(), {self.accessor(token)})
        self.assertEqual(self.logins(), 0, "a static token needs no login")

    def test_app_role_with_role_id_role_ref_and_a_wrong_secret_id(self):
        self.auth_role("approle", role="e2e", role_id="rid-1", secret_id="sid-1",
                       token_ttl=3600, token_max_ttl=7200)
        self.put_secret("approle", {"role-id": "rid-1", "secret-id": "sid-1", "bad": "sid-x"})
        self.store({"appRole": {"path": "approle", "roleId": "rid-1",
                                "secretRef": sel("approle", "secret-id")}})
        self.es("es")
        self.start_daemon()
        self.assert_synced_with_login("es", "approle/approle")
        self.assertEqual(self.logins("approle/approle"), 1)
        self.store({"appRole": {"roleRef": sel("approle", "role-id"),
                                "secretRef": sel("approle", "secret-id")}}, name="by-ref")
        self.es("es-ref", store="by-ref")
        self.wait_data("es-ref", EXPECTED)
        self.store({"appRole": {"roleId": "rid-1", "secretRef": sel("approle", "bad")}},
                   name="wrong")
        self.es("es-wrong", store="wrong")
        self.assert_refused("es-wrong", "invalid role or secret ID")

    def test_kubernetes_service_account_ref_and_secret_ref(self):
        self.service_account("vault-sa")
        self.service_account("stranger")
        self.auth_role("kubernetes", role="e2e-k8s", token_ttl=3600, token_max_ttl=7200,
                       bound_audiences=["vault"], bound_service_account_names=["vault-sa"],
                       bound_service_account_namespaces=[NS])
        self.store({"kubernetes": {"mountPath": "kubernetes", "role": "e2e-k8s",
                                   "serviceAccountRef": {"name": "vault-sa",
                                                         "audiences": ["vault"]}}})
        self.es("es")
        self.start_daemon()
        self.assert_synced_with_login("es", "kubernetes/kubernetes")
        self.assertEqual(self.logins("kubernetes/kubernetes"), 1)
        token_requests = [r for r in self.cluster.daemon_requests() if r["method"] == "POST"
                          and r["path"] == "/api/v1/namespaces/%s/serviceaccounts/vault-sa/token"
                          % NS]
        self.assertEqual(len(token_requests), 1, "one TokenRequest for one login")
        # A JWT kept in a Secret (default key `token`).
        self.put_secret("sa-jwt", {"token": sa_jwt(NS, "vault-sa")})
        self.store({"kubernetes": {"role": "e2e-k8s", "secretRef": {"name": "sa-jwt"}}},
                   name="jwt-in-secret")
        self.es("es-secret", store="jwt-in-secret")
        self.wait_data("es-secret", EXPECTED)
        # A service account the role does not bind is refused.
        self.store({"kubernetes": {"role": "e2e-k8s", "serviceAccountRef": {
            "name": "stranger", "audiences": ["vault"]}}}, name="stranger")
        self.es("es-stranger", store="stranger")
        self.assert_refused("es-stranger", "service account name not authorized")

    def own_token_kubeconfig(self, jwt):
        """A kubeconfig whose user reads its bearer token from a file, as the in-cluster config
        reads /var/run/secrets/kubernetes.io/serviceaccount/token: the daemon's own
        service-account token. The fake API server then accepts only that token."""
        token_file = self.tmp / "sa-token"
        token_file.write_text(jwt + "\n")
        self.cluster.fake.set_tokens(jwt)
        self.kubeconfig = str(self.tmp / "kubeconfig-sa")
        Path(self.kubeconfig).write_text(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n"
            "    server: %s\nusers:\n- name: sa\n  user:\n    tokenFile: %s\n"
            "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: sa\n"
            "current-context: fake\n" % (self.cluster.url, token_file))

    def test_kubernetes_with_the_daemons_own_service_account_token(self):
        # The daemon's pod identity: a TokenRequest JWT (signed with the key both fakes share)
        # for external-secrets/extsecretd, with the API server's default audience.
        self.service_account("extsecretd", ns="external-secrets")
        status, out = self.cluster.api(
            "POST", "/api/v1/namespaces/external-secrets/serviceaccounts/extsecretd/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
             "spec": {"expirationSeconds": 3600}})
        self.assertIn(status, (200, 201), out)
        self.own_token_kubeconfig(out["status"]["token"])
        self.auth_role("kubernetes", role="own", token_ttl=3600,
                       bound_service_account_names=["extsecretd"],
                       bound_service_account_namespaces=["external-secrets"])
        self.auth_role("kubernetes", role="someone-else", token_ttl=3600,
                       bound_service_account_names=["vault-sa"])
        # Neither serviceAccountRef nor secretRef: ESO reads the pod's own token.
        self.store({"kubernetes": {"role": "own"}})
        self.store({"kubernetes": {"role": "someone-else"}}, name="other-role")
        self.es("es")
        self.es("es-other", store="other-role")
        self.start_daemon()
        self.assert_synced_with_login("es", "kubernetes/kubernetes")
        self.assertEqual(self.logins("kubernetes/kubernetes"), 1)
        # The Vault token was issued to the daemon's own service account ...
        issued = [t for t in self.vault.issued_tokens() if t["path"] == "auth/kubernetes/login"]
        self.assertEqual(len(issued), 1)
        status, info = self.http("GET", "/v1/auth/token/lookup-self", token=issued[0]["token"])
        self.assertEqual(status, 200, info)
        meta = info["data"]["meta"]
        self.assertEqual((meta["service_account_namespace"], meta["service_account_name"]),
                         ("external-secrets", "extsecretd"))
        self.assertEqual(self.read_accessors(), {issued[0]["accessor"]})
        # ... read from the token file, not asked for through TokenRequest.
        self.assertEqual([r for r in self.cluster.daemon_requests()
                          if r["path"].endswith("/token") and r["method"] == "POST"], [])
        # The same identity is refused by a role bound to another service account.
        self.assert_refused("es-other", "service account name not authorized")

    def test_kubernetes_own_token_outside_a_cluster_is_an_auth_error(self):
        # The default kubeconfig carries a static token and no tokenFile: there is no
        # service-account token to log in with.
        self.auth_role("kubernetes", role="own", token_ttl=3600)
        self.store({"kubernetes": {"role": "own"}})
        self.es("es")
        self.start_daemon()
        self.assert_refused("es", "not running in a cluster")
        self.assertEqual(self.logins(), 0)
        self.assertEqual(self.read_accessors(), set(), "Vault was never read")

    def test_jwt_secret_ref_and_kubernetes_service_account_token(self):
        self.service_account("vault-sa")
        self.auth_role("jwt", role="e2e-jwt", token_ttl=3600, token_max_ttl=7200,
                       bound_audiences=["vault"])
        self.put_secret("jwt", {"jwt": sa_jwt(NS, "someone"),
                                "forged": sa_jwt(NS, "someone")[:-6] + "AAAAAA"})
        self.store({"jwt": {"path": "jwt", "role": "e2e-jwt", "secretRef": sel("jwt", "jwt")}})
        self.store({"jwt": {"role": "e2e-jwt", "kubernetesServiceAccountToken": {
            "serviceAccountRef": {"name": "vault-sa"}, "audiences": ["vault"],
            "expirationSeconds": 600}}}, name="sa-token")
        self.auth_role("jwt", path="jwt-bad", role="e2e-jwt", token_ttl=3600,
                       bound_audiences=["vault"])
        self.store({"jwt": {"path": "jwt-bad", "role": "e2e-jwt",
                            "secretRef": sel("jwt", "forged")}}, name="forged")
        self.es("es")
        self.es("es-sa", store="sa-token")
        self.es("es-forged", store="forged")
        self.start_daemon()
        self.assert_synced_with_login("es", "jwt/jwt")
        self.wait_data("es-sa", EXPECTED)
        self.assert_refused("es-forged", "error validating token")
        self.assertEqual(self.logins("jwt/jwt"), 2, "one login per store")

    def test_user_pass_and_ldap(self):
        self.auth_role("userpass", username="alice", password="pw-alice", token_ttl=3600)
        self.auth_role("ldap", username="bob", password="pw-bob", token_ttl=3600)
        self.put_secret("pw", {"alice": "pw-alice", "bob": "pw-bob"})
        self.store({"userPass": {"path": "userpass", "username": "alice",
                                 "secretRef": sel("pw", "alice")}})
        self.store({"ldap": {"path": "ldap", "username": "bob", "secretRef": sel("pw", "bob")}},
                   name="ldap")
        self.store({"ldap": {"username": "bob", "secretRef": sel("pw", "alice")}}, name="wrong")
        self.es("es")
        self.es("es-ldap", store="ldap")
        self.es("es-wrong", store="wrong")
        self.start_daemon()
        self.assert_synced_with_login("es", "userpass/userpass")
        self.wait_data("es-ldap", EXPECTED)
        self.assertEqual(self.logins("userpass/userpass"), 1)
        self.assert_refused("es-wrong", "failed to bind as user")

    def test_referent_cluster_store_resolves_the_token_in_the_es_namespace(self):
        tokens = {}
        for ns in ("team-a", "team-b"):
            tokens[ns] = self.new_token()
            self.put_secret("vault-token", {"token": tokens[ns]}, ns=ns)
        self.store({"tokenSecretRef": sel("vault-token", "token")}, name="css",
                   kind="ClusterSecretStore")
        for ns in ("team-a", "team-b", "team-c"):
            self.es("es", store="css", ns=ns, kind="ClusterSecretStore")
        self.start_daemon()
        for ns in ("team-a", "team-b"):
            self.wait_data("es", EXPECTED, ns=ns)
        self.assert_refused("es", "vault-token", ns="team-c")
        self.assertEqual(self.read_accessors(),
                         {self.accessor(tokens["team-a"]), self.accessor(tokens["team-b"])})

    def test_secret_store_cannot_read_another_namespaces_secret(self):
        self.put_secret("vault-token", {"token": self.new_token()}, ns="other")
        self.store({"tokenSecretRef": sel("vault-token", "token", ns="other")})
        self.es("es")
        self.start_daemon()
        self.assert_refused("es", 'namespace "other"')
        self.assertEqual([r for r in self.cluster.daemon_requests()
                          if r["path"].startswith("/api/v1/namespaces/other/secrets")], [])
        self.assertEqual(self.read_accessors(), set(), "Vault was never read")


class TlsAuth(AuthBase):
    TLS = True

    def setUp(self):
        super().setUp()
        self.ca = b64(Path(self.vault.ca_file).read_text())
        self.put_secret("client", {"tls.crt": Path(self.vault.client_cert).read_text(),
                                   "tls.key": Path(self.vault.client_key).read_text()})

    def test_cert_auth_over_tls(self):
        self.auth_role("cert", name="e2e-cert", token_ttl=3600)
        self.store({"cert": {"path": "cert", "vaultRole": "e2e-cert",
                             "clientCert": sel("client", "tls.crt"),
                             "secretRef": sel("client", "tls.key")}}, caBundle=self.ca)
        self.es("es")
        self.start_daemon()
        self.assert_synced_with_login("es", "cert/cert")
        self.assertEqual(self.logins("cert/cert"), 1)

    def test_token_with_mtls_and_a_rogue_client_certificate(self):
        tls = {"certSecretRef": sel("client", "tls.crt"), "keySecretRef": sel("client", "tls.key")}
        self.token_store(caBundle=self.ca, tls=tls)
        self.es("es")
        # A client certificate from another CA is rejected in the handshake: proof that the
        # configured certificate is the one presented.
        key, crt = self.tmp / "rogue.key", self.tmp / "rogue.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                        str(crt), "-days", "1", "-subj", "/CN=rogue"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.put_secret("rogue", {"tls.crt": crt.read_text(), "tls.key": key.read_text()})
        self.put_secret("vault-token2", {"token": self.new_token()})
        self.store({"tokenSecretRef": sel("vault-token2", "token")}, name="rogue",
                   caBundle=self.ca, tls={"certSecretRef": {"name": "rogue"},
                                          "keySecretRef": {"name": "rogue"}})
        self.store({"tokenSecretRef": sel("vault-token2", "token")}, name="no-ca", tls=tls)
        self.es("es-rogue", store="rogue")
        self.es("es-no-ca", store="no-ca")
        self.start_daemon()
        self.wait_data("es", EXPECTED)
        self.assert_refused("es-rogue", "")
        self.assert_refused("es-no-ca", "certificate")


if __name__ == "__main__":
    harness.main()
