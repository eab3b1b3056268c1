"""Shared state of the fake Vault server: clock, namespaces, mounts, policies, tokens, stats.

One State per server, guarded by `state.lock` (the HTTP layer holds it for each request's
work). The clock is real monotonic/wall time plus an offset that POST /_fake/clock advances,
so token TTLs and JWT expiry can be tested without sleeping. Tokens are global (keyed by id)
and remember their namespace; a token is valid in its namespace and in child namespaces.
"""

import re
import secrets
import threading
import time
import uuid

from .errors import bad_request
from .kv import KvV1, KvV2, rfc3339

SYSTEM_MAX_TTL = 2764800          # 32 days, Vault's default max lease TTL
DEFAULT_SELF_PATHS = ("auth/token/lookup-self", "auth/token/renew-self",
                      "auth/token/revoke-self", "sys/capabilities-self")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(value, default=0):
    """Vault durations: int seconds, "90", "90s", "1h30m", "2d"."""
    if value is None or value == "":
        return default
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    parts = _DURATION.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise bad_request('invalid duration "%s"' % text)
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(sum(float(n) * scale[u] for n, u in parts))


def _rand(n=24):
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(n))


class Token:
    """A Vault token. expire is on the monotonic fake clock (None = never)."""

    def __init__(self, tid, ns, policies, ttl, max_ttl, renewable, now, wall,
                 path="auth/token/create", meta=None, display_name="token",
                 token_type="service"):
        self.id, self.ns, self.policies = tid, ns, list(policies)
        self.accessor = _rand()
        self.ttl, self.explicit_max_ttl, self.renewable = ttl, max_ttl, renewable
        self.issued, self.issued_wall = now, wall
        self.expire = None if ttl == 0 and "root" in policies else now + (ttl or SYSTEM_MAX_TTL)
        cap = max_ttl or SYSTEM_MAX_TTL
        self.max_expire = None if self.expire is None else now + cap
        if self.expire is not None:
            self.expire = min(self.expire, self.max_expire)
        self.path, self.meta, self.display_name = path, meta, display_name
        self.entity_id = str(uuid.uuid4()) if "root" not in policies else ""
        self.token_type = token_type

    def remaining(self, now):
        return 0 if self.expire is None else max(0, int(round(self.expire - now)))

    def auth_block(self, now, lease=None):
        return {"client_token": self.id, "accessor": self.accessor,
                "policies": list(self.policies), "token_policies": list(self.policies),
                "identity_policies": None, "metadata": self.meta,
                "lease_duration": self.remaining(now) if lease is None else lease,
                "renewable": self.renewable, "entity_id": self.entity_id,
                "token_type": self.token_type, "orphan": True, "mfa_requirement": None,
                "num_uses": 0}


class Policy:
    """Path rules: glob with trailing `*` (prefix) and `+` (one segment); the most specific
    matching rule decides (exact beats glob, longer beats shorter), `deny` wins."""

    def __init__(self, rules):
        self.rules = []
        for rule in rules or []:
            pattern = str(rule.get("path", ""))
            caps = frozenset(str(c) for c in rule.get("capabilities") or [])
            glob = pattern.endswith("*")
            body = pattern[:-1] if glob else pattern
            rx = "/".join("[^/]+" if seg == "+" else re.escape(seg) for seg in body.split("/"))
            rx = re.compile(rx + (".*" if glob else ""), re.S)
            self.rules.append(((not glob and "+" not in pattern, len(pattern)), rx, caps))
        self.rules.sort(key=lambda r: r[0], reverse=True)

    def capabilities(self, path):
        for _, rx, caps in self.rules:
            if rx.fullmatch(path):
                return caps
        return frozenset()


class Namespace:
    def __init__(self, name, clock):
        self.name = name
        self.mounts = {"secret": KvV2(clock), "secret_v1": KvV1(clock)}
        self.policies = {}
        self.auth = {}              # mount path -> AuthMount (see auth.py)

    def mount_for(self, path):
        """(mount path, engine, rest) for the longest mount prefixing path, or None."""
        best = None
        for m, engine in self.mounts.items():
            if path == m or path.startswith(m + "/"):
                if best is None or len(m) > len(best[0]):
                    best = (m, engine, path[len(m) + 1:])
        return best


