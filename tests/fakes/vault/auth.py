"""Login methods of the fake Vault server: approle, kubernetes, jwt, userpass, ldap, cert.

An AuthMount (type + roles) lives in a Namespace under its mount path; roles are set through
the control API. `login(state, ns, mount, rest, body, peer_cert)` runs under the state lock
and returns the new Token or raises VaultError (never echoing the JWT, password or secret).
JWTs are HS256 only, verified with the role's `jwt_key` or the server's --jwt-key.
"""

import base64
import binascii
import hashlib
import hmac
import json

from .errors import VaultError, bad_request, denied
from .state import parse_duration

TYPES = ("approle", "kubernetes", "jwt", "userpass", "ldap", "cert")


class AuthMount:
    def __init__(self, kind):
        self.kind = kind
        self.roles = {}


def configure(state, kind, spec):
    """Control API: adds/replaces a role (or user) on an auth mount; returns the mount path."""
    if kind not in TYPES:
        raise bad_request("unknown auth type %s" % kind)
    path = str(spec.get("path") or kind).strip("/")
    ns = state.namespace(spec.get("namespace"), True)
    mount = ns.auth.get(path)
    if mount is None or mount.kind != kind:
        mount = ns.auth[path] = AuthMount(kind)
    key = spec.get("username") if kind in ("userpass", "ldap") else \
        spec.get("name") if kind == "cert" else spec.get("role")
    if not key:
        raise bad_request("missing role/username/name")
    role = dict(spec)
    role["token_ttl"] = parse_duration(spec.get("token_ttl", spec.get("ttl")), 0)
    role["token_max_ttl"] = parse_duration(spec.get("token_max_ttl", spec.get("max_ttl")), 0)
    mount.roles[str(key)] = role
    return path


def _b64d(part):
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise bad_request("error parsing token: illegal base64 data") from None


