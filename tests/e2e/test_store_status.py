#!/usr/bin/env python3
"""e2e: SecretStore / ClusterSecretStore status (ESO's store controller, eso-api.md §1.4, §2.10).

When a store appears or its spec changes the daemon validates it and merge-patches
`status.conditions` = [Ready] and `status.capabilities: ReadWrite` on .../status, only when the
condition changes:
- invalid or unsupported provider spec: Ready=False InvalidProviderConfig "unable to create
  client" and a Warning event InvalidProviderConfig with the detail;
- SecretStore whose client does not validate (fake validationResult 2, Vault refusing the
  connection or the login): Ready=False InvalidProviderConfig "unable to validate store";
- SecretStore that validates: Ready=True Valid "store validated", a Normal event Valid only when
  the condition changes (ESO repeats it every 5 min; we do not);
- ClusterSecretStore: static validation only: Ready=True ValidationUnknown "could not determine
  validation status" (or InvalidProviderConfig "unable to create client").
Nothing is rewritten when nothing changed: not the daemon's own status echo, not a status-only
change, not a restart. The Vault case is ESO's e2e "store without clientTLS configuration should
not be valid" against the fake Vault over HTTPS with --require-client-cert.
"""

from pathlib import Path

import harness
from harness import b64, event_text, external_secret, fake_store, ref
from vault_support import NS, k8s_secret, sel, vault_store

import vaultfake_client  # noqa: E402  (tests/fakes, on sys.path through harness)

GROUP_V1 = "/apis/external-secrets.io/v1"
UNABLE_CREATE = "unable to create client"
UNABLE_VALIDATE = "unable to validate store"
UNKNOWN = "could not determine validation status"
READ_POLICY = "e2e-read"
EVENTS_NS_FOR_CLUSTER = "default"   # events about cluster-scoped objects live in "default"


def store_obj_path(kind, name, ns=NS):
    if kind == "ClusterSecretStore":
        return "%s/clustersecretstores/%s" % (GROUP_V1, name)
    return "%s/namespaces/%s/secretstores/%s" % (GROUP_V1, ns, name)


def azure_store(name, ns=NS):
    return {"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"provider": {"azurekv": {"vaultUrl": "https://e2e.vault.azure.net",
                                              "authType": "ManagedIdentity"}}}}


def fake_with(ns, name, kind="SecretStore", validation=None, data=None):
    obj = fake_store(ns, name, data if data is not None else {"k": "v"}, kind=kind)
    if validation is not None:
        obj["spec"]["provider"]["fake"]["validationResult"] = validation
    return obj


