"""KV secrets engines (version 1 and 2) of the fake Vault server.

An engine is owned by one mount of one namespace; every call happens under the state lock.
`plan(method, rest, query)` returns a Plan (capabilities needed, the work to run, the stats
counter to bump) so the HTTP layer can check the ACL before anything happens. The work
returns (status, data, warnings); status 204 means no body. Paths follow protocols.md e.2/e.3.
"""

import copy
import time
import uuid

from .errors import VaultError, bad_request, not_found, unsupported

V1_LEASE = 2764800
DEFAULT_MAX_VERSIONS = 10
WRONG_V2_PATH = ("Invalid path for a versioned K/V secrets engine. See the API docs for the "
                 "appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' "
                 "for this operation.")


class Plan:
    __slots__ = ("caps", "run", "stat")

    def __init__(self, caps, run, stat=None):
        self.caps, self.run, self.stat = caps, run, stat


def rfc3339(wall):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + ".%09dZ" % (
        int((wall % 1) * 1e9))


def list_keys(paths, prefix):
    """Immediate children of prefix among paths ("dir/" for folders); 404 when none."""
    prefix = prefix.strip("/")
    keys = set()
    for k in paths:
        if prefix:
            if not k.startswith(prefix + "/"):
                continue
            rel = k[len(prefix) + 1:]
        else:
            rel = k
        head, sep, _ = rel.partition("/")
        if head:
            keys.add(head + "/" if sep else head)
    if not keys:
        raise not_found()
    return {"keys": sorted(keys)}


def _write_caps(exists):
    return ("update",) if exists else ("create",)


def _versions_arg(body):
    versions = (body or {}).get("versions")
    if not isinstance(versions, list) or not versions:
        raise bad_request("no version number provided")
    try:
        return [int(v) for v in versions]
    except (TypeError, ValueError):
        raise bad_request("invalid version number") from None


class KvV1:
    version = 1

    def __init__(self, clock):
        self.clock = clock
        self.items = {}

    def plan(self, method, rest, query):
        path = rest.strip("/")
        if method == "LIST":
            return Plan(("list",), lambda body: (200, list_keys(self.items, path), None),
                        "lists")
        if method == "GET":
            return Plan(("read",), lambda body: self.read(path), "reads")
        if method in ("POST", "PUT"):
            return Plan(_write_caps(path in self.items), lambda body: self.write(path, body),
                        "writes")
        if method == "DELETE":
            return Plan(("delete",), lambda body: self.delete(path), "deletes")
        raise unsupported(rest)

    def read(self, path):
        if path not in self.items:
            raise not_found()
        return 200, copy.deepcopy(self.items[path]), None

    def write(self, path, body):
        if not path:
            raise bad_request("missing path")
        if not isinstance(body, dict):
            raise bad_request("no data provided")
        self.items[path] = copy.deepcopy(body)
        return 204, None, None

    def delete(self, path):
        self.items.pop(path, None)
        return 204, None, None

    def put(self, path, data, custom_metadata=None):
        self.items[path.strip("/")] = copy.deepcopy(data)
        return 1

    def remove(self, path, versions=None, destroy=False, everything=False):
        self.items.pop(path.strip("/"), None)

    def dump(self, path):
        data = self.items.get(path.strip("/"))
        return None if data is None else {"data": copy.deepcopy(data)}


class _Secret:
    def __init__(self, now):
        self.versions = {}
        self.current = 0
        self.oldest = 0
        self.custom_metadata = None
        self.created_time = now
        self.updated_time = now
        self.max_versions = 0
        self.cas_required = False
        self.delete_version_after = "0s"


