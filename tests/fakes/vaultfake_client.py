"""Client helper for the fake Vault server (tests/fakes/vault_server.py).

Python 3 standard library only. Contract of the server: tests/fakes/VAULT_FAKE_API.md.

    import sys; sys.path.insert(0, "<repo>/tests/fakes")
    from vaultfake_client import start_vault

    vault = start_vault(tmpdir)                    # plain HTTP on 127.0.0.1, root token "root"
    vault = start_vault(tmpdir, tls=True)          # HTTPS; CA at vault.ca_file, client cert too
    vault.put_kv("secret", "app/db", {"password": "s3cr3t"})
    status, body = vault.api("GET", "/v1/secret/data/app/db")
    vault.stop()                                   # also: `with start_vault(d) as vault:`

start_vault(tmpdir, tls=False, root_token="root", jwt_key=None, extra_args=(), quiet=True,
            timeout=30, require_client_cert=False) -> FakeVault   (subprocess on port 0;
            stderr in vault.log_path; TLS material in <tmpdir>/vaultfake-tls-N/;
            require_client_cert=True (needs tls=True): handshakes without a client certificate
            fail, and the helpers below then present vault.client_cert on every request)

FakeVault attributes: url, port, tls, tls_dir, ca_file, client_cert, client_key, client_ca
    (None without TLS), require_client_cert, root_token, jwt_key, proc, log_path.
FakeVault methods (control helpers raise RuntimeError on a non-200 control reply):
    api(method, path, body=None, token=<root>, namespace=None, headers=None, cert=False,
        timeout=30) -> (status, body)  token=None sends no X-Vault-Token; cert=True presents
        the client certificate (TLS only). body: parsed JSON, else text, else None.
    put_kv(mount, path, data, custom_metadata=None, namespace=None) -> new version
    delete_kv(mount, path, versions=None, destroy=False, all=False, namespace=None)
    get_kv(mount, path, namespace=None) -> metadata + {"data": {version: data}} or None
    mount(path, version=2, namespace=None); create_namespace(path)
    policy(name, rules, namespace=None)   rules: [{"path", "capabilities"}] or {path: caps}
    token(policies, ttl=3600, max_ttl=None, renewable=True, token=None, namespace=None) -> id
    approle(role, role_id, secret_id, policies, ttl=3600, max_ttl=None, **kw)
    k8s_role(role, policies, ttl=3600, max_ttl=None, **kw)    kw: path, namespace,
        bound_audiences, bound_service_account_names, bound_service_account_namespaces,
        jwt_key, renewable
    jwt_role(role, policies, ttl=3600, max_ttl=None, **kw)    kw as above + bound_subject,
        bound_claims
    userpass(username, password, policies, ttl=3600, max_ttl=None, **kw); ldap(...) same
    cert_role(name, policies, ttl=3600, max_ttl=None, **kw)   kw: allowed_common_names
    make_jwt(namespace="default", name="default", aud=None, exp_in=3600, key=None,
             claims=None) -> HS256 service-account-shaped JWT (key defaults to jwt_key)
    login(method_path, body, username=None, namespace=None, cert=False) -> (status, body)
    stats(); reset_stats(); requests(since=0); reset_requests(); tokens()
    issued_tokens() -> every token a login handed out (with its id; also revoked/expired ones)
    fault(method="*", path_regex="", status=500, count=1, retry_after=None, delay_ms=None)
        -> rule id (count <= 0: until clear_faults()); clear_faults(); faults()
    seal(sealed=True); advance_clock(seconds) -> total offset; healthy(); stop()
"""

import http.client
import itertools
import json
import os
import ssl
import sys
import time
import uuid

_HERE = os.path.dirname(os.path.abspath(__file__))
_SERVER = os.path.join(_HERE, "vault_server.py")
_COUNTER = itertools.count(1)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from kube.tokens import make_jwt as _sign_jwt  # noqa: E402
from kubefake_client import ProcessControl, _decode, spawn_fake  # noqa: E402


