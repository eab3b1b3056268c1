"""State of the fake AWS server: fake clock, known credentials (static, STS-issued and
handed out by the Pod Identity / IMDS endpoints), roles, secrets with versions/stages/tags,
SSM parameters with numbered versions and tags, the Pod Identity association and instance
role, IMDSv2 tokens, per-operation call counts.

Owned by the server; every access holds `state.lock` (the handler takes it per request).
Timestamps are fake-clock epoch seconds (real time + `offset`).
"""

import base64
import secrets as _rand
import string
import threading
import time
import uuid

from . import sigv4
from .sigv4 import AuthError

ACCOUNT = "111122223333"


def _rand_upper(n):
    return "".join(_rand.choice(string.ascii_uppercase + string.digits) for _ in range(n))


class Secret:
    def __init__(self, name, region, created, seq):
        self.name, self.created, self.seq = name, created, seq
        suffix = "".join(_rand.choice(string.ascii_letters) for _ in range(6))
        self.arn = "arn:aws:secretsmanager:%s:%s:secret:%s-%s" % (region, ACCOUNT, name, suffix)
        self.tags = []                  # [{"Key", "Value"}]
        self.description = None
        self.versions = {}              # vid -> {"string"|"binary", "created", "stages"}
        self.changed = created
        self.deleted = None             # DeletedDate (fake clock) when marked for deletion
        self.delete_at = None

    def add_version(self, value, now, stages=None):
        vid = str(uuid.uuid4())
        stages = list(stages or ["AWSCURRENT"])
        if "AWSCURRENT" in stages:
            for v in self.versions.values():
                v["stages"].discard("AWSPREVIOUS")
            for v in self.versions.values():
                if "AWSCURRENT" in v["stages"]:
                    v["stages"].discard("AWSCURRENT")
                    v["stages"].add("AWSPREVIOUS")
        for label in stages:
            for v in self.versions.values():
                v["stages"].discard(label)
        ver = {"created": now, "stages": set(stages)}
        ver.update(value)
        self.versions[vid] = ver
        self.versions = {k: v for k, v in self.versions.items() if v["stages"] or k == vid}
        self.changed = now
        return vid

    def stage_map(self):
        return {k: sorted(v["stages"]) for k, v in self.versions.items() if v["stages"]}


class Parameter:
    """An SSM parameter: type, numbered versions (1, 2, ...), tags."""

    def __init__(self, name, region, ptype):
        self.name, self.type = name, ptype
        self.arn = "arn:aws:ssm:%s:%s:parameter/%s" % (region, ACCOUNT, name.lstrip("/"))
        self.versions = []              # [{"n", "value", "modified"}], oldest first
        self.tags = []                  # [{"Key", "Value"}]


PARAMETER_TYPES = ("String", "SecureString", "StringList")


