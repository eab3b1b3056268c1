"""Test-control API of the fake Vault server (`/_fake/...`, no auth).

Contract: the "Control API" section of tests/fakes/VAULT_FAKE_API.md. Called by the HTTP
handler with the raw body; state changes run under `state.lock`. Replies are plain JSON
(control errors: 400/404 `{"error": "..."}`).
"""

import json
import threading

from kube.errors import ApiError

from . import auth
from .errors import VaultError
from .state import Policy, parse_duration


def _engine(state, body, create_ns=True):
    ns = state.namespace(body.get("namespace"), create_ns)
    engine = ns.mounts.get(str(body.get("mount") or "secret").strip("/")) if ns else None
    if engine is None:
        raise VaultError(404, "no such mount %s" % body.get("mount"))
    return engine


def _kv_get(state, query):
    engine = _engine(state, query, False)
    out = engine.dump(query.get("path", ""))
    if out is None:
        raise VaultError(404, "no such secret")
    return out


def _kv_put(state, body):
    data = body.get("data")
    if not isinstance(data, dict) or not body.get("path"):
        raise VaultError(400, "path and data (object) required")
    version = _engine(state, body).put(body["path"], data, body.get("custom_metadata"))
    return {"version": version}


def _kv_delete(state, body):
    _engine(state, body).remove(body.get("path", ""), body.get("versions"),
                                bool(body.get("destroy")), bool(body.get("all")))
    return {"ok": True}


def _token(state, body):
    policies = body.get("policies") or ["default"]
    token = state.add_token(str(body.get("namespace") or "").strip("/"), policies,
                            parse_duration(body.get("ttl"), 3600),
                            parse_duration(body.get("max_ttl"), 0),
                            bool(body.get("renewable", True)), tid=body.get("token") or None,
                            display_name="token-fake")
    state.namespace(token.ns, True)
    return {"token": token.id, "accessor": token.accessor}


def _policy(state, body):
    if not body.get("name"):
        raise VaultError(400, "name required")
    state.namespace(body.get("namespace"), True).policies[body["name"]] = Policy(
        body.get("rules"))
    return {"ok": True}


def _tokens(state):
    now = state.now()
    return [{"accessor": t.accessor, "namespace": t.ns, "policies": t.policies,
             "ttl": t.remaining(now), "renewable": t.renewable, "path": t.path}
            for t in list(state.tokens.values())
            if t.expire is None or t.expire > now]


def _issued(state):
    """The client tokens handed out by logins (ids included: for leak tests only)."""
    return [{"token": t.id, "accessor": t.accessor, "path": t.path, "namespace": t.ns,
             "policies": t.policies} for t in state.issued]


def _stateful(state, key, body, query):
    """Control endpoints that touch the Vault state; None when key is not one of them."""
    method, path = key
    if key == ("GET", "/_fake/stats"):
        return json.loads(json.dumps(state.stats))
    if key == ("POST", "/_fake/stats/reset"):
        state.reset_stats()
    elif key == ("GET", "/_fake/kv"):
        return _kv_get(state, query)
    elif key == ("POST", "/_fake/kv"):
        return _kv_put(state, body)
    elif key == ("POST", "/_fake/kv/delete"):
        return _kv_delete(state, body)
    elif key == ("POST", "/_fake/mount"):
        state.mount(str(body.get("namespace") or ""), str(body["path"]),
                    body.get("version", 2))
    elif key == ("POST", "/_fake/namespace"):
        state.namespace(str(body.get("path") or body.get("namespace") or ""), True)
    elif key == ("POST", "/_fake/policy"):
        return _policy(state, body)
    elif key == ("POST", "/_fake/token"):
        return _token(state, body)
    elif key == ("GET", "/_fake/tokens"):
        return _tokens(state)
    elif key == ("GET", "/_fake/tokens/issued"):
        return _issued(state)
    elif method == "POST" and path.startswith("/_fake/auth/"):
        return {"path": auth.configure(state, path[len("/_fake/auth/"):], body)}
    elif key == ("POST", "/_fake/seal"):
        state.sealed = bool(body.get("sealed", True))
    elif key == ("POST", "/_fake/clock"):
        state.advance(float(body.get("advance_s") or 0))
        return {"offset_s": state.offset}
    else:
        return None
    return {"ok": True}


def handle(handler, path, query, raw):
    srv = handler.server
    key = (handler.command, path.rstrip("/"))
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return handler._send_json(400, {"error": "body is not JSON"})
    if not isinstance(body, dict):
        return handler._send_json(400, {"error": "body must be a JSON object"})
    try:
        if key == ("GET", "/_fake/healthz"):
            return handler._send_body(200, b"ok", "text/plain")
        if key == ("GET", "/_fake/requests"):
            return handler._send_json(200, srv.reqlog.entries(int(query.get("since") or 0)))
        if key == ("POST", "/_fake/requests/reset"):
            srv.reqlog.reset()
            return handler._send_json(200, {"ok": True})
        if key == ("POST", "/_fake/faults"):
            return handler._send_json(200, {"id": srv.faults.add(body)})
        if key == ("GET", "/_fake/faults"):
            return handler._send_json(200, srv.faults.list())
        if key == ("DELETE", "/_fake/faults"):
            srv.faults.clear()
            return handler._send_json(200, {"ok": True})
        if key == ("POST", "/_fake/stop"):
            handler.close_connection = True
            handler._send_json(200, {"ok": True})
            threading.Thread(target=srv.shutdown, daemon=True).start()
            return None
        with srv.state.lock:
            out = _stateful(srv.state, key, body, query)
        if out is None:
            return handler._send_json(404, {"error": "unknown control endpoint %s %s" % key})
        return handler._send_json(200, out)
    except (VaultError, ApiError) as e:
        return handler._send_json(400 if isinstance(e, ApiError) else e.code,
                                  {"error": str(e)})
    except (KeyError, TypeError, ValueError) as e:
        return handler._send_json(400, {"error": "bad control request: %r" % (e,)})
