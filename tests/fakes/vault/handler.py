"""HTTP layer of the fake Vault server: one handler instance per connection (own thread).

Reuses the fake Kubernetes server's handler plumbing (keep-alive, TLS handshake, body
reading, single-write responses) and replaces the dispatch: `/v1/...` is Vault's API
(request log, fault injection, seal, namespace, token + ACL, then the engine) and
`/_fake/...` the control API (vault/control.py). State work runs under `state.lock`;
responses are sent after it is released. The request log never holds tokens or bodies.
"""

import json
import ssl
import sys
import time
import traceback
from urllib.parse import parse_qsl, urlsplit

from kube.handler import Handler as KubeHandler, _NET_ERRORS

from . import auth, control, errors
from .errors import VaultError
from .kv import V1_LEASE, envelope
from .state import parse_duration

VERSION = "1.17.0+fake"
_SELF = ("auth/token/lookup-self", "auth/token/renew-self", "auth/token/revoke-self")


class Handler(KubeHandler):
    server_version = "fake-vault/1.0"

    def log_message(self, fmt, *args):
        if not self.server.opts.quiet:
            sys.stderr.write("fake-vault: %s\n" % (fmt % args))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_LIST = \
        lambda self: self._dispatch()

    def _send_empty(self, code):
        self.send_response(code)
        self.end_headers()

    def _reply(self, reply):
        code, body, headers = reply
        if body is None:
            return self._send_empty(code)
        self._send_json(code, body, headers)

    def _dispatch(self):
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        self._entry = None
        try:
            raw = self._read_body()
            if url.path.startswith("/_fake/"):
                return control.handle(self, url.path, query, raw)
            self._entry = self.server.reqlog.start(
                self.command, url.path, url.query, False, self.headers.get("Content-Type", ""),
                self.headers.get("User-Agent", ""))
            self._entry.update(namespace="", token_accessor="",
                               vault_request=self.headers.get("X-Vault-Request") == "true")
            delay, fault = self.server.faults.check(self.command, url.path)
            if delay:
                time.sleep(delay)
            if fault:
                raise errors.from_fault(fault.code, fault.headers, url.path[4:])
            if not url.path.startswith("/v1/"):
                raise errors.no_route(url.path.lstrip("/"))
            self._reply(self._vault(url.path[4:], query, raw))
        except VaultError as e:
            self._send_json(e.code, e.body, e.headers)
        except _NET_ERRORS:
            self.close_connection = True
        except Exception:                     # keep serving; answer like Vault would
            traceback.print_exc()
            self._send_json(500, {"errors": ["1 error occurred:\n\t* internal error\n\n"]})

    # ---- Vault API ---------------------------------------------------------------------

    def _token_id(self):
        tid = self.headers.get("X-Vault-Token")
        if not tid:
            authz = self.headers.get("Authorization", "")
            tid = authz[7:].strip() if authz.startswith("Bearer ") else None
        return tid

    def _peer_cert(self):
        conn = self.connection
        return conn.getpeercert() if isinstance(conn, ssl.SSLSocket) else None

    @staticmethod
    def _json(raw):
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise errors.bad_request("failed to parse JSON input: %s" % e) from None
        if not isinstance(body, dict):
            raise errors.bad_request("failed to parse JSON input: not a JSON object")
        return body

    def _vault(self, p, query, raw):
        """Returns (status, body or None, headers)."""
        method = self.command
        if method == "GET" and query.get("list") in ("true", "1"):
            method = "LIST"
        state = self.server.state
        with state.lock:
            state.count("requests")
            if p.rstrip("/") in ("sys/health", "sys/seal-status"):
                return self._sys_status(state, p.rstrip("/"), query)
            if state.sealed:
                raise errors.sealed()
            ns = state.namespace(self.headers.get("X-Vault-Namespace", ""))
            if ns is None:
                raise errors.denied()
            ns, p = self._path_namespace(state, ns, p)
            self._entry["namespace"] = ns.name
            body = self._json(raw)
            if p.startswith("auth/") and not p.startswith("auth/token/"):
                return self._login(state, ns, method, p, body)
            token = state.lookup(self._token_id(), ns.name)
            if token is None:
                raise errors.denied()
            self._entry["token_accessor"] = token.accessor
            if p.startswith("auth/token/"):
                return self._token_api(state, ns, token, method, p, body)
            if p.startswith("sys/internal/ui/mounts/"):
                return self._ui_mount(ns, p[len("sys/internal/ui/mounts/"):])
            found = ns.mount_for(p)
            if found is None:
                if "root" in token.policies:
                    raise errors.no_route(p)
                raise errors.denied()
            plan = found[1].plan(method, found[2], query)
            if not state.allowed(token, ns.name, p, plan.caps):
                raise errors.denied()
            if plan.stat:
                state.count(plan.stat)
            status, data, warnings = plan.run(body)
            if status == 204:
                return 204, None, None
            out = envelope(data, warnings, mount_type="kv")
            if found[1].version == 1 and method == "GET":
                out["lease_duration"] = V1_LEASE
            return status, out, None

    @staticmethod
    def _path_namespace(state, ns, p):
        """Moves leading path segments naming child namespaces into the namespace."""
        while True:
            head, sep, rest = p.partition("/")
            if not sep or head in ns.mounts or head in ("sys", "auth", "identity"):
                return ns, p
            child = state.namespaces.get((ns.name + "/" + head).strip("/"))
            if child is None:
                return ns, p
            ns, p = child, rest

    def _sys_status(self, state, p, query):
        sealed = state.sealed
        if p == "sys/seal-status":
            return 200, {"type": "shamir", "initialized": True, "sealed": sealed, "t": 1,
                         "n": 1, "progress": 0, "nonce": "", "version": VERSION,
                         "build_date": "2024-01-01T00:00:00Z", "migration": False,
                         "recovery_seal": False, "storage_type": "inmem"}, None
        body = {"initialized": True, "sealed": sealed, "standby": False,
                "performance_standby": False, "replication_performance_mode": "disabled",
                "replication_dr_mode": "disabled", "server_time_utc": int(state.wall()),
                "version": VERSION, "cluster_name": "vault-fake",
                "cluster_id": "00000000-0000-0000-0000-00000000fa4e"}
        code = int(query.get("sealedcode", 503)) if sealed else 200
        return code, body, None

    def _login(self, state, ns, method, p, body):
        segs = p.split("/")[1:]
        if "login" not in segs:
            raise errors.denied()
        idx = len(segs) - 1 - segs[::-1].index("login")
        if idx == 0 or idx < len(segs) - 2:
            raise errors.denied()
        if method not in ("POST", "PUT"):
            raise errors.unsupported(p)
        username = segs[idx + 1] if idx == len(segs) - 2 else None
        token = auth.login(state, ns, "/".join(segs[:idx]), username, body, self._peer_cert())
        self._entry["token_accessor"] = token.accessor
        return 200, envelope(None, auth=token.auth_block(state.now())), None

    def _token_api(self, state, ns, token, method, p, body):
        write = method in ("POST", "PUT")
        if p in _SELF and not write and p != "auth/token/lookup-self":
            raise errors.unsupported(p)
        if p == "auth/token/lookup-self" and method in ("GET", "POST", "PUT"):
            state.count("lookups")
            return 200, envelope(state.token_info(token)), None
        if p == "auth/token/renew-self":
            if not token.renewable:
                raise errors.bad_request("lease is not renewable")
            lease, warnings = state.renew(token, parse_duration(body.get("increment"), 0))
            state.count("renewals")
            return 200, envelope(None, warnings, auth=token.auth_block(state.now(), lease)), None
        if p == "auth/token/revoke-self":
            state.revoke(token)
            state.count("revocations")
            return 204, None, None
        if p in ("auth/token/create", "auth/token/create-orphan") and write:
            if not state.allowed(token, ns.name, p, ("create", "update")):
                raise errors.denied()
            child = state.add_token(
                ns.name, body.get("policies") or token.policies,
                parse_duration(body.get("ttl"), 0),
                parse_duration(body.get("explicit_max_ttl"), 0), body.get("renewable", True),
                display_name="token-" + str(body.get("display_name") or ""))
            return 200, envelope(None, auth=child.auth_block(state.now())), None
        if p == "auth/token/lookup" and write:
            if not state.allowed(token, ns.name, p, ("update",)):
                raise errors.denied()
            other = state.lookup(body.get("token"), ns.name)
            if other is None:
                raise errors.VaultError(403, "bad token")
            return 200, envelope(state.token_info(other)), None
        raise errors.denied() if "root" not in token.policies else errors.no_route(p)

    @staticmethod
    def _ui_mount(ns, path):
        found = ns.mount_for(path.strip("/")) if path.strip("/") else None
        if found is None:
            raise errors.VaultError(403, 'preflight capability check returned 403, please '
                                    'ensure client\'s policies grant access to path "%s/"'
                                    % path.strip("/"))
        name, engine, _ = found
        return 200, envelope({"type": "kv", "path": name + "/", "description": "",
                              "options": {"version": str(engine.version)}, "config": {},
                              "local": False, "seal_wrap": False,
                              "external_entropy_access": False, "plugin_version": "",
                              "running_plugin_version": "v0.0.0+builtin"}), None
