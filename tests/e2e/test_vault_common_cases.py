#!/usr/bin/env python3
"""e2e: ESO's common cases on every Vault auth variant of eso-api.md §6.2 (vault/vault.go):
token C18, C19, C08, C10, C03, C04, C17; cert / appRole / KV v1 / jwt / kubernetes C18, C19,
C08, C10, C03, C04 (jwt with a service-account token: no C18/C19); referent token C08; token +
mTLS C18; referent + mTLS C08. (C05, C06, C07 and C13 need templates: not supported yet.)
"""

from pathlib import Path

import harness
from harness import b64, external_secret, ref
from vault_support import NS, VaultCase, sa_jwt, sel

FOO1 = '{"foo1":"foo1-val"}'
ALL = ("C18", "C19", "C08", "C10", "C03", "C04")


class CommonCases(VaultCase):
    """Puts ESO's fixture values (in both KV mounts) and runs the cases against one store."""

    def setUp(self):
        super().setUp()
        for n in ("one", "two", "three"):
            self.put_both("e2e_find_name_" + n, {"foo1": "foo1-val"})
            self.put_both("e2e_find_and_rewrite_" + n, {"foo1": "foo1-val"})
        self.put_both("c08", {"name": "great-name", "surname": "great-surname"})
        self.put_both("c10", {"username": "myuser.name", "address": "happy street"})
        self.put_both("e2e-one", {"foo1": "foo1-val", "bar1": "bar1-val"})
        self.put_both("e2e-two", {"foo2": "foo2-val", "bar2": "bar2-val"})
        self.put_both("c04", {"foo": "foo-val", "bar": "bar-val"})
        self.put_both("c17", {"name": "Z3JlYXQtbmFtZQ==", "surname": "Z3JlYXQtc3VybmFtZQ==",
                              "address": "happy calm street No. 1"})

    def apply_cases(self, store, cases=ALL, kind="SecretStore", ns=NS):
        def es(case, **kw):
            name = "%s-%s" % (store, case.lower())
            kw.setdefault("target", {"name": name})
            self.cluster.apply(external_secret(ns, name, store=store, store_kind=kind, **kw))
        specs = {
            "C18": dict(data_from=[{"find": {"name": {"regexp": "e2e_find_name_.+"}}}]),
            "C19": dict(data_from=[{"find": {"name": {"regexp": "e2e_find_and_rewrite_.+"}},
                                    "rewrite": [{"regexp": {"source": "e2e_find_and_rewrite_(.*)",
                                                            "target": "$1"}}]}]),
            "C08": dict(data_from=[{"extract": {"key": "c08"}}]),
            "C10": dict(data_from=[{"extract": {"key": "c10"}, "rewrite": [
                {"regexp": {"source": "(.*)", "target": "my_$1"}}]}]),
            "C03": dict(data=[ref("e2e-one", "e2e-one", property="foo1"),
                              ref("e2e-two", "e2e-two", property="bar2")]),
            "C04": dict(target={"name": ""}, data=[ref("e2e-one", "c04", property="foo")]),
            "C17": dict(data_from=[{"extract": {"key": "c17", "decodingStrategy": "Auto"}}],
                        data=[dict(ref("base64", "c17", property="name"),
                                   remoteRef={"key": "c17", "property": "name",
                                              "decodingStrategy": "Base64"}),
                              dict(ref("none", "c17", property="name"),
                                   remoteRef={"key": "c17", "property": "name",
                                              "decodingStrategy": "None"})]),
        }
        for case in cases:
            es(case, **specs[case])

    def check_cases(self, store, cases=ALL, ns=NS):
        want = {
            "C18": {"e2e_find_name_one": FOO1, "e2e_find_name_two": FOO1,
                    "e2e_find_name_three": FOO1},
            "C19": {"one": FOO1, "two": FOO1, "three": FOO1},
            "C08": {"name": "great-name", "surname": "great-surname"},
            "C10": {"my_username": "myuser.name", "my_address": "happy street"},
            "C03": {"e2e-one": "foo1-val", "e2e-two": "bar2-val"},
            "C04": {"e2e-one": "foo-val"},
            "C17": {"name": "great-name", "surname": "great-surname",
                    "address": "happy calm street No. 1", "base64": "great-name",
                    "none": "Z3JlYXQtbmFtZQ=="},
        }
        for case in cases:
            name = "%s-%s" % (store, case.lower())
            self.wait_data(name, want[case], ns=ns)
            self.wait_condition(name, "True", "SecretSynced", ns=ns)


