"""Kubernetes/ESO object builders and API paths for the e2e tests, the demo and the benchmark.

Pure functions over plain dicts (no I/O). Objects follow ESO's v1 syntax (eso-api.md section 1).
"""

import base64
import hashlib
import json

GROUP = "external-secrets.io"
MANAGED_LABEL = "reconcile.external-secrets.io/managed"
CREATED_BY_LABEL = "reconcile.external-secrets.io/created-by"
DATA_HASH_ANNOTATION = "reconcile.external-secrets.io/data-hash"

_PLURALS = {"ExternalSecret": "externalsecrets", "SecretStore": "secretstores",
            "ClusterSecretStore": "clustersecretstores", "Secret": "secrets",
            "Namespace": "namespaces", "ConfigMap": "configmaps"}


def b64(text):
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode()


def decode_data(secret):
    """The Secret's data decoded to str (invalid UTF-8 is replaced)."""
    data = (secret or {}).get("data") or {}
    return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in data.items()}


def sha3_224_hex(text):
    return hashlib.sha3_224(text.encode()).hexdigest()


def secret_path(ns, name=None):
    base = "/api/v1/namespaces/%s/secrets" % ns
    return base if name is None else "%s/%s" % (base, name)


def es_path(ns, name=None, version="v1"):
    base = "/apis/%s/%s/namespaces/%s/externalsecrets" % (GROUP, version, ns)
    return base if name is None else "%s/%s" % (base, name)


def store_path(ns, name=None, version="v1"):
    base = "/apis/%s/%s/namespaces/%s/secretstores" % (GROUP, version, ns)
    return base if name is None else "%s/%s" % (base, name)


_CLUSTER_KINDS = ("ClusterSecretStore", "Namespace")


def collection_path(obj):
    """Collection path for obj, from apiVersion, kind and metadata.namespace (else default)."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    plural = _PLURALS[kind]
    prefix = "/api/v1" if api_version == "v1" else "/apis/" + api_version
    if kind in _CLUSTER_KINDS:
        return "%s/%s" % (prefix, plural)
    ns = obj.get("metadata", {}).get("namespace") or "default"
    return "%s/namespaces/%s/%s" % (prefix, ns, plural)


def namespace_of(obj):
    return None if obj["kind"] in _CLUSTER_KINDS else obj["metadata"].get("namespace") or "default"


def object_path(obj):
    return "%s/%s" % (collection_path(obj), obj["metadata"]["name"])


def fake_store(ns, name, data, kind="SecretStore", version="v1"):
    """A fake-provider store. data: {key: value} or a list of {key, value, version?} entries."""
    if isinstance(data, dict):
        data = [{"key": k, "value": v} for k, v in data.items()]
    meta = {"name": name}
    if kind == "SecretStore":
        meta["namespace"] = ns
    return {"apiVersion": "%s/%s" % (GROUP, version), "kind": kind, "metadata": meta,
            "spec": {"provider": {"fake": {"data": list(data)}}}}


def ref(secret_key, key, **remote):
    """One data[] item: ref("password", "db-pass", property="x") ."""
    remote_ref = {"key": key}
    remote_ref.update(remote)
    return {"secretKey": secret_key, "remoteRef": remote_ref}


def external_secret(ns, name, store="store", data=None, data_from=None, refresh="1h",
                    target=None, store_kind="SecretStore", labels=None, annotations=None,
                    version="v1", **spec_extra):
    """An ExternalSecret; pass refresh=None to leave refreshInterval out."""
    spec = {"secretStoreRef": {"name": store, "kind": store_kind}}
    if refresh is not None:
        spec["refreshInterval"] = refresh
    spec["target"] = dict(target or {})
    if data is not None:
        spec["data"] = list(data)
    if data_from is not None:
        spec["dataFrom"] = list(data_from)
    spec.update(spec_extra)
    meta = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "%s/%s" % (GROUP, version), "kind": "ExternalSecret",
            "metadata": meta, "spec": spec}


def ready_condition(es):
    for c in ((es or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c
    return None


def event_text(ev):
    """Message of an event of either API (events.k8s.io `note`, core `message`)."""
    return ev.get("note") or ev.get("message") or ""


def fake_value(store, key, version=None):
    """The value a fake-provider store holds for key (+version), or None."""
    for entry in store["spec"]["provider"]["fake"].get("data") or []:
        if entry.get("key") == key and (entry.get("version") or None) == (version or None):
            return entry.get("value")
    return None


def expected_example_data(es, stores):
    """Expected Secret data for an ES made of plain fake-store lookups and JSON extracts.

    stores: {(kind, namespace or None, name): store object}. Returns None when the ES uses
    anything this helper does not model (find, property, decoding, rewrite, templates).
    """
    spec = es["spec"]
    if spec.get("target", {}).get("template"):
        return None
    sref = spec.get("secretStoreRef") or {}
    kind = sref.get("kind") or "SecretStore"
    ns = None if kind == "ClusterSecretStore" else namespace_of(es)
    store = stores.get((kind, ns, sref.get("name")))
    if store is None or "fake" not in store["spec"].get("provider", {}):
        return None
    out = {}
    for item in spec.get("dataFrom") or []:
        extract = item.get("extract")
        if set(item) != {"extract"} or set(extract) - {"key", "version"}:
            return None
        raw = fake_value(store, extract["key"], extract.get("version"))
        obj = json.loads(raw) if raw is not None else None
        if not isinstance(obj, dict):
            return None
        for k, v in obj.items():
            out[k] = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
    for item in spec.get("data") or []:
        r = item["remoteRef"]
        if set(r) - {"key", "version"}:
            return None
        value = fake_value(store, r["key"], r.get("version"))
        if value is None:
            return None
        out[item["secretKey"]] = value
    return out or None


def target_name(es):
    return (es["spec"].get("target") or {}).get("name") or es["metadata"]["name"]


def store_key(obj):
    """Key of a store object in the `stores` map of expected_example_data."""
    return (obj["kind"], namespace_of(obj), obj["metadata"]["name"])
