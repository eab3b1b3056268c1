"""SigV4 (AWS4-HMAC-SHA256, header form) for the fake AWS server: canonical request,
signing key, signature, and verification of a request as received.

Pure functions, no state. `verify` raises AuthError(kind, message); the handler maps the
kind to the per-service error shape (JSON `__type` for Secrets Manager, XML for STS).
"""

import hashlib
import hmac
import re
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_S = 300


class AuthError(Exception):
    """kind: missing | incomplete | unknown_key | signature | expired_sig | scope |
    expired_token."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


def _enc(s):
    return quote(s, safe="-_.~")


def canonical_uri(path, double_encode=True):
    segments, out = path.split("/"), []
    for seg in segments[1:]:
        if seg == "..":
            if out:
                out.pop()
        elif seg not in (".", ""):
            out.append(seg)
    norm = "/" + "/".join(out)
    if path.endswith("/") and out:
        norm += "/"
    return "/".join(_enc(s if double_encode else unquote(s)) for s in norm.split("/"))


def canonical_query(query):
    pairs = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        pairs.append((_enc(unquote(name.replace("+", " "))),
                      _enc(unquote(value.replace("+", " ")))))
    return "&".join("%s=%s" % p for p in sorted(pairs))


def _trim(v):
    return re.sub(r"\s+", " ", v.strip())


def canonical_request(method, path, query, headers, signed, payload):
    """headers: list of (name, value) as received; signed: lowercase names."""
    hmap = {}
    for name, value in headers:
        hmap.setdefault(name.lower(), []).append(_trim(value))
    block = "".join("%s:%s\n" % (n, ",".join(hmap.get(n, []))) for n in sorted(signed))
    return "\n".join([method, canonical_uri(path), canonical_query(query), block,
                      ";".join(sorted(signed)), hashlib.sha256(payload).hexdigest()])


def signing_key(secret, date, region, service):
    k = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def string_to_sign(amz_date, scope, creq):
    return "\n".join([ALGORITHM, amz_date, scope,
                      hashlib.sha256(creq.encode()).hexdigest()])


def signature(secret, amz_date, region, service, creq):
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    key = signing_key(secret, amz_date[:8], region, service)
    return hmac.new(key, string_to_sign(amz_date, scope, creq).encode(),
                    hashlib.sha256).hexdigest()


def parse_authorization(value):
    """-> (access_key_id, date, region, service, signed_headers list, signature)."""
    if not value:
        raise AuthError("missing", "Missing Authentication Token")
    alg, _, rest = value.partition(" ")
    if alg != ALGORITHM:
        raise AuthError("incomplete", "Unsupported AWS 'algorithm': '%s'" % alg)
    fields = {}
    for item in rest.split(","):
        k, _, v = item.strip().partition("=")
        fields[k] = v
    for need in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(need):
            raise AuthError("incomplete", "Authorization header requires '%s' parameter. "
                            "Authorization=%s" % (need, value))
    cred = fields["Credential"].split("/")
    if len(cred) != 5 or cred[4] != "aws4_request":
        raise AuthError("incomplete", "Credential should be scoped to a valid region, not "
                        "'%s'." % (cred[2] if len(cred) > 2 else ""))
    return (cred[0], cred[1], cred[2], cred[3], fields["SignedHeaders"].split(";"),
            fields["Signature"])


def amz_date_seconds(amz_date):
    import calendar
    import time
    try:
        return calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    except (TypeError, ValueError):
        return None