class StoreStatusBase(harness.E2ETestCase):

    # --- observation ------------------------------------------------------------------------
    def store_get(self, name, kind="SecretStore", ns=NS):
        return self.cluster.get(store_obj_path(kind, name, ns))

    def first_condition(self, name, kind="SecretStore", ns=NS):
        obj = self.store_get(name, kind, ns)
        conds = ((obj or {}).get("status") or {}).get("conditions") or []
        return conds[0] if conds else None

    def wait_store(self, name, status, reason, message=None, contains=None, kind="SecretStore",
                   ns=NS, timeout=harness.WAIT):
        """The store once its FIRST condition is Ready=status/reason (message exact or contained)."""
        def check():
            c = self.first_condition(name, kind, ns) or {}
            if c.get("type") == "Ready" and c.get("status") == status and \
                    c.get("reason") == reason and message in (None, c.get("message")) and \
                    (contains is None or contains in (c.get("message") or "")):
                return self.store_get(name, kind, ns)
            return None
        return self.wait_until(check, timeout, "%s %s first condition Ready=%s %s %s" % (
            kind, name, status, reason, message or contains or ""))

    def status_writes(self, name, kind="SecretStore", ns=NS, since=0):
        """The daemon's write requests to the store's /status subresource after seq `since`."""
        path = store_obj_path(kind, name, ns) + "/status"
        return [r for r in self.cluster.daemon_requests(since)
                if r["method"] in harness.WRITE_METHODS and r["path"] == path]

    def store_events(self, name, kind="SecretStore", ns=NS, reason=None, type_=None):
        ev_ns = EVENTS_NS_FOR_CLUSTER if kind == "ClusterSecretStore" else ns
        out = []
        for ev in self.cluster.events(ev_ns, name):
            about = ev.get("regarding") or ev.get("involvedObject") or {}
            if about.get("kind") != kind:
                continue
            if reason is not None and ev.get("reason") != reason:
                continue
            if type_ is not None and ev.get("type") != type_:
                continue
            out.append(ev)
        return out

    def wait_store_event(self, name, type_, reason, contains="", kind="SecretStore", ns=NS):
        return self.wait_until(
            lambda: [e for e in self.store_events(name, kind, ns, reason, type_)
                     if contains in event_text(e)],
            what="%s event %s for %s %s containing %r" % (type_, reason, kind, name, contains))

    def sentinel(self, name="sentinel"):
        """A fresh valid SecretStore, applied and waited for: every store watch event before it
        has been handled by then (one watch, one thread), so negative checks need no sleep."""
        self.cluster.apply(fake_with(NS, name))
        self.wait_store(name, "True", "Valid", "store validated")

    # --- assertions ---------------------------------------------------------------------------
    def assert_status_shape(self, obj, status, reason, message):
        st = obj["status"]
        self.assertEqual(set(st), {"conditions", "capabilities"},
                         "a store status holds conditions and capabilities only: %r" % st)
        self.assertEqual(st["capabilities"], "ReadWrite")
        self.assertEqual(len(st["conditions"]), 1, st)
        c = st["conditions"][0]
        self.assertEqual((c["type"], c["status"], c["reason"], c["message"]),
                         ("Ready", status, reason, message))
        self.assertRegex(c.get("lastTransitionTime") or "",
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

    def assert_one_merge_patch(self, name, kind="SecretStore", ns=NS, since=0):
        writes = self.status_writes(name, kind, ns, since)
        self.assertEqual([(w["method"], w.get("content_type", "").split(";")[0]) for w in writes],
                         [("PATCH", "application/merge-patch+json")],
                         "exactly one JSON merge patch on %s %s status" % (kind, name))


class FakeStores(StoreStatusBase):

    def test_valid_secret_store_is_valid_once(self):
        self.cluster.apply(fake_with(NS, "store", data={"db-pass": "pw"}))
        self.cluster.apply(external_secret(NS, "es", data=[ref("password", "db-pass")]))
        self.start_daemon()
        obj = self.wait_store("store", "True", "Valid", "store validated")
        self.assert_status_shape(obj, "True", "Valid", "store validated")
        self.wait_data("es", {"password": "pw"})
        self.wait_store_event("store", "Normal", "Valid", "store validated")
        # The daemon's own status write comes back through the watch: no second write/event.
        self.sentinel()
        self.assert_one_merge_patch("store")
        self.assertEqual(len(self.store_events("store", reason="Valid")), 1)
        self.assertEqual(self.store_events("store", type_="Warning"), [])

    def test_invalid_or_unsupported_provider_cannot_create_a_client(self):
        self.cluster.apply(azure_store("azure"))
        empty_key = fake_store(NS, "empty-key", [{"key": "", "value": "v"}])
        self.cluster.apply(empty_key)
        self.start_daemon()
        for name, detail in (("azure", "azurekv"), ("empty-key", "key")):
            obj = self.wait_store(name, "False", "InvalidProviderConfig", UNABLE_CREATE)
            self.assert_status_shape(obj, "False", "InvalidProviderConfig", UNABLE_CREATE)
            ev = self.wait_store_event(name, "Warning", "InvalidProviderConfig", detail)
            self.assertNotEqual(event_text(ev[0]), UNABLE_CREATE,
                                "the Warning event carries the detail, not the fixed message")
        self.sentinel()
        for name in ("azure", "empty-key"):
            self.assert_one_merge_patch(name)
            self.assertEqual(self.store_events(name, type_="Normal"), [])
            self.assertEqual(len(self.store_events(name, type_="Warning")), 1)

    def test_validation_result_error_and_unknown(self):
        self.cluster.apply(fake_with(NS, "broken", validation=2))
        self.cluster.apply(fake_with(NS, "unknown", validation=1))
        self.start_daemon()
        obj = self.wait_store("broken", "False", "InvalidProviderConfig", UNABLE_VALIDATE)
        self.assert_status_shape(obj, "False", "InvalidProviderConfig", UNABLE_VALIDATE)
        self.wait_store_event("broken", "Warning", "InvalidProviderConfig")
        obj = self.wait_store("unknown", "True", "ValidationUnknown", UNKNOWN)
        self.assert_status_shape(obj, "True", "ValidationUnknown", UNKNOWN)
        self.sentinel()
        self.assert_one_merge_patch("broken")
        self.assert_one_merge_patch("unknown")
        self.assertEqual(self.store_events("broken", type_="Normal"), [])

    def test_spec_changes_flip_the_condition_and_status_only_changes_write_nothing(self):
        path = store_obj_path("SecretStore", "store")
        self.cluster.apply(fake_with(NS, "store"))
        self.start_daemon()
        first = self.wait_store("store", "True", "Valid", "store validated")
        t0 = first["status"]["conditions"][0]["lastTransitionTime"]
        self.wait_store_event("store", "Normal", "Valid")

        self.cluster.update(path, lambda o: o["spec"]["provider"]["fake"].update(
            validationResult=2))
        bad = self.wait_store("store", "False", "InvalidProviderConfig", UNABLE_VALIDATE)
        self.assertGreaterEqual(bad["status"]["conditions"][0]["lastTransitionTime"], t0)
        self.wait_store_event("store", "Warning", "InvalidProviderConfig")

        self.cluster.update(path, lambda o: o["spec"]["provider"]["fake"].pop("validationResult"))
        self.wait_store("store", "True", "Valid", "store validated")
        self.wait_until(lambda: len(self.store_events("store", reason="Valid")) == 2,
                        what="a second Normal Valid event after the condition changed back")

        # A spec change that keeps the store valid changes no condition: no write, no event.
        self.cluster.update(path, lambda o: o["spec"]["provider"]["fake"]["data"].append(
            {"key": "k2", "value": "v2"}))
        # A status-only change (same status, new resourceVersion) is not a spec change.
        cur = self.cluster.get(path)
        status, out = self.cluster.api("PUT", path + "/status", cur)
        self.assertEqual(status, 200, out)
        self.sentinel()
        writes = self.status_writes("store")
        self.assertEqual([w["method"] for w in writes], ["PATCH"] * 3,
                         "one merge patch per condition change (True, False, True)")
        self.assertEqual(len(self.store_events("store", reason="Valid")), 2)
        self.assertEqual(len(self.store_events("store", type_="Warning")), 1)

    def test_cluster_secret_store_gets_static_validation_only(self):
        self.cluster.apply(fake_with(None, "css", kind="ClusterSecretStore"))
        self.cluster.apply(fake_with(None, "css-forced", kind="ClusterSecretStore",
                                     validation=2))
        self.cluster.apply(fake_store(None, "css-bad", [{"key": "", "value": "v"}],
                                      kind="ClusterSecretStore"))
        self.cluster.apply(external_secret("team-a", "es", store="css",
                                           store_kind="ClusterSecretStore",
                                           data=[ref("value", "k")]))
        self.start_daemon()
        for name in ("css", "css-forced"):
            obj = self.wait_store(name, "True", "ValidationUnknown", UNKNOWN,
                                  kind="ClusterSecretStore")
            self.assert_status_shape(obj, "True", "ValidationUnknown", UNKNOWN)
        obj = self.wait_store("css-bad", "False", "InvalidProviderConfig", UNABLE_CREATE,
                              kind="ClusterSecretStore")
        self.assert_status_shape(obj, "False", "InvalidProviderConfig", UNABLE_CREATE)
        self.wait_store_event("css-bad", "Warning", "InvalidProviderConfig", "key",
                              kind="ClusterSecretStore")
        self.wait_data("es", {"value": "v"}, ns="team-a")
        self.sentinel()
        for name in ("css", "css-forced", "css-bad"):
            self.assert_one_merge_patch(name, kind="ClusterSecretStore")
        self.assertEqual(self.store_events("css", kind="ClusterSecretStore", reason="Valid"), [])

    def test_restart_writes_no_store_status(self):
        self.cluster.apply(fake_with(NS, "good"))
        self.cluster.apply(fake_with(NS, "broken", validation=2))
        self.cluster.apply(azure_store("azure"))
        self.cluster.apply(fake_with(None, "css", kind="ClusterSecretStore"))
        d = self.start_daemon()
        self.wait_store("good", "True", "Valid", "store validated")
        self.wait_store("broken", "False", "InvalidProviderConfig", UNABLE_VALIDATE)
        self.wait_store("azure", "False", "InvalidProviderConfig", UNABLE_CREATE)
        self.wait_store("css", "True", "ValidationUnknown", UNKNOWN, kind="ClusterSecretStore")
        self.sentinel("sentinel-1")
        self.stop_daemon(d)
        seq = self.cluster.last_seq()
        events_before = {n: len(self.store_events(n)) for n in ("good", "broken", "azure")}
        self.start_daemon()
        self.sentinel("sentinel-2")
        self.assert_one_merge_patch("sentinel-2", since=seq)   # the log filter does see writes
        status_writes = [r for r in self.cluster.daemon_requests(seq)
                         if r["method"] in harness.WRITE_METHODS and r["path"].endswith("/status")
                         and "sentinel-2" not in r["path"]]
        self.assertEqual(status_writes, [], "a restart rewrites no store status")
        for n, before in events_before.items():
            self.assertEqual(len(self.store_events(n)), before, "no new event for %s" % n)


class VaultClientTls(StoreStatusBase):
    """ESO e2e (vault): "store without clientTLS configuration should not be valid"."""

    def setUp(self):
        super().setUp()
        (self.tmp / "vault").mkdir()
        self.vault = vaultfake_client.start_vault(str(self.tmp / "vault"), tls=True,
                                                  require_client_cert=True)
        self.addCleanup(self.vault.stop)
        self.vault.policy(READ_POLICY, {"secret/*": ["read", "list"]})
        self.vault.approle("e2e", "rid-1", "sid-1", [READ_POLICY])
        self.vault.put_kv("secret", "app", {"v": "ok"})
        self.ca = b64(Path(self.vault.ca_file).read_text())
        self.cluster.apply(k8s_secret(NS, "approle", {"secret-id": "sid-1", "bad": "sid-x"}))
        self.cluster.apply(k8s_secret(NS, "vault-tls-client", {
            "client.crt": Path(self.vault.client_cert).read_text(),
            "client.key": Path(self.vault.client_key).read_text()}))
        self.tls = {"certSecretRef": sel("vault-tls-client", "client.crt"),
                    "keySecretRef": sel("vault-tls-client", "client.key")}

    def store(self, name, secret_key="secret-id", tls=None):
        auth = {"appRole": {"path": "approle", "roleId": "rid-1",
                            "secretRef": sel("approle", secret_key)}}
        extra = {"caBundle": self.ca}
        if tls is not None:
            extra["tls"] = tls
        return vault_store(name, self.vault.url, auth, **extra)

    def test_fake_vault_refuses_a_handshake_without_client_certificate(self):
        import ssl
        import http.client
        ctx = ssl.create_default_context(cafile=self.vault.ca_file)
        conn = http.client.HTTPSConnection("127.0.0.1", self.vault.port, context=ctx, timeout=10)
        with self.assertRaises((ssl.SSLError, OSError)):
            conn.request("GET", "/v1/sys/health")
            conn.getresponse().read()
        conn.close()
        self.assertTrue(self.vault.healthy(), "the helper presents the client certificate")

    def test_store_without_client_tls_is_not_valid_and_becomes_valid_with_it(self):
        self.cluster.apply(self.store("no-tls"))
        self.cluster.apply(external_secret(NS, "es", store="no-tls",
                                           data=[ref("value", "app", property="v")]))
        self.start_daemon()
        obj = self.wait_store("no-tls", "False", "InvalidProviderConfig",
                              contains=UNABLE_VALIDATE, timeout=60)
        self.assert_status_shape(obj, "False", "InvalidProviderConfig", UNABLE_VALIDATE)
        self.wait_store_event("no-tls", "Warning", "InvalidProviderConfig")
        self.assertEqual(self.vault.stats()["logins"].get("approle/approle", 0), 0,
                         "no login can get through without the client certificate")
        # The same store with tls.certSecretRef/keySecretRef validates (the login works).
        self.cluster.update(store_obj_path("SecretStore", "no-tls"),
                            lambda o: o["spec"]["provider"]["vault"].update(tls=self.tls))
        obj = self.wait_store("no-tls", "True", "Valid", "store validated", timeout=60)
        self.assert_status_shape(obj, "True", "Valid", "store validated")
        self.wait_store_event("no-tls", "Normal", "Valid", "store validated")
        self.assertGreaterEqual(self.vault.stats()["logins"].get("approle/approle", 0), 1)
        self.wait_data("es", {"value": "ok"}, timeout=60)

    def test_store_with_client_tls_is_valid_and_a_refused_login_is_not(self):
        self.cluster.apply(self.store("with-tls", tls=self.tls))
        self.cluster.apply(self.store("wrong-secret", secret_key="bad", tls=self.tls))
        self.start_daemon()
        obj = self.wait_store("with-tls", "True", "Valid", "store validated", timeout=60)
        self.assert_status_shape(obj, "True", "Valid", "store validated")
        obj = self.wait_store("wrong-secret", "False", "InvalidProviderConfig",
                              contains=UNABLE_VALIDATE, timeout=60)
        self.assert_status_shape(obj, "False", "InvalidProviderConfig", UNABLE_VALIDATE)
        self.wait_store_event("wrong-secret", "Warning", "InvalidProviderConfig",
                              "invalid role or secret ID")
        self.wait_store_event("with-tls", "Normal", "Valid", "store validated")
        self.sentinel()
        self.assert_one_merge_patch("with-tls")
        self.assert_one_merge_patch("wrong-secret")


if __name__ == "__main__":
    harness.main()
