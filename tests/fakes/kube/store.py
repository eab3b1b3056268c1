"""In-memory object store of the fake API server: CRUD, resourceVersions, event log, GC.

One global lock (`Store.cond`, a Condition) guards everything; public methods take it,
`_` methods expect it held. Every write bumps the global RV by one and appends exactly one
event to a bounded log; watch streams wait on `cond` for new events. Stored objects are
never mutated (readers and the event log share them).
"""

import base64
import bisect
import json
import threading
import uuid
from collections import namedtuple

from . import errors
from .objects import clone, generate_name, merge_patch, now_rfc3339, owner_uids, spec_changed
from .resources import NAMESPACES, RESOURCES, by_key
from .validation import validate

# rv: int; key: resource key; type: ADDED|MODIFIED|DELETED; obj: new state (DELETED: last
# state carrying the deletion RV); prev: previous state or None.
Event = namedtuple("Event", "rv key type obj prev")

_SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                "generation", "namespace", "name")


class Store:
    def __init__(self, max_events=100000):
        self.cond = threading.Condition(threading.Lock())
        self.rv = 0
        self.compacted_rv = 0            # watches from an RV below this get 410 Expired
        self.events = []
        self.max_events = max_events
        self.objects = {r.key: {} for r in RESOURCES}   # key -> {(ns, name): obj}
        self._sorted = {}                # key -> sorted [(ns, name)] cache
        self.uids = {}                   # uid -> (key, ns, name)
        self.dependents = {}             # owner uid -> {(key, ns, name)}
        self.ns_count = {}               # namespace -> number of namespaced objects
        self.drop_generation = 0         # bumped to make every open watch close abruptly
        self.expire_http_pending = False
        self.open_watches = 0
        self.opened_watches = 0
        with self.cond:
            for ns in ("default", "kube-system"):
                self._ensure_namespace(ns)

    # ---- low level (lock held) -------------------------------------------------------

    def _next_rv(self):
        self.rv += 1
        return self.rv

    def _log(self, etype, res, obj, prev):
        self.events.append(Event(int(obj["metadata"]["resourceVersion"]), res.key, etype, obj,
                                 prev))
        if len(self.events) > self.max_events + max(1, self.max_events // 10):
            cut = len(self.events) - self.max_events
            self.compacted_rv = self.events[cut - 1].rv
            del self.events[:cut]
        self.cond.notify_all()

    def _index_owners(self, ref, old, new):
        old_u = set(owner_uids(old)) if old else set()
        new_u = set(owner_uids(new)) if new else set()
        for u in old_u - new_u:
            deps = self.dependents.get(u)
            if deps is not None:
                deps.discard(ref)
                if not deps:
                    del self.dependents[u]
        for u in new_u - old_u:
            self.dependents.setdefault(u, set()).add(ref)

    def _put(self, res, obj, prev):
        m = obj["metadata"]
        ns, name = m.get("namespace", ""), m["name"]
        table = self.objects[res.key]
        if (ns, name) not in table:
            self._sorted.pop(res.key, None)
            if res.namespaced:
                self.ns_count[ns] = self.ns_count.get(ns, 0) + 1
        table[(ns, name)] = obj
        self.uids[m["uid"]] = (res.key, ns, name)
        self._index_owners((res.key, ns, name), prev, obj)
        self._log("MODIFIED" if prev is not None else "ADDED", res, obj, prev)
        uids = owner_uids(obj)
        if uids and not any(u in self.uids for u in uids):
            # Every owner is gone (e.g. deleted while this object was being written): the real
            # garbage collector deletes such an object; ours does it at once.
            self._delete_obj(res, obj, "Background")

    def _remove(self, res, obj, prev):
        """Removes `obj` (already carrying its deletion RV), then garbage-collects."""
        m = obj["metadata"]
        ns, name = m.get("namespace", ""), m["name"]
        del self.objects[res.key][(ns, name)]
        self._sorted.pop(res.key, None)
        self.uids.pop(m["uid"], None)
        self._index_owners((res.key, ns, name), prev, None)
        self._log("DELETED", res, obj, prev)
        self._collect_dependents(m["uid"])
        if res.namespaced:
            self.ns_count[ns] -= 1
            self._maybe_finish_namespace(ns)

    def _with_rv(self, obj, **meta):
        new = dict(obj)
        new["metadata"] = dict(obj["metadata"], **meta)
        new["metadata"]["resourceVersion"] = str(self._next_rv())
        return new

    def _collect_dependents(self, uid):
        for ref in sorted(self.dependents.pop(uid, ())):
            obj = self.objects[ref[0]].get(ref[1:])
            if obj is None or any(u in self.uids for u in owner_uids(obj)):
                continue
            self._delete_obj(by_key(ref[0]), obj, "Background")

    def _orphan_dependents(self, uid):
        for ref in sorted(self.dependents.get(uid, ())):
            obj = self.objects[ref[0]][ref[1:]]
            refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            new = self._with_rv(obj, ownerReferences=refs)
            if not refs:
                del new["metadata"]["ownerReferences"]
            self._put(by_key(ref[0]), new, obj)

    def _delete_obj(self, res, obj, policy):
        m = obj["metadata"]
        if m.get("deletionTimestamp"):
            return obj
        if policy == "Orphan":
            self._orphan_dependents(m["uid"])
        if res is NAMESPACES:
            return self._delete_namespace(obj)
        if m.get("finalizers"):
            new = self._with_rv(obj, deletionTimestamp=now_rfc3339(), deletionGracePeriodSeconds=0)
            self._put(res, new, obj)
            return new
        new = self._with_rv(obj)
        self._remove(res, new, obj)
        return new

    def _ensure_namespace(self, ns):
        if not ns or ("", ns) in self.objects[NAMESPACES.key]:
            return
        obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
               "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
        self._stamp_new(obj)
        self._put(NAMESPACES, obj, None)

    def _delete_namespace(self, obj):
        ns = obj["metadata"]["name"]
        new = self._with_rv(obj, deletionTimestamp=now_rfc3339(), deletionGracePeriodSeconds=0)
        new["status"] = {"phase": "Terminating"}
        self._put(NAMESPACES, new, obj)
        for res in RESOURCES:
            if res.namespaced:
                for key in [k for k in self.objects[res.key] if k[0] == ns]:
                    self._delete_obj(res, self.objects[res.key][key], "Background")
        self._maybe_finish_namespace(ns)
        return self.objects[NAMESPACES.key].get(("", ns), new)

    def _maybe_finish_namespace(self, ns):
        obj = self.objects[NAMESPACES.key].get(("", ns))
        if obj and obj["metadata"].get("deletionTimestamp") and not self.ns_count.get(ns):
            self._remove(NAMESPACES, self._with_rv(obj), obj)

    def _stamp_new(self, obj):
        m = obj["metadata"]
        for f in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"):
            m.pop(f, None)
        m["uid"] = str(uuid.uuid4())
        m["creationTimestamp"] = now_rfc3339()
        m["generation"] = 1
        m["resourceVersion"] = str(self._next_rv())

    def _get(self, res, ns, name):
        obj = self.objects[res.key].get((ns, name))
        if obj is None:
            raise errors.not_found(res, name)
        return obj

    def _sorted_keys(self, key):
        keys = self._sorted.get(key)
        if keys is None:
            keys = self._sorted[key] = sorted(self.objects[key])
        return keys

    # ---- reads -------------------------------------------------------------------------

    def get(self, res, ns, name):
        with self.cond:
            return self._get(res, ns, name)

    def list(self, res, ns, lsel, fsel, limit=0, cont=""):
        """Returns (items, rv, continue_token, remaining_or_None)."""
        with self.cond:
            rv, start = self.rv, None
            if cont:
                rv, start = _decode_continue(cont)
                if rv < self.compacted_rv:
                    raise errors.expired(
                        "The provided continue parameter is too old to display a consistent "
                        "list result. You can start a new list without the continue parameter.")
            keys = self._sorted_keys(res.key)
            lo = bisect.bisect_left(keys, (ns, "")) if ns else 0
            hi = bisect.bisect_left(keys, (ns + "\x00", "")) if ns else len(keys)
            if start:
                lo = max(lo, bisect.bisect_right(keys, tuple(start)))
            table, items, token, remaining = self.objects[res.key], [], "", None
            filtered = not (lsel.empty() and fsel.empty())
            for i in range(lo, hi):
                obj = table[keys[i]]
                if filtered and not (lsel.matches(obj) and fsel.matches(obj)):
                    continue
                if limit and len(items) >= limit:
                    token = _encode_continue(rv, _key_of(items[-1]))
                    remaining = None if filtered else hi - i
                    break
                items.append(obj)
            return items, rv, token, remaining

    def raw_objects(self, res, ns, name=""):
        with self.cond:
            if name:
                return [self._get(res, ns, name)]
            return [self.objects[res.key][k] for k in self._sorted_keys(res.key)
                    if not ns or k[0] == ns]

    # ---- writes ------------------------------------------------------------------------

    def create(self, res, ns, body, dry_run=False):
        obj = _require_object(body, res)
        m = obj["metadata"]
        with self.cond:
            if not m.get("name") and m.get("generateName"):
                m["name"] = generate_name(m["generateName"])
                while (ns, m["name"]) in self.objects[res.key]:
                    m["name"] = generate_name(m["generateName"])
            if not m.get("name"):
                raise errors.invalid(res, "", [("metadata.name", "FieldValueRequired",
                                     "Required value: name or generateName is required")])
            _check_namespace(res, ns, obj)
            if res.has_status:
                obj.pop("status", None)
            validate(res, obj, None)
            if (ns, m["name"]) in self.objects[res.key]:
                raise errors.already_exists(res, m["name"])
            self._check_namespace_active(res, ns, m["name"])
            if res is NAMESPACES:
                obj["spec"], obj["status"] = {"finalizers": ["kubernetes"]}, {"phase": "Active"}
            if dry_run:
                return obj
            self._ensure_namespace(ns)
            self._stamp_new(obj)
            self._put(res, obj, None)
            return obj

    def _check_namespace_active(self, res, ns, name):
        nso = self.objects[NAMESPACES.key].get(("", ns)) if res.namespaced else None
        if nso and nso["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(403, '%s "%s" is forbidden: unable to create new content in '
                                  'namespace %s because it is being terminated'
                                  % (res.qualified, name, ns))

    def update(self, res, ns, name, body, sub="", dry_run=False):
        body = _require_object(body, res)
        bm = body["metadata"]
        with self.cond:
            old = self._get(res, ns, name)
            if bm.get("name") != name:
                raise errors.bad_request("the name of the object (%s) does not match the name on "
                                         "the URL (%s)" % (bm.get("name", ""), name))
            _check_namespace(res, ns, body)
            rv = bm.get("resourceVersion")
            if not rv and res.crd:
                raise errors.invalid(res, name, [("metadata.resourceVersion", "FieldValueInvalid",
                                     "Invalid value: 0x0: must be specified for an update")])
            self._check_preconditions(res, old, bm.get("uid"), rv, conflict=True)
            return self._commit_update(res, old, self._updated(res, old, body, sub), dry_run)

    def patch(self, res, ns, name, patch, sub="", dry_run=False):
        if not isinstance(patch, dict) or not isinstance(patch.get("metadata", {}), dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        pm = patch.get("metadata") or {}
        with self.cond:
            old = self._get(res, ns, name)
            body = clone(merge_patch(old, patch))
            if body["metadata"].get("name") != name:
                raise errors.bad_request("the name of the object (%s) does not match the name on "
                                         "the URL (%s)" % (body["metadata"].get("name"), name))
            self._check_preconditions(res, old, pm.get("uid"), pm.get("resourceVersion"), True)
            return self._commit_update(res, old, self._updated(res, old, body, sub), dry_run)

    def delete(self, res, ns, name, options, dry_run=False):
        options = options if isinstance(options, dict) else {}
        pre = options.get("preconditions") or {}
        policy = options.get("propagationPolicy") or (
            "Orphan" if options.get("orphanDependents") else "Background")
        if policy not in ("Background", "Foreground", "Orphan"):
            raise errors.invalid(res, name, [("propagationPolicy", "FieldValueNotSupported",
                                 'Unsupported value: "%s"' % policy)])
        with self.cond:
            old = self._get(res, ns, name)
            self._check_preconditions(res, old, pre.get("uid"), pre.get("resourceVersion"), False)
            if dry_run:
                return old
            return self._delete_obj(res, old, policy)

    def _check_preconditions(self, res, old, uid, rv, conflict):
        om = old["metadata"]
        if uid and uid != om["uid"]:
            raise errors.precondition_failed(res, om["name"], "UID", uid, om["uid"])
        if rv and rv != om["resourceVersion"]:
            if conflict:
                raise errors.conflict(res, om["name"])
            raise errors.precondition_failed(res, om["name"], "ResourceVersion", rv,
                                             om["resourceVersion"])

    def _updated(self, res, old, body, sub):
        """Builds the new state of `old` from a full body (PUT or patched object)."""
        if sub == "status":
            new = clone(old)
            if "status" in body:
                new["status"] = body["status"]
            else:
                new.pop("status", None)
            return new
        new, m, om = body, body["metadata"], old["metadata"]
        new["apiVersion"], new["kind"] = res.api_version(), res.kind
        for f in _SERVER_META + ("managedFields", "selfLink"):
            if f in om:
                m[f] = om[f]
            else:
                m.pop(f, None)
        if res.has_status or res is NAMESPACES:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        validate(res, new, old)
        if om.get("deletionTimestamp"):
            added = [f for f in m.get("finalizers") or [] if f not in (om.get("finalizers") or [])]
            if added:
                raise errors.invalid(res, om["name"], [(
                    "metadata.finalizers", "FieldValueForbidden",
                    "Forbidden: no new finalizers can be added if the object is being deleted, "
                    "found new finalizers %s" % json.dumps(added))])
        if spec_changed(old, new):
            m["generation"] = om.get("generation", 1) + 1
        return new

    def _commit_update(self, res, old, new, dry_run):
        if dry_run:
            return new
        m = new["metadata"]
        m["resourceVersion"] = str(self._next_rv())
        if m.get("deletionTimestamp") and not m.get("finalizers"):
            m.pop("finalizers", None)
            self._remove(res, new, old)
        else:
            self._put(res, new, old)
        return new

    # ---- watch support -----------------------------------------------------------------

    def events_after(self, cursor, limit):
        """Events with rv > cursor (at most `limit`); None when cursor was compacted away."""
        if cursor < self.compacted_rv:
            return None
        i = bisect.bisect_right(self.events, cursor, key=lambda e: e.rv)
        return self.events[i:i + limit]

    def expire(self, http_mode):
        with self.cond:
            self.compacted_rv = self.rv
            self.events = []
            self.expire_http_pending = http_mode
            self.drop_generation += 1
            self.cond.notify_all()

    def drop_watches(self):
        with self.cond:
            self.drop_generation += 1
            self.cond.notify_all()


def _require_object(body, res):
    if not isinstance(body, dict) or not isinstance(body.setdefault("metadata", {}), dict):
        raise errors.bad_request("the body of the request must be a %s object" % res.kind)
    kind = body.get("kind")
    if kind and kind != res.kind:
        raise errors.bad_request("the kind of the object (%s) does not match the resource (%s)"
                                 % (kind, res.qualified))
    obj = {"apiVersion": res.api_version(), "kind": res.kind}
    obj.update((k, v) for k, v in body.items() if k not in obj)
    return obj


def _check_namespace(res, ns, obj):
    m = obj["metadata"]
    if not res.namespaced:
        m.pop("namespace", None)
        return
    if m.get("namespace") and m["namespace"] != ns:
        raise errors.bad_request("the namespace of the provided object does not match the "
                                 "namespace sent on the request")
    m["namespace"] = ns


def _key_of(obj):
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def _encode_continue(rv, key):
    raw = json.dumps({"rv": rv, "start": list(key)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token):
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        return int(data["rv"]), tuple(data["start"])
    except (ValueError, KeyError, TypeError):
        raise errors.bad_request("continue key is not valid: %s" % token) from None
