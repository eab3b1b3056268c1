"""Shared helpers for the Vault end-to-end tests (test_vault_*.py).

VaultCase extends harness.E2ETestCase with a fake Vault per test (tests/fakes/vault_server.py
through vaultfake_client.start_vault; plain HTTP, or HTTPS with TLS = True). Configuration goes
through the fake's documented control API (/_fake/...) so the tests depend only on the contract
in the fake's documentation. Store builders follow ESO's spec.provider.vault (eso-api.md §3.4).
"""

import base64
import hashlib
import hmac
import json
import ssl
import sys
import time
import urllib.error
import urllib.request

import harness
from harness import b64

import vaultfake_client  # noqa: E402  (tests/fakes, on sys.path through harness)

NS = "e2e"
READ_POLICY = "e2e-read"
JWT_KEY = "fake-jwt-key"   # the default key of both fakes (Kubernetes TokenRequest and Vault)
PROVIDER = "HashiCorp/Vault"


def mint_jwt(claims, key=JWT_KEY):
    """An HS256 JWT over claims (what a Kubernetes API server would issue)."""
    def enc(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = enc(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(key.encode(), ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, enc(sig))


def sa_jwt(ns, name, aud="vault", ttl=3600):
    now = int(time.time())
    return mint_jwt({"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:%s:%s"
                     % (ns, name), "aud": [aud], "iat": now, "nbf": now, "exp": now + ttl,
                     "kubernetes.io": {"namespace": ns,
                                       "serviceaccount": {"name": name, "uid": "uid-" + name}}})


def sel(name, key, ns=None):
    out = {"name": name, "key": key}
    if ns is not None:
        out["namespace"] = ns
    return out


def vault_store(name, server, auth, ns=NS, kind="SecretStore", path="secret", version="v2",
                **extra):
    """A SecretStore/ClusterSecretStore for the Vault provider (path=None leaves it out)."""
    provider = {"server": server, "auth": auth}
    if path is not None:
        provider["path"] = path
    if version is not None:
        provider["version"] = version
    provider.update(extra)
    meta = {"name": name}
    if kind == "SecretStore":
        meta["namespace"] = ns
    return {"apiVersion": "external-secrets.io/v1", "kind": kind, "metadata": meta,
            "spec": {"provider": {"vault": provider}}}


def k8s_secret(ns, name, data):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "type": "Opaque", "data": {k: b64(v) for k, v in data.items()}}


class VaultCase(harness.E2ETestCase):
    """A fake Vault per test, a read policy on both KV mounts, and control-API helpers."""

    TLS = False

    def setUp(self):
        super().setUp()
        (self.tmp / "vault").mkdir()
        self.vault = vaultfake_client.start_vault(str(self.tmp / "vault"), tls=self.TLS)
        self.addCleanup(self.vault.stop)
        self.addCleanup(self._keep_vault_log)   # runs before stop (cleanups are LIFO)
        self.vault_log = []
        self.url = self.vault.url
        self._ssl = None
        if self.TLS:
            self._ssl = ssl.create_default_context(cafile=self.vault.ca_file)
        self.ctl("POST", "/_fake/policy", {"name": READ_POLICY, "rules": [
            {"path": "secret/*", "capabilities": ["read", "list"]},
            {"path": "secret_v1/*", "capabilities": ["read", "list"]}]})

    def _keep_vault_log(self):
        try:
            self.vault_log = self.ctl("GET", "/_fake/requests")[-40:]
        except Exception:  # diagnostics only
            pass

    def run(self, result=None):
        bad = (lambda r: len(r.failures) + len(r.errors)) if result is not None else None
        before = bad(result) if bad else 0
        out = super().run(result)
        if bad and bad(result) > before:
            for r in getattr(self, "vault_log", []):
                sys.stderr.write("  vault %s %s %s -> %s acc=%s\n" % (
                    r.get("seq"), r.get("method"), r.get("path"), r.get("status"),
                    r.get("token_accessor")))
        return out

    # --- raw HTTP to the fake Vault ---------------------------------------------------------
    def http(self, method, path, body=None, token=None):
        """(status, parsed JSON or None) for any request to the fake Vault."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        req.add_header("User-Agent", harness.HARNESS_AGENT)
        if token:
            req.add_header("X-Vault-Token", token)
        try:
            with urllib.request.urlopen(req, timeout=10, context=self._ssl) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def ctl(self, method, path, body=None):
        status, out = self.http(method, path, body)
        if status not in (200, 201, 204):
            raise AssertionError("fake vault %s %s -> %s %r" % (method, path, status, out))
        return out

    # --- fixture -----------------------------------------------------------------------------
    def put_kv(self, path, data, mount="secret", custom_metadata=None, namespace=None):
        body = {"mount": mount, "path": path, "data": data}
        if namespace is not None:
            body["namespace"] = namespace
        if custom_metadata is not None:
            body["custom_metadata"] = custom_metadata
        return self.ctl("POST", "/_fake/kv", body)

    def put_both(self, path, data):
        """Like ESO's fixture: the value in KV v2 `secret` and KV v1 `secret_v1`."""
        self.put_kv(path, data, "secret")
        self.put_kv(path, data, "secret_v1")

    def new_token(self, policies=(READ_POLICY,), ttl=3600, **kw):
        body = {"policies": list(policies), "ttl": ttl, "max_ttl": kw.pop("max_ttl", ttl * 10),
                "renewable": kw.pop("renewable", True)}
        body.update(kw)
        return self.ctl("POST", "/_fake/token", body)["token"]

    def accessor(self, token):
        status, out = self.http("GET", "/v1/auth/token/lookup-self", token=token)
        self.assertEqual(status, 200, out)
        return out["data"]["accessor"]

    def auth_role(self, method, **body):
        body.setdefault("policies", [READ_POLICY])
        return self.ctl("POST", "/_fake/auth/%s" % method, body)

    def stats(self):
        return self.ctl("GET", "/_fake/stats")

    def logins(self, key=None):
        """Logins counted by the fake for key ("<method>/<mount path>"), or in total."""
        counts = self.stats().get("logins") or {}
        return sum(counts.values()) if key is None else counts.get(key, 0)

    def vault_requests(self):
        """The fake Vault's request log without the harness's own requests."""
        return [r for r in self.ctl("GET", "/_fake/requests")
                if r.get("user_agent") != harness.HARNESS_AGENT]

    # --- Kubernetes side ---------------------------------------------------------------------
    def put_secret(self, name, data, ns=NS):
        return self.cluster.apply(k8s_secret(ns, name, data))

    def service_account(self, name, ns=NS):
        body = {"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": ns}}
        status, out = self.cluster.api("POST", "/api/v1/namespaces/%s/serviceaccounts" % ns, body)
        self.assertIn(status, (200, 201), out)

    def store(self, auth, name="store", **kw):
        return self.cluster.apply(vault_store(name, self.url, auth, **kw))

    def token_store(self, name="store", secret="vault-token", ns=NS, **kw):
        """A token-auth store whose token lives in Secret `secret` (key `token`); the token."""
        token = self.new_token()
        self.put_secret(secret, {"token": token}, ns=ns)
        self.store({"tokenSecretRef": sel(secret, "token")}, name=name, ns=ns, **kw)
        return token