class PlainAuth(CommonCases):

    def test_token_and_kv_v1(self):
        self.token_store(name="token")
        self.token_store(name="v1", secret="vault-token-v1", path="secret_v1", version="v1")
        self.apply_cases("token", ALL + ("C17",))
        self.apply_cases("v1")
        self.start_daemon()
        self.check_cases("token", ALL + ("C17",))
        self.check_cases("v1")

    def test_app_role_kubernetes_and_jwt(self):
        self.auth_role("approle", role="e2e", role_id="rid-1", secret_id="sid-1", token_ttl=3600)
        self.put_secret("approle", {"secret-id": "sid-1"})
        self.store({"appRole": {"path": "approle", "roleId": "rid-1",
                                "secretRef": sel("approle", "secret-id")}}, name="approle")
        self.service_account("vault-sa")
        self.auth_role("kubernetes", role="e2e-k8s", token_ttl=3600, bound_audiences=["vault"],
                       bound_service_account_names=["vault-sa"],
                       bound_service_account_namespaces=[NS])
        self.store({"kubernetes": {"role": "e2e-k8s", "serviceAccountRef": {
            "name": "vault-sa", "audiences": ["vault"]}}}, name="k8s")
        self.auth_role("jwt", role="e2e-jwt", token_ttl=3600, bound_audiences=["vault"])
        self.put_secret("jwt", {"jwt": sa_jwt(NS, "someone")})
        self.store({"jwt": {"role": "e2e-jwt", "secretRef": sel("jwt", "jwt")}}, name="jwt")
        self.store({"jwt": {"role": "e2e-jwt", "kubernetesServiceAccountToken": {
            "serviceAccountRef": {"name": "vault-sa"}, "audiences": ["vault"]}}}, name="jwt-k8s")
        no_find = tuple(c for c in ALL if c not in ("C18", "C19"))
        for store in ("approle", "k8s", "jwt"):
            self.apply_cases(store)
        self.apply_cases("jwt-k8s", no_find)
        self.start_daemon()
        for store in ("approle", "k8s", "jwt"):
            self.check_cases(store)
        self.check_cases("jwt-k8s", no_find)

    def test_referent_token_c08(self):
        self.put_secret("vault-token", {"token": self.new_token()}, ns="team-a")
        self.store({"tokenSecretRef": sel("vault-token", "token")}, name="referent",
                   kind="ClusterSecretStore")
        self.apply_cases("referent", ("C08",), kind="ClusterSecretStore", ns="team-a")
        self.start_daemon()
        self.check_cases("referent", ("C08",), ns="team-a")


class TlsAuth(CommonCases):
    TLS = True

    def setUp(self):
        super().setUp()
        self.ca = b64(Path(self.vault.ca_file).read_text())
        self.client = {"tls.crt": Path(self.vault.client_cert).read_text(),
                       "tls.key": Path(self.vault.client_key).read_text()}
        self.put_secret("client", self.client)

    def test_cert_auth(self):
        self.auth_role("cert", name="e2e-cert", token_ttl=3600)
        self.store({"cert": {"vaultRole": "e2e-cert", "clientCert": sel("client", "tls.crt"),
                             "secretRef": sel("client", "tls.key")}}, name="cert",
                   caBundle=self.ca)
        self.apply_cases("cert")
        self.start_daemon()
        self.check_cases("cert")

    def test_mtls_c18_and_referent_mtls_c08(self):
        tls = {"certSecretRef": sel("client", "tls.crt"), "keySecretRef": sel("client", "tls.key")}
        self.token_store(name="mtls", caBundle=self.ca, tls=tls)
        self.put_secret("client", self.client, ns="team-a")
        self.put_secret("vault-token", {"token": self.new_token()}, ns="team-a")
        self.store({"tokenSecretRef": sel("vault-token", "token")}, name="referent-mtls",
                   kind="ClusterSecretStore", caBundle=self.ca, tls=tls)
        self.apply_cases("mtls", ("C18",))
        self.apply_cases("referent-mtls", ("C08",), kind="ClusterSecretStore", ns="team-a")
        self.start_daemon()
        self.check_cases("mtls", ("C18",))
        self.check_cases("referent-mtls", ("C08",), ns="team-a")


if __name__ == "__main__":
    harness.main()
