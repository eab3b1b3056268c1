"""Credential endpoints of the fake AWS server: EKS Pod Identity (the container credentials
agent) and IMDSv2 (EC2 instance metadata), served on the same port as the APIs.

`route(path)` names the call; `pod_identity(...)` and `imds(...)` run one call under
`state.lock` and return a Reply. Credentials they hand out are issued by `state.issue`, like
the ones STS issues, so SigV4 verification accepts them until they expire (fake clock).
Contract: tests/fakes/AWS_FAKE_API.md, "Credential endpoints".
"""

import base64
import json
import secrets as _rand
import time

from .state import ACCOUNT

POD_PATH = "/_pod_identity/credentials"
IMDS_TOKEN_PATH = "/latest/api/token"
IMDS_CREDS_PATH = "/latest/meta-data/iam/security-credentials"
IMDS_MAX_TTL = 21600
DEFAULT_DURATION_S = 3600
JSON_CT = "application/json"
TEXT_CT = "text/plain"


class Reply:
    """One response: status, body bytes, content type, extra headers; `error` (a code or "")
    and `info` (fields for the request log, never a token or secret key)."""

    def __init__(self, status, body, ctype, headers=None, error="", info=None):
        self.status, self.body, self.ctype = status, body, ctype
        self.headers, self.error, self.info = headers or {}, error, info or {}


def route(path):
    """-> (service, operation) for a credential-endpoint path, or None."""
    if path.startswith("/_pod_identity/"):
        return "pod_identity", ("PodIdentity.credentials" if path == POD_PATH
                                else "PodIdentity.other")
    if not path.startswith("/latest/"):
        return None
    if path == IMDS_TOKEN_PATH:
        return "imds", "IMDS.token"
    if path in (IMDS_CREDS_PATH, IMDS_CREDS_PATH + "/"):
        return "imds", "IMDS.role"
    rest = path[len(IMDS_CREDS_PATH) + 1:] if path.startswith(IMDS_CREDS_PATH + "/") else ""
    if rest and "/" not in rest:
        return "imds", "IMDS.credentials"
    return "imds", "IMDS.other"


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _issue(state, role_arn, session, duration_s):
    role_name = role_arn.split("/")[-1]
    parts = role_arn.split(":")
    account = parts[4] if len(parts) > 5 and parts[4] else ACCOUNT
    assumed = "arn:aws:sts::%s:assumed-role/%s/%s" % (account, role_name, session)
    akid, cred = state.issue(duration_s, assumed)
    return akid, cred, account


# ---- EKS Pod Identity ------------------------------------------------------------------

def _pod_error(status, code, message):
    return Reply(status, json.dumps({"code": code, "message": message}).encode(), JSON_CT,
                 error=code)


def pod_identity(state, method, op, headers):
    """GET /_pod_identity/credentials with `Authorization: <token>` (verbatim, no scheme)."""
    if op != "PodIdentity.credentials":
        return _pod_error(404, "NotFound", "Not Found")
    if method != "GET":
        return _pod_error(405, "MethodNotAllowed", "Method Not Allowed")
    token = headers.get("Authorization") or ""
    if not token:
        return _pod_error(401, "AccessDeniedException",
                          "Service account token cannot be empty")
    cfg = state.pod_identity
    if cfg is None:
        return _pod_error(403, "AccessDeniedException",
                          "No EKS Pod Identity association for this service account")
    if token != cfg["token"]:
        return _pod_error(403, "AccessDeniedException",
                          "Access Denied. The service account token is not valid")
    session = "eks-fake-cluster-pod-%s" % _rand.token_hex(4)
    akid, cred, account = _issue(state, cfg["role_arn"], session, cfg["duration_s"])
    body = {"AccessKeyId": akid, "SecretAccessKey": cred["secret"], "Token": cred["token"],
            "AccountId": account, "Expiration": _iso(cred["expires"])}
    return Reply(200, json.dumps(body).encode(), JSON_CT,
                 info={"access_key_id": akid, "role_arn": cfg["role_arn"]})


# ---- IMDSv2 ----------------------------------------------------------------------------

