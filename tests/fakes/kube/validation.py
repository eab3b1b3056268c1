"""Write-time validation for the fake API server (a subset of kube-apiserver's).

`validate(res, new, old)` normalises `new` in place (Secret stringData, default type) and
raises ApiError 422 with Status causes on invalid input. `old` is None on create.
"""

import base64
import binascii
import re

from .errors import invalid
from .selectors import _KEY, _VALUE

MAX_SECRET_SIZE = 1024 * 1024
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                  "characters, '-' or '.', and must start and end with an alphanumeric character "
                  "(e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?"
                  "(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
              "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
              "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
_REQUIRED_KEYS = {
    "kubernetes.io/tls": ["tls.crt", "tls.key"],
    "kubernetes.io/dockerconfigjson": [".dockerconfigjson"],
    "kubernetes.io/dockercfg": [".dockercfg"],
    "kubernetes.io/ssh-auth": ["ssh-privatekey"],
}


def _bad(field, value, text):
    return (field, "FieldValueInvalid", 'Invalid value: "%s": %s' % (value, text))


def _validate_meta(res, obj, causes):
    m = obj["metadata"]
    name = m.get("name", "")
    if res.plural == "namespaces":
        if len(name) > 63 or not _LABEL.match(name):
            causes.append(_bad("metadata.name", name, _LABEL_MSG))
    elif len(name) > 253 or not _SUBDOMAIN.match(name):
        causes.append(_bad("metadata.name", name, _SUBDOMAIN_MSG))
    labels = m.get("labels") or {}
    if not isinstance(labels, dict):
        causes.append(_bad("metadata.labels", labels, "must be a map of string to string"))
        labels = {}
    for k, v in labels.items():
        if not _KEY.match(k) or len(k.split("/")[-1]) > 63:
            causes.append(_bad("metadata.labels", k, "name part must consist of alphanumeric "
                               "characters, '-', '_' or '.'"))
        if not isinstance(v, str) or len(v) > 63 or not _VALUE.match(v):
            causes.append(_bad("metadata.labels", v, "a valid label must be an empty string or "
                               "consist of alphanumeric characters, '-', '_' or '.', and must "
                               "start and end with an alphanumeric character; at most 63 chars"))
    ann = m.get("annotations") or {}
    if sum(len(k) + len(str(v)) for k, v in ann.items()) > 256 * 1024:
        causes.append(("metadata.annotations", "FieldValueTooLong",
                       "Too long: must have at most 262144 bytes"))


def _secret_data(obj, causes):
    data = dict(obj.get("data") or {})
    for k, v in (obj.pop("stringData", None) or {}).items():
        data[k] = base64.b64encode(str(v).encode()).decode()
    total = 0
    for k, v in data.items():
        if len(k) > 253 or not _DATA_KEY.match(k) or k in (".", "..") or k.startswith(".."):
            causes.append(_bad("data[%s]" % k, k, "a valid config key must consist of "
                               "alphanumeric characters, '-', '_' or '.'"))
        try:
            total += len(base64.b64decode(v, validate=True))
        except (binascii.Error, TypeError, ValueError):
            causes.append(("data[%s]" % k, "FieldValueInvalid",
                           "Invalid value: illegal base64 data"))
    if total > MAX_SECRET_SIZE:
        causes.append(("data", "FieldValueTooLong",
                       "Too long: must have at most %d bytes" % MAX_SECRET_SIZE))
    obj["data"] = data
    return data


def _validate_secret(obj, old, causes):
    obj.setdefault("type", "Opaque")
    data = _secret_data(obj, causes)
    for key in _REQUIRED_KEYS.get(obj["type"], []):
        if key not in data:
            causes.append(("data[%s]" % key, "FieldValueRequired", "Required value"))
    if obj["type"] == "kubernetes.io/basic-auth" and not (data.get("username") or
                                                          data.get("password")):
        causes.append(("data[username]", "FieldValueRequired", "Required value"))
    if old is None:
        return
    if old.get("type", "Opaque") != obj["type"]:
        causes.append(_bad("type", obj["type"], "field is immutable"))
    if old.get("immutable"):
        if (old.get("data") or {}) != data:
            causes.append(("data", "FieldValueForbidden",
                           "Forbidden: field is immutable when `immutable` is set"))
        if not obj.get("immutable"):
            causes.append(("immutable", "FieldValueForbidden",
                           "Forbidden: field is immutable when `immutable` is set"))


def _validate_configmap(obj, old, causes):
    total = 0
    for k, v in list((obj.get("data") or {}).items()) + list((obj.get("binaryData") or {}).items()):
        if len(k) > 253 or not _DATA_KEY.match(k):
            causes.append(_bad("data[%s]" % k, k, "a valid config key must consist of "
                               "alphanumeric characters, '-', '_' or '.'"))
        total += len(str(v))
    if total > MAX_SECRET_SIZE:
        causes.append(("data", "FieldValueTooLong", "Too long: must have at most 1048576 bytes"))
    if old is not None and old.get("immutable") and (
            old.get("data") != obj.get("data") or old.get("binaryData") != obj.get("binaryData")):
        causes.append(("data", "FieldValueForbidden",
                       "Forbidden: field is immutable when `immutable` is set"))


def _validate_event_v1(obj, old, causes):
    for field in ("eventTime", "reportingController", "reportingInstance", "action", "reason"):
        if not obj.get(field):
            causes.append((field, "FieldValueRequired", "Required value"))
    if obj.get("type") not in ("Normal", "Warning"):
        causes.append(("type", "FieldValueNotSupported", 'Unsupported value: "%s": supported '
                       'values: "Normal", "Warning"' % obj.get("type", "")))
    if len(obj.get("note") or "") > 1024:
        causes.append(("note", "FieldValueTooLong", "Too long: must have at most 1024 bytes"))


def validate(res, obj, old):
    causes = []
    _validate_meta(res, obj, causes)
    if res.key == ("", "secrets"):
        _validate_secret(obj, old, causes)
    elif res.key == ("", "configmaps"):
        _validate_configmap(obj, old, causes)
    elif res.key == ("events.k8s.io", "events"):
        _validate_event_v1(obj, old, causes)
    if causes:
        raise invalid(res, obj["metadata"].get("name", ""), causes)
