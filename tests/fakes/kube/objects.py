"""Object helpers: copies, timestamps, RFC 7386 merge patch, generation rules, names.

Stored objects are never mutated after they are stored (event log and readers share
them); every write builds a fresh object with `clone`.
"""

import json
import random
import time

_GEN_CHARS = "bcdfghjklmnpqrstvwxz2456789"   # apimachinery util/rand alphanums


def clone(obj):
    return json.loads(json.dumps(obj))


def now_rfc3339(offset_seconds=0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset_seconds))


def generate_name(prefix):
    return prefix + "".join(random.choice(_GEN_CHARS) for _ in range(5))


def merge_patch(target, patch):
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _without(obj, keys):
    return {k: v for k, v in obj.items() if k not in keys}


def spec_changed(old, new):
    """True when something outside metadata/status (and apiVersion/kind) changed."""
    skip = ("metadata", "status", "apiVersion", "kind")
    return _without(old, skip) != _without(new, skip)


def owner_uids(obj):
    return [r.get("uid") for r in (obj["metadata"].get("ownerReferences") or []) if r.get("uid")]