class FakeVault(ProcessControl):
    def __init__(self, tmpdir, proc, port, tls_dir, root_token, jwt_key, log_path):
        self.tmpdir, self.proc, self.port, self.tls_dir = tmpdir, proc, port, tls_dir
        self.tls = tls_dir is not None
        self.root_token, self.jwt_key, self.log_path = root_token, jwt_key, log_path
        f = (lambda n: os.path.join(tls_dir, n)) if tls_dir else (lambda n: None)
        self.ca_file, self.client_cert, self.client_key = f("ca.crt"), f("client.crt"), \
            f("client.key")
        self.client_ca = f("client-ca.crt")
        self.url = "%s://127.0.0.1:%d" % ("https" if self.tls else "http", port)
        self.require_client_cert = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def _conn(self, timeout, cert):
        if not self.tls:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if cert or self.require_client_cert:
            ctx.load_cert_chain(self.client_cert, self.client_key)
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                           context=ctx)

    def api(self, method, path, body=None, token="", namespace=None, headers=None,
            cert=False, timeout=30):
        token = self.root_token if token == "" else token
        hdrs = {"X-Vault-Request": "true"}
        hdrs.update(headers or {})
        if token:
            hdrs["X-Vault-Token"] = token
        if namespace:
            hdrs["X-Vault-Namespace"] = namespace
        data = body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        if data is not None:
            hdrs.setdefault("Content-Type", "application/merge-patch+json"
                            if method == "PATCH" else "application/json")
        conn = self._conn(timeout, cert)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            self.last_headers = dict(resp.getheaders())
            return resp.status, _decode(raw)
        finally:
            conn.close()

    def _control(self, method, path, body=None):
        status, out = self.api(method, "/_fake/" + path, body, token=None)
        if status != 200:
            raise RuntimeError("fake vault control %s %s failed: %s %s"
                               % (method, path, status, out))
        return out

    # ---- data --------------------------------------------------------------------------

    def put_kv(self, mount, path, data, custom_metadata=None, namespace=None):
        body = {"mount": mount, "path": path, "data": data}
        if custom_metadata is not None:
            body["custom_metadata"] = custom_metadata
        if namespace:
            body["namespace"] = namespace
        return self._control("POST", "kv", body)["version"]

    def delete_kv(self, mount, path, versions=None, destroy=False, all=False, namespace=None):
        body = {"mount": mount, "path": path, "destroy": destroy, "all": all,
                "namespace": namespace}
        if versions is not None:
            body["versions"] = list(versions)
        self._control("POST", "kv/delete", body)

    def get_kv(self, mount, path, namespace=None):
        from urllib.parse import urlencode
        q = {"mount": mount, "path": path}
        if namespace:
            q["namespace"] = namespace
        status, out = self.api("GET", "/_fake/kv?" + urlencode(q), token=None)
        return out if status == 200 else None

    def mount(self, path, version=2, namespace=None):
        self._control("POST", "mount", {"path": path, "version": version,
                                        "namespace": namespace})

    def create_namespace(self, path):
        self._control("POST", "namespace", {"path": path})

    def policy(self, name, rules, namespace=None):
        if isinstance(rules, dict):
            rules = [{"path": p, "capabilities": list(c)} for p, c in rules.items()]
        self._control("POST", "policy", {"name": name, "rules": rules, "namespace": namespace})

    def token(self, policies, ttl=3600, max_ttl=None, renewable=True, token=None,
              namespace=None):
        body = {"policies": list(policies), "ttl": ttl, "renewable": renewable,
                "namespace": namespace}
        if max_ttl is not None:
            body["max_ttl"] = max_ttl
        if token:
            body["token"] = token
        return self._control("POST", "token", body)["token"]

    # ---- auth roles --------------------------------------------------------------------

    def _role(self, kind, spec, policies, ttl, max_ttl, kw):
        spec.update(policies=list(policies), token_ttl=ttl)
        if max_ttl is not None:
            spec["token_max_ttl"] = max_ttl
        spec.update({k: v for k, v in kw.items() if v is not None})
        return self._control("POST", "auth/" + kind, spec)["path"]

    def approle(self, role, role_id, secret_id, policies, ttl=3600, max_ttl=None, **kw):
        return self._role("approle", {"role": role, "role_id": role_id, "secret_id": secret_id},
                          policies, ttl, max_ttl, kw)

    def k8s_role(self, role, policies, ttl=3600, max_ttl=None, **kw):
        return self._role("kubernetes", {"role": role}, policies, ttl, max_ttl, kw)

    def jwt_role(self, role, policies, ttl=3600, max_ttl=None, **kw):
        return self._role("jwt", {"role": role}, policies, ttl, max_ttl, kw)

    def userpass(self, username, password, policies, ttl=3600, max_ttl=None, **kw):
        return self._role("userpass", {"username": username, "password": password},
                          policies, ttl, max_ttl, kw)

    def ldap(self, username, password, policies, ttl=3600, max_ttl=None, **kw):
        return self._role("ldap", {"username": username, "password": password},
                          policies, ttl, max_ttl, kw)

    def cert_role(self, name, policies, ttl=3600, max_ttl=None, **kw):
        return self._role("cert", {"name": name}, policies, ttl, max_ttl, kw)

    def make_jwt(self, namespace="default", name="default", aud=None, exp_in=3600, key=None,
                 claims=None):
        now = int(time.time())
        body = {"iss": "https://kubernetes.default.svc.cluster.local", "iat": now, "nbf": now,
                "exp": now + exp_in, "sub": "system:serviceaccount:%s:%s" % (namespace, name),
                "aud": aud if aud is not None else ["vault"],
                "kubernetes.io": {"namespace": namespace,
                                  "serviceaccount": {"name": name, "uid": str(uuid.uuid4())}}}
        body.update(claims or {})
        return _sign_jwt(key or self.jwt_key, body)

    def login(self, method_path, body, username=None, namespace=None, cert=False):
        path = "/v1/auth/%s/login" % method_path.strip("/")
        if username is not None:
            path += "/" + username
        return self.api("POST", path, body, token=None, namespace=namespace, cert=cert)

    # ---- observation and faults --------------------------------------------------------

    def stats(self):
        return self._control("GET", "stats")

    def reset_stats(self):
        self._control("POST", "stats/reset")

    def requests(self, since=0):
        return self._control("GET", "requests?since=%d" % since)

    def reset_requests(self):
        self._control("POST", "requests/reset")

    def tokens(self):
        return self._control("GET", "tokens")

    def issued_tokens(self):
        return self._control("GET", "tokens/issued")

    def fault(self, method="*", path_regex="", status=500, count=1, retry_after=None,
              delay_ms=None):
        rule = {"method": method, "path_regex": path_regex, "status": status, "count": count}
        for k, v in (("retry_after", retry_after), ("delay_ms", delay_ms)):
            if v is not None:
                rule[k] = v
        return self._control("POST", "faults", rule)["id"]

    def clear_faults(self):
        self._control("DELETE", "faults")

    def faults(self):
        return self._control("GET", "faults")

    def seal(self, sealed=True):
        self._control("POST", "seal", {"sealed": bool(sealed)})

    def advance_clock(self, seconds):
        return self._control("POST", "clock", {"advance_s": seconds})["offset_s"]