class KvV2:
    version = 2

    def __init__(self, clock):
        self.clock = clock
        self.items = {}
        self.max_versions = 0
        self.cas_required = False

    # ---- routing -----------------------------------------------------------------------

    def plan(self, method, rest, query):
        kind, _, path = rest.partition("/")
        path = path.strip("/")
        exists = path in self.items
        if kind == "config" and not path:
            if method == "GET":
                return Plan(("read",), lambda body: (200, self._config(), None))
            if method in ("POST", "PUT"):
                return Plan(("update",), self._set_config)
        if kind == "data" and path:
            if method == "GET":
                return Plan(("read",), lambda body: self.read(path, query), "reads")
            if method in ("POST", "PUT"):
                return Plan(_write_caps(exists), lambda body: self.write(path, body), "writes")
            if method == "PATCH":
                return Plan(("patch",), lambda body: self.patch(path, body), "writes")
            if method == "DELETE":
                return Plan(("delete",), lambda body: self.soft_delete(path, None), "deletes")
        if kind == "metadata":
            if method == "LIST":
                return Plan(("list",), lambda body: (200, list_keys(self.items, path), None),
                            "lists")
            if method == "GET" and path:
                return Plan(("read",), lambda body: self.read_metadata(path), "metadata_reads")
            if method in ("POST", "PUT") and path:
                return Plan(_write_caps(exists), lambda body: self.write_metadata(path, body),
                            "writes")
            if method == "DELETE" and path:
                return Plan(("delete",), lambda body: self.delete_all(path), "deletes")
        if kind in ("delete", "undelete", "destroy") and path and method in ("POST", "PUT"):
            fn = {"delete": self.soft_delete, "undelete": self.undelete,
                  "destroy": self.destroy}[kind]
            return Plan(("update",), lambda body: fn(path, _versions_arg(body)), "deletes")
        if kind == "subkeys" and path and method == "GET":
            return Plan(("read",), lambda body: self.subkeys(path, query), "reads")
        raise VaultError(404, [], body={"errors": [], "warnings": [WRONG_V2_PATH]})

    # ---- data --------------------------------------------------------------------------

    def _now(self):
        return rfc3339(self.clock())

    def _version_meta(self, secret, n):
        v = secret.versions[n]
        return {"created_time": v["created_time"],
                "custom_metadata": copy.deepcopy(secret.custom_metadata),
                "deletion_time": v["deletion_time"], "destroyed": v["destroyed"], "version": n}

    def _pick(self, path, query):
        secret = self.items.get(path)
        try:
            n = int(query.get("version") or 0)
        except ValueError:
            raise bad_request("invalid version number") from None
        if secret is None:
            raise not_found()
        n = n or secret.current
        if n not in secret.versions:
            raise not_found()
        return secret, n

    def read(self, path, query):
        secret, n = self._pick(path, query)
        v = secret.versions[n]
        meta = self._version_meta(secret, n)
        if v["destroyed"] or v["deletion_time"]:
            raise VaultError(404, body=envelope({"data": None, "metadata": meta}))
        return 200, {"data": copy.deepcopy(v["data"]), "metadata": meta}, None

    def write(self, path, body, custom_metadata=None):
        body = body if isinstance(body, dict) else {}
        data = body.get("data")
        if not isinstance(data, dict):
            raise bad_request("no data provided")
        secret = self.items.get(path)
        cas = (body.get("options") or {}).get("cas")
        required = self.cas_required or (secret is not None and secret.cas_required)
        if cas is None and required:
            raise bad_request("check-and-set parameter required for this call")
        if cas is not None and int(cas) != (secret.current if secret else 0):
            raise bad_request("check-and-set parameter did not match the current version")
        now = self._now()
        if secret is None:
            secret = self.items[path] = _Secret(now)
        if custom_metadata is not None:
            secret.custom_metadata = dict(custom_metadata)
        secret.current += 1
        secret.updated_time = now
        secret.versions[secret.current] = {"data": copy.deepcopy(data), "created_time": now,
                                           "deletion_time": "", "destroyed": False}
        self._trim(secret)
        return 200, self._version_meta(secret, secret.current), None

    def _trim(self, secret):
        keep = secret.max_versions or self.max_versions or DEFAULT_MAX_VERSIONS
        for n in sorted(secret.versions)[:-keep]:
            del secret.versions[n]
        secret.oldest = min(secret.versions) if secret.versions else 0

    def patch(self, path, body):
        secret, n = self._pick(path, {})
        v = secret.versions[n]
        if v["destroyed"] or v["deletion_time"]:
            raise not_found()
        patch = (body or {}).get("data")
        if not isinstance(patch, dict):
            raise bad_request("no data provided")
        merged = copy.deepcopy(v["data"])
        for k, val in patch.items():
            if val is None:
                merged.pop(k, None)
            else:
                merged[k] = val
        return self.write(path, {"data": merged, "options": (body or {}).get("options") or {}})

    def soft_delete(self, path, versions):
        secret = self.items.get(path)
        if secret is None:
            return 204, None, None
        now = self._now()
        for n in versions or [secret.current]:
            v = secret.versions.get(n)
            if v and not v["destroyed"] and not v["deletion_time"]:
                v["deletion_time"] = now
        return 204, None, None

    def undelete(self, path, versions):
        secret = self.items.get(path)
        for n in versions if secret else []:
            v = secret.versions.get(n)
            if v and not v["destroyed"]:
                v["deletion_time"] = ""
        return 204, None, None

    def destroy(self, path, versions):
        secret = self.items.get(path)
        for n in (versions or [secret.current]) if secret else []:
            v = secret.versions.get(n)
            if v:
                v["destroyed"], v["data"] = True, None
        return 204, None, None

    def subkeys(self, path, query):
        secret, n = self._pick(path, query)
        v = secret.versions[n]
        meta = self._version_meta(secret, n)
        if v["destroyed"] or v["deletion_time"]:
            raise VaultError(404, body=envelope({"subkeys": None, "metadata": meta}))
        depth = int(query.get("depth") or 0)

        def walk(obj, level):
            if not isinstance(obj, dict) or (depth and level >= depth):
                return None
            return {k: walk(val, level + 1) for k, val in obj.items()}
        return 200, {"subkeys": walk(v["data"], 0), "metadata": meta}, None

    # ---- metadata ----------------------------------------------------------------------

    def read_metadata(self, path):
        secret = self.items.get(path)
        if secret is None:
            raise not_found()
        versions = {str(n): {"created_time": v["created_time"],
                             "deletion_time": v["deletion_time"], "destroyed": v["destroyed"]}
                    for n, v in secret.versions.items()}
        return 200, {"cas_required": secret.cas_required, "created_time": secret.created_time,
                     "current_version": secret.current,
                     "custom_metadata": copy.deepcopy(secret.custom_metadata),
                     "delete_version_after": secret.delete_version_after,
                     "max_versions": secret.max_versions, "oldest_version": secret.oldest,
                     "updated_time": secret.updated_time, "versions": versions}, None

    def write_metadata(self, path, body):
        body = body if isinstance(body, dict) else {}
        now = self._now()
        secret = self.items.get(path)
        if secret is None:
            secret = self.items[path] = _Secret(now)
        if "custom_metadata" in body:
            cm = body["custom_metadata"]
            if cm is not None and not isinstance(cm, dict):
                raise bad_request("custom_metadata must be a map of strings")
            secret.custom_metadata = dict(cm) if cm else None
        if "max_versions" in body:
            secret.max_versions = int(body["max_versions"] or 0)
            self._trim(secret)
        if "cas_required" in body:
            secret.cas_required = bool(body["cas_required"])
        if "delete_version_after" in body:
            secret.delete_version_after = str(body["delete_version_after"])
        secret.updated_time = now
        return 204, None, None

    def delete_all(self, path):
        self.items.pop(path, None)
        return 204, None, None

    def _config(self):
        return {"cas_required": self.cas_required, "delete_version_after": "0s",
                "max_versions": self.max_versions}

    def _set_config(self, body):
        body = body if isinstance(body, dict) else {}
        self.max_versions = int(body.get("max_versions", self.max_versions) or 0)
        self.cas_required = bool(body.get("cas_required", self.cas_required))
        return 204, None, None

    # ---- control API -------------------------------------------------------------------

    def put(self, path, data, custom_metadata=None):
        path = path.strip("/")
        self.write(path, {"data": data}, custom_metadata)
        return self.items[path].current

    def remove(self, path, versions=None, destroy=False, everything=False):
        path = path.strip("/")
        if everything:
            self.delete_all(path)
        elif destroy:
            self.destroy(path, versions)
        else:
            self.soft_delete(path, versions)

    def dump(self, path):
        secret = self.items.get(path.strip("/"))
        if secret is None:
            return None
        out = self.read_metadata(path.strip("/"))[1]
        out["data"] = {str(n): copy.deepcopy(v["data"]) for n, v in secret.versions.items()}
        return out


def envelope(data, warnings=None, auth=None, mount_type=None):
    """Vault's standard response body around `data`."""
    body = {"request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False,
            "lease_duration": 0, "data": data, "wrap_info": None, "warnings": warnings,
            "auth": auth}
    if mount_type:
        body["mount_type"] = mount_type
    return body