def verify_jwt(token, keys, now, leeway=0):
    """Returns the claims of an HS256 JWT signed with one of keys; raises ValueError with a
    reason (malformed: prefixed "malformed:") otherwise."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise ValueError("malformed: token contains an invalid number of segments")
    try:
        header = json.loads(_b64d(parts[0]))
        claims = json.loads(_b64d(parts[1]))
        sig = _b64d(parts[2])
    except (ValueError, VaultError):
        raise ValueError("malformed: failed to decode token") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("malformed: failed to decode token")
    if header.get("alg") != "HS256":
        raise ValueError('unsupported signing algorithm "%s"' % header.get("alg"))
    signing_input = (parts[0] + "." + parts[1]).encode()
    if not any(hmac.compare_digest(hmac.new(k.encode(), signing_input, hashlib.sha256).digest(),
                                   sig) for k in keys if k):
        raise ValueError("failed to verify id token signature")
    if "exp" in claims and now > float(claims["exp"]) + leeway:
        raise ValueError("token is expired (exp)")
    if "nbf" in claims and now + leeway < float(claims["nbf"]):
        raise ValueError("token is not valid yet (nbf)")
    return claims


def _service_account(claims):
    """(namespace, name, uid) from bound or legacy SA token claims or `sub`."""
    k8s = claims.get("kubernetes.io")
    if isinstance(k8s, dict):
        sa = k8s.get("serviceaccount") or {}
        return k8s.get("namespace"), sa.get("name"), sa.get("uid", "")
    ns = claims.get("kubernetes.io/serviceaccount/namespace")
    name = claims.get("kubernetes.io/serviceaccount/service-account.name")
    if ns and name:
        return ns, name, claims.get("kubernetes.io/serviceaccount/service-account.uid", "")
    sub = str(claims.get("sub", "")).split(":")
    if len(sub) == 4 and sub[:2] == ["system", "serviceaccount"]:
        return sub[2], sub[3], ""
    return None, None, ""


def _bound(values, actual):
    values = values if isinstance(values, list) else [values] if values else []
    return not values or "*" in values or actual in values


def _audiences(role):
    aud = role.get("bound_audiences") or role.get("audience") or []
    return aud if isinstance(aud, list) else [aud]


def _check_audience(role, claims):
    wanted = _audiences(role)
    if not wanted:
        return True
    got = claims.get("aud")
    got = got if isinstance(got, list) else [got]
    return any(a in wanted for a in got)


def _role(mount, body):
    name = (body or {}).get("role")
    if not name:
        raise bad_request("missing role")
    role = mount.roles.get(name)
    if role is None:
        raise bad_request('invalid role name "%s"' % name)
    jwt = (body or {}).get("jwt")
    if not jwt:
        raise bad_request("missing jwt")
    return name, role, jwt


def _login_kubernetes(state, mount, body):
    name, role, jwt = _role(mount, body)
    try:
        claims = verify_jwt(jwt, [role.get("jwt_key"), state.jwt_key], state.wall(),
                            int(role.get("leeway") or 0))
    except ValueError as e:
        if str(e).startswith("malformed:"):
            raise bad_request(str(e)[len("malformed: "):]) from None
        raise denied() from None
    if not _check_audience(role, claims):
        raise VaultError(403, "invalid audience (aud) claim: audience claim does not match "
                         "any expected audience")
    sa_ns, sa_name, sa_uid = _service_account(claims)
    if not sa_name or not _bound(role.get("bound_service_account_names"), sa_name):
        raise VaultError(403, "service account name not authorized")
    if not _bound(role.get("bound_service_account_namespaces"), sa_ns):
        raise VaultError(403, "namespace not authorized")
    return role, {"role": name, "service_account_name": sa_name,
                  "service_account_namespace": sa_ns, "service_account_uid": sa_uid,
                  "service_account_secret_name": ""}


def _login_jwt(state, mount, body):
    name, role, jwt = _role(mount, body)
    try:
        claims = verify_jwt(jwt, [role.get("jwt_key"), state.jwt_key], state.wall(),
                            int(role.get("leeway") or 0))
    except ValueError as e:
        raise bad_request("error validating token: %s" % str(e).replace("malformed: ", "")) \
            from None
    if not _check_audience(role, claims):
        raise bad_request("error validating claims: invalid audience (aud) claim: audience "
                          "claim does not match any expected audience")
    if role.get("bound_subject") and claims.get("sub") != role["bound_subject"]:
        raise bad_request("error validating claims: sub claim does not match bound subject")
    for claim, want in (role.get("bound_claims") or {}).items():
        if not _bound(want, claims.get(claim)):
            raise bad_request('error validating claims: claim "%s" does not match any '
                              'associated bound claim values' % claim)
    return role, {"role": name}


def _login_approle(state, mount, body):
    role_id, secret_id = (body or {}).get("role_id"), (body or {}).get("secret_id")
    if not role_id:
        raise bad_request("missing role_id")
    for name, role in mount.roles.items():
        if str(role.get("role_id")) == str(role_id):
            if role.get("bind_secret_id", True) and not hmac.compare_digest(
                    str(role.get("secret_id", "")), str(secret_id or "")):
                raise bad_request("invalid role or secret ID")
            return role, {"role_name": name}
    raise bad_request("invalid role or secret ID")


def _login_password(state, mount, body, username):
    user = mount.roles.get(username or "")
    password = (body or {}).get("password")
    if not password:
        raise bad_request("missing password")
    if user is None or not hmac.compare_digest(str(user.get("password", "")), str(password)):
        if mount.kind == "ldap":
            raise bad_request("ldap operation failed: failed to bind as user")
        raise bad_request("invalid username or password")
    return user, {"username": username}


def _login_cert(state, mount, body, peer_cert):
    if not peer_cert:
        raise bad_request("client certificate must be supplied")
    subject = dict(x[0] for x in peer_cert.get("subject", ()))
    cn = subject.get("commonName", "")
    name = (body or {}).get("name")
    candidates = [name] if name else sorted(mount.roles)
    for cand in candidates:
        role = mount.roles.get(cand)
        if role and _bound(role.get("allowed_common_names"), cn):
            return role, {"cert_name": cand, "common_name": cn}
    raise denied()


def login(state, ns, mount_path, username, body, peer_cert):
    """Runs one login; returns (Token, mount kind). Counts successes and failures."""
    mount = ns.auth.get(mount_path)
    if mount is None:
        raise denied()              # unknown mount: Vault answers as for any unknown path
    key = "%s/%s" % (mount.kind, mount_path)
    try:
        if mount.kind in ("userpass", "ldap"):
            role, meta = _login_password(state, mount, body, username)
        elif username is not None:
            raise VaultError(405, "unsupported operation")
        elif mount.kind == "cert":
            role, meta = _login_cert(state, mount, body, peer_cert)
        else:
            role, meta = {"approle": _login_approle, "kubernetes": _login_kubernetes,
                          "jwt": _login_jwt}[mount.kind](state, mount, body)
    except VaultError:
        state.count("login_failures", key)
        raise
    state.count("logins", key)
    policies = ["default"] + [p for p in role.get("policies") or [] if p != "default"]
    token = state.add_token(ns.name, policies, role["token_ttl"], role["token_max_ttl"],
                            bool(role.get("renewable", True)),
                            path="auth/%s/login" % mount_path, meta=meta,
                            display_name="%s-%s" % (mount_path.replace("/", "-"),
                                                    meta.get("role") or meta.get("username")
                                                    or meta.get("role_name") or ""))
    state.issued.append(token)
    return token
