"""Label and field selectors (apimachinery labels.Parse / fields.ParseSelector subset).

Label: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma = AND.
Field: `metadata.name`, `metadata.namespace` (and `type` for Secrets) with `=`, `==`, `!=`.
Parse errors raise ApiError 400 like the real server.
"""

import re

from .errors import bad_request

_KEY = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*"
                  r"[A-Za-z0-9])?$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_EQ = re.compile(r"^\s*([^\s!=<>(),]+)\s*(==|=|!=)\s*([^\s]*)\s*$")
_SET = re.compile(r"^\s*([^\s!=<>(),]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")


def _split_top_level(text):
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in (s.strip() for s in parts) if p]


def _check(key, values, text):
    if not _KEY.match(key) or len(key.split("/")[-1]) > 63:
        raise bad_request("unable to parse requirement: invalid label key \"%s\"" % key)
    for v in values:
        if len(v) > 63 or not _VALUE.match(v):
            raise bad_request("unable to parse requirement: invalid label value: \"%s\" in \"%s\""
                              % (v, text))


def _requirement(text):
    """Returns a predicate over a labels dict."""
    m = _SET.match(text)
    if m:
        key, op = m.group(1), m.group(2)
        values = {v.strip() for v in m.group(3).split(",") if v.strip()}
        _check(key, values, text)
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    m = _EQ.match(text)
    if m:
        key, op, value = m.groups()
        _check(key, [value], text)
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if text.startswith("!"):
        key = text[1:].strip()
        _check(key, [], text)
        return lambda labels: key not in labels
    _check(text, [], text)
    return lambda labels: text in labels


class LabelSelector:
    def __init__(self, text):
        self.text = text or ""
        self._preds = [_requirement(p) for p in _split_top_level(self.text)]

    def empty(self):
        return not self._preds

    def matches(self, obj):
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(p(labels) for p in self._preds)


def _field_value(obj, field):
    if field == "metadata.name":
        return obj["metadata"].get("name", "")
    if field == "metadata.namespace":
        return obj["metadata"].get("namespace", "")
    return obj.get("type", "")


class FieldSelector:
    def __init__(self, text, res):
        self.text = text or ""
        self._reqs = []
        allowed = {"metadata.name", "metadata.namespace"}
        if res.plural == "secrets" and not res.group:
            allowed.add("type")
        for part in _split_top_level(self.text):
            m = re.match(r"^([^=!]+)(==|=|!=)(.*)$", part)
            if not m:
                raise bad_request("invalid selector: '%s'; can't understand '%s'"
                                  % (self.text, part))
            field, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
            if field not in allowed:
                raise bad_request("field label not supported: %s" % field)
            self._reqs.append((field, op == "!=", value))

    def empty(self):
        return not self._reqs

    def add_name(self, name):
        self._reqs.append(("metadata.name", False, name))

    def matches(self, obj):
        for field, negate, value in self._reqs:
            if (_field_value(obj, field) == value) == negate:
                return False
        return True