class State:
    def __init__(self, root_token="root", jwt_key="fake-jwt-key"):
        self.lock = threading.RLock()
        self.offset = 0.0
        self.sealed = False
        self.jwt_key = jwt_key
        self.namespaces = {"": Namespace("", self.wall)}
        self.tokens = {}
        self.by_accessor = {}
        self.issued = []            # every token a login handed out, also after revoke/expiry
        self.reset_stats()
        self.add_token("", ["root"], 0, 0, False, tid=root_token, display_name="root",
                       path="auth/token/root")

    # ---- clock -------------------------------------------------------------------------

    def now(self):
        return time.monotonic() + self.offset

    def wall(self):
        return time.time() + self.offset

    def advance(self, seconds):
        self.offset += float(seconds)

    # ---- namespaces --------------------------------------------------------------------

    def namespace(self, name, create=False):
        name = (name or "").strip("/")
        if name not in self.namespaces and create:
            parts = name.split("/")
            for i in range(1, len(parts) + 1):
                sub = "/".join(parts[:i])
                self.namespaces.setdefault(sub, Namespace(sub, self.wall))
        return self.namespaces.get(name)

    def mount(self, ns, path, version):
        engine = KvV2(self.wall) if int(version) == 2 else KvV1(self.wall)
        self.namespace(ns, True).mounts[path.strip("/")] = engine
        return engine

    # ---- tokens ------------------------------------------------------------------------

    def add_token(self, ns, policies, ttl, max_ttl, renewable, tid=None, **kw):
        tid = tid or "hvs." + _rand(24)
        token = Token(tid, ns, policies, ttl, max_ttl, renewable, self.now(), self.wall(), **kw)
        old = self.tokens.pop(tid, None)
        if old:
            self.by_accessor.pop(old.accessor, None)
        self.tokens[tid] = token
        self.by_accessor[token.accessor] = token
        return token

    def revoke(self, token):
        self.tokens.pop(token.id, None)
        self.by_accessor.pop(token.accessor, None)

    def lookup(self, tid, ns):
        """The live token with this id usable in namespace ns, else None."""
        token = self.tokens.get(tid) if tid else None
        if token is None:
            return None
        if token.expire is not None and token.expire <= self.now():
            self.revoke(token)
            return None
        if token.ns and ns != token.ns and not ns.startswith(token.ns + "/"):
            return None
        return token

    def renew(self, token, increment):
        """Extends the token's TTL by increment (default: its own TTL), capped by max TTL.
        Returns (lease seconds, warnings)."""
        now = self.now()
        if token.expire is None:
            return 0, None
        want = increment or token.ttl or SYSTEM_MAX_TTL
        lease = min(want, max(0, int(token.max_expire - now)))
        token.expire = now + lease
        warnings = None
        if lease < want:
            warnings = ['TTL of "%ds" exceeded the effective max_ttl of "%ds"; TTL value is '
                        'capped accordingly' % (want, lease)]
        return lease, warnings

    def allowed(self, token, ns, path, caps):
        """Whether token may use any of caps on path (relative to namespace ns)."""
        if "root" in token.policies:
            return True
        if path in DEFAULT_SELF_PATHS or path.startswith("sys/internal/ui/mounts"):
            return True
        full = path
        if token.ns != ns:                  # parent-namespace token: rules see the full path
            full = ns[len(token.ns):].strip("/") + "/" + path
        home = self.namespaces.get(token.ns)
        granted = set()
        best = None
        for name in token.policies:
            policy = home.policies.get(name) if home else None
            if policy is None:
                continue
            for key, rx, rule_caps in policy.rules:
                if rx.fullmatch(full):
                    if best is None or key > best:
                        best, granted = key, set(rule_caps)
                    elif key == best:
                        granted |= rule_caps
                    break
        if "deny" in granted:
            return False
        return any(c in granted for c in caps)

    def token_info(self, token):
        now = self.now()
        expire = None if token.expire is None else rfc3339(
            token.issued_wall + (token.expire - token.issued))
        return {"accessor": token.accessor, "creation_time": int(token.issued_wall),
                "creation_ttl": token.ttl, "display_name": token.display_name,
                "entity_id": token.entity_id, "expire_time": expire,
                "explicit_max_ttl": token.explicit_max_ttl, "id": token.id,
                "issue_time": rfc3339(token.issued_wall), "meta": token.meta, "num_uses": 0,
                "orphan": True, "path": token.path, "policies": list(token.policies),
                "renewable": token.renewable, "ttl": token.remaining(now),
                "type": token.token_type, "namespace_path": token.ns + "/" if token.ns else ""}

    # ---- stats -------------------------------------------------------------------------

    def reset_stats(self):
        self.stats = {"logins": {}, "login_failures": {}, "renewals": 0, "reads": 0,
                      "lists": 0, "metadata_reads": 0, "writes": 0, "deletes": 0,
                      "lookups": 0, "revocations": 0, "requests": 0}

    def count(self, name, key=None):
        if key is None:
            self.stats[name] = self.stats.get(name, 0) + 1
        else:
            bucket = self.stats.setdefault(name, {})
            bucket[key] = bucket.get(key, 0) + 1