def start_vault(tmpdir, tls=False, root_token="root", jwt_key=None, extra_args=(), quiet=True,
                timeout=30, require_client_cert=False):
    if require_client_cert and not tls:
        raise ValueError("require_client_cert needs tls=True")
    n = next(_COUNTER)
    port_file = os.path.join(tmpdir, "vaultfake-%d-%d.port" % (os.getpid(), n))
    log_path = os.path.join(tmpdir, "vaultfake-%d-%d.log" % (os.getpid(), n))
    args = [sys.executable, _SERVER, "--port", "0", "--port-file", port_file,
            "--root-token", root_token]
    tls_dir = os.path.join(tmpdir, "vaultfake-tls-%d" % n) if tls else None
    if tls_dir:
        args += ["--tls-dir", tls_dir]
    if require_client_cert:
        args.append("--require-client-cert")
    if jwt_key is not None:
        args += ["--jwt-key", jwt_key]
    if quiet:
        args.append("--quiet")
    args += list(extra_args)
    proc, port, log = spawn_fake(args, port_file, log_path, "fake vault", timeout)
    vault = FakeVault(tmpdir, proc, port, tls_dir, root_token, jwt_key or "fake-jwt-key",
                      log_path)
    vault._log = log
    vault.require_client_cert = bool(require_client_cert)
    return vault