class State:
    def __init__(self, region, jwt_key, audience):
        self.lock = threading.Lock()
        self.region, self.jwt_key, self.audience = region, jwt_key, audience
        self.offset = 0.0
        self.creds = {}                 # akid -> {"secret", "token"|None, "expires"|None, ...}
        self.roles = {}                 # arn -> {"external_id", "allowed_tags", "max_s"}
        self.secrets = {}               # name -> Secret
        self.parameters = {}            # name -> Parameter
        self.stats = {}
        self.pod_identity = None        # {"token", "role_arn", "duration_s"} (metadata.py)
        self.imds = None                # {"role_name", "duration_s"}
        self.imds_tokens = {}           # IMDSv2 session token -> expiry (fake clock)
        self._seq = 0

    def now(self):
        return time.time() + self.offset

    def count(self, op):
        self.stats[op] = self.stats.get(op, 0) + 1

    # ---- credentials -------------------------------------------------------------------

    def add_static(self, akid, secret):
        self.creds[akid] = {"secret": secret, "token": None, "expires": None, "arn":
                            "arn:aws:iam::%s:user/fake" % ACCOUNT}

    def issue(self, duration_s, arn):
        akid = "ASIA" + _rand_upper(16)
        cred = {"secret": base64.b64encode(_rand.token_bytes(30)).decode(),
                "token": "FQoGZXIvYXdzE" + base64.b64encode(_rand.token_bytes(96)).decode(),
                "expires": int(self.now()) + int(duration_s), "arn": arn}
        self.creds[akid] = cred
        return akid, cred

    def verify(self, method, path, query, headers, payload, service):
        """SigV4 check of a request as received; returns the access key id or raises."""
        hmap = {k.lower(): v for k, v in headers}
        akid, date, region, svc, signed, sig = sigv4.parse_authorization(
            hmap.get("authorization"))
        amz_date = hmap.get("x-amz-date", "")
        when = sigv4.amz_date_seconds(amz_date)
        if when is None:
            raise AuthError("incomplete", "Authorization header requires existence of either "
                            "a 'X-Amz-Date' or a 'Date' header.")
        cred = self.creds.get(akid)
        if cred is None:
            raise AuthError("unknown_key",
                            "The security token included in the request is invalid.")
        if region != self.region:
            raise AuthError("scope", "Credential should be scoped to a valid region, not "
                            "'%s'. " % region)
        if svc != service:
            raise AuthError("scope", "Credential should be scoped to correct service: "
                            "'%s'. " % service)
        if date != amz_date[:8]:
            raise AuthError("scope", "Date in Credential scope does not match YYYYMMDD from "
                            "ISO-8601 version of date from HTTP: '%s' != '%s'"
                            % (date, amz_date[:8]))
        for need in ("host", "x-amz-date"):
            if need not in signed:
                raise AuthError("signature", "'%s' must be a signed header." % need)
        if cred["token"] is not None and (hmap.get("x-amz-security-token") != cred["token"]
                                          or "x-amz-security-token" not in signed):
            raise AuthError("unknown_key",
                            "The security token included in the request is invalid.")
        now = self.now()
        creq = sigv4.canonical_request(method, path, query, headers, signed, payload)
        if sigv4.signature(cred["secret"], amz_date, region, svc, creq) != sig:
            raise AuthError("signature", "The request signature we calculated does not match "
                            "the signature you provided. Check your AWS Secret Access Key and "
                            "signing method. Consult the service documentation for details.")
        if abs(now - when) > sigv4.MAX_SKEW_S:
            fmt = lambda t: time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))  # noqa: E731
            raise AuthError("expired_sig", "Signature expired: %s is now earlier than %s "
                            "(%s - 5 min.)" % (amz_date, fmt(now - 300), fmt(now)))
        if cred["expires"] is not None and now >= cred["expires"]:
            raise AuthError("expired_token",
                            "The security token included in the request is expired")
        return akid

    # ---- secrets -----------------------------------------------------------------------

    def put_secret(self, name, value, tags=None, stages=None, description=None):
        now = self.now()
        sec = self.secrets.get(name)
        if sec is None or sec.deleted is not None:
            self._seq += 1
            sec = self.secrets[name] = Secret(name, self.region, now, self._seq)
        if tags is not None:
            sec.tags = [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
        if description is not None:
            sec.description = description
        return sec, sec.add_version(value, now, stages)

    def mark_deleted(self, name, window_days):
        sec = self.secrets.get(name)
        if sec is None:
            return None
        sec.deleted = self.now()
        sec.delete_at = sec.deleted + window_days * 86400
        return sec

    def purge(self):
        now = self.now()
        for name in [n for n, s in self.secrets.items()
                     if s.delete_at is not None and s.delete_at <= now]:
            del self.secrets[name]

    def find(self, secret_id):
        self.purge()
        if secret_id in self.secrets:
            return self.secrets[secret_id]
        for sec in self.secrets.values():
            if secret_id == sec.arn or (secret_id.startswith("arn:") and
                                        secret_id == sec.arn[:-7]):
                return sec
        return None

    # ---- SSM parameters ----------------------------------------------------------------

    def put_parameter(self, name, value, ptype="String", tags=None):
        """A new version (N+1) of parameter `name`; tags replace the old ones when given."""
        if ptype not in PARAMETER_TYPES:
            raise ValueError("type must be one of %s" % ", ".join(PARAMETER_TYPES))
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise ValueError("name and value must be non-empty strings")
        param = self.parameters.get(name)
        if param is None:
            param = self.parameters[name] = Parameter(name, self.region, ptype)
        param.type = ptype
        if tags is not None:
            param.tags = [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
        n = param.versions[-1]["n"] + 1 if param.versions else 1
        param.versions.append({"n": n, "value": value, "modified": int(self.now())})
        return param, n

    def delete_parameter(self, name):
        return self.parameters.pop(name, None)
