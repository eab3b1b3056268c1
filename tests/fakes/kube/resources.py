"""Resource table and REST path parsing for the fake API server.

`parse_path` turns `/api/v1/namespaces/ns/secrets/x/status` into a Target naming the
resource, version, namespace, object name and subresource; it raises ApiError 404 for
anything the fake does not serve.
"""

from collections import namedtuple

from .errors import ApiError


class Resource:
    def __init__(self, group, versions, plural, kind, namespaced, has_status=False, crd=False):
        self.group = group
        self.versions = versions          # served versions; the first is the storage version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.has_status = has_status      # has a /status subresource
        self.crd = crd                    # custom resource: no unconditional update
        self.key = (group, plural)
        self.qualified = plural if not group else "%s.%s" % (plural, group)

    def api_version(self, version=None):
        v = version or self.versions[0]
        return v if not self.group else "%s/%s" % (self.group, v)


ESO = "external-secrets.io"
RESOURCES = [
    Resource("", ["v1"], "namespaces", "Namespace", False),
    Resource("", ["v1"], "secrets", "Secret", True),
    Resource("", ["v1"], "configmaps", "ConfigMap", True),
    Resource("", ["v1"], "serviceaccounts", "ServiceAccount", True),
    Resource("", ["v1"], "events", "Event", True),
    Resource("events.k8s.io", ["v1"], "events", "Event", True),
    Resource("coordination.k8s.io", ["v1"], "leases", "Lease", True),
    Resource(ESO, ["v1", "v1beta1"], "externalsecrets", "ExternalSecret", True, True, True),
    Resource(ESO, ["v1", "v1beta1"], "secretstores", "SecretStore", True, True, True),
    Resource(ESO, ["v1", "v1beta1"], "clustersecretstores", "ClusterSecretStore", False, True,
             True),
]
_BY_KEY = {r.key: r for r in RESOURCES}
NAMESPACES = _BY_KEY[("", "namespaces")]

# res: Resource; version: requested version; namespace: "" when none in the path;
# name/subresource: "" when absent.
Target = namedtuple("Target", "res version namespace name subresource")


def by_key(key):
    return _BY_KEY[key]


def _not_found():
    return ApiError(404, "the server could not find the requested resource")


def _split(path):
    segs = [s for s in path.split("/") if s]
    if len(segs) >= 2 and segs[0] == "api" and segs[1] == "v1":
        return "", "v1", segs[2:]
    if len(segs) >= 3 and segs[0] == "apis":
        return segs[1], segs[2], segs[3:]
    raise _not_found()


def parse_path(path):
    group, version, rest = _split(path)
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise _not_found()
    res = _BY_KEY.get((group, rest[0]))
    if res is None or version not in res.versions:
        raise _not_found()
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if namespace and not res.namespaced:
        raise _not_found()
    if res.namespaced and name and not namespace:
        raise _not_found()
    if sub and not ((sub == "status" and res.has_status) or
                    (sub == "token" and res.plural == "serviceaccounts" and not group)):
        raise _not_found()
    return Target(res, version, namespace, name, sub)


def api_resource_list(group, version):
    """Discovery document for /api/v1 or /apis/{group}/{version}; None if not served."""
    items = []
    for r in RESOURCES:
        if r.group != group or version not in r.versions:
            continue
        verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        items.append({"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced,
                      "kind": r.kind, "verbs": verbs})
        if r.has_status:
            items.append({"name": r.plural + "/status", "singularName": "", "namespaced":
                          r.namespaced, "kind": r.kind, "verbs": ["get", "patch", "update"]})
        if r.plural == "serviceaccounts" and not group:
            items.append({"name": "serviceaccounts/token", "singularName": "", "namespaced": True,
                          "group": "authentication.k8s.io", "version": "v1",
                          "kind": "TokenRequest", "verbs": ["create"]})
    if not items:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": version if not group else "%s/%s" % (group, version),
            "resources": items}


def api_group_list():
    groups = {}
    for r in RESOURCES:
        if r.group:
            groups.setdefault(r.group, r.versions)
    out = []
    for g, versions in sorted(groups.items()):
        vs = [{"groupVersion": "%s/%s" % (g, v), "version": v} for v in versions]
        out.append({"name": g, "versions": vs, "preferredVersion": vs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}