def _text(status, text, error="", headers=None, info=None):
    return Reply(status, text.encode(), TEXT_CT, headers, error, info)


def _put_token(state, headers):
    if headers.get("X-Forwarded-For") is not None:
        return _text(403, "Forbidden", "Forbidden")
    raw = headers.get("X-aws-ec2-metadata-token-ttl-seconds")
    try:
        ttl = int(raw)
    except (TypeError, ValueError):
        ttl = 0
    if not 1 <= ttl <= IMDS_MAX_TTL:
        return _text(400, "Bad Request", "BadRequest")
    token = "AQAEA" + base64.urlsafe_b64encode(_rand.token_bytes(39)).decode()
    state.imds_tokens[token] = state.now() + ttl
    return _text(200, token, headers={"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)},
                 info={"ttl_seconds": ttl})


def _token_ok(state, headers):
    now = state.now()
    for tok in [t for t, exp in state.imds_tokens.items() if exp <= now]:
        del state.imds_tokens[tok]
    return headers.get("X-aws-ec2-metadata-token") in state.imds_tokens


def _credentials_doc(state, cfg):
    session = "i-0fake%s" % _rand.token_hex(6)
    akid, cred, _ = _issue(state, "arn:aws:iam::%s:role/%s" % (ACCOUNT, cfg["role_name"]),
                           session, cfg["duration_s"])
    doc = {"Code": "Success", "LastUpdated": _iso(state.now()), "Type": "AWS-HMAC",
           "AccessKeyId": akid, "SecretAccessKey": cred["secret"], "Token": cred["token"],
           "Expiration": _iso(cred["expires"])}
    return _text(200, json.dumps(doc, indent=2),
                 info={"access_key_id": akid, "role_name": cfg["role_name"]})


def imds(state, method, op, path, headers):
    """IMDSv2 only: every metadata GET needs a token from PUT /latest/api/token."""
    if op == "IMDS.token":
        if method != "PUT":
            return _text(405, "Method Not Allowed", "MethodNotAllowed")
        return _put_token(state, headers)
    if method != "GET":
        return _text(405, "Method Not Allowed", "MethodNotAllowed")
    if not _token_ok(state, headers):
        return _text(401, "Unauthorized", "Unauthorized")
    cfg = state.imds
    if op == "IMDS.role" and cfg is not None:
        return _text(200, cfg["role_name"], info={"role_name": cfg["role_name"]})
    if op == "IMDS.credentials" and cfg is not None and \
            path[len(IMDS_CREDS_PATH) + 1:] == cfg["role_name"]:
        return _credentials_doc(state, cfg)
    return _text(404, "Not Found", "NotFound")


def fault_reply(service, status):
    """An injected fault (POST /_fake/faults): throttle -> 429, error -> 500, unavailable ->
    503; a JSON {code, message} body for Pod Identity, plain text for IMDS."""
    status = 429 if status in (400, 429) else status
    code = {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(status,
                                                                  "InternalServerError")
    if service == "pod_identity":
        return _pod_error(status, code, "injected fault")
    return _text(status, code, code)


def configure_pod_identity(state, body):
    """POST /_fake/pod_identity {token, role_arn, duration_s?}; no token clears it."""
    if not body.get("token"):
        state.pod_identity = None
        return {"ok": True, "enabled": False}
    state.pod_identity = {"token": str(body["token"]), "role_arn": str(body["role_arn"]),
                          "duration_s": _duration(body)}
    return {"ok": True, "enabled": True}


def configure_imds(state, body):
    """POST /_fake/imds {role_name, duration_s?}; no role_name removes the instance role."""
    if not body.get("role_name"):
        state.imds = None
        return {"ok": True, "enabled": False}
    name = str(body["role_name"])
    if "/" in name:
        raise ValueError("role_name must not contain '/'")
    state.imds = {"role_name": name, "duration_s": _duration(body)}
    return {"ok": True, "enabled": True}


def _duration(body):
    value = body.get("duration_s")
    duration = DEFAULT_DURATION_S if value is None else int(value)
    if duration <= 0:
        raise ValueError("duration_s must be positive")
    return duration
