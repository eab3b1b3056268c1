"""Test-control state of the fake API server: the request log and fault-injection rules.

Both are thread-safe (own locks, independent of the store lock). Contract: the
`/_fake/requests` and `/_fake/faults` sections of tests/fakes/KUBE_FAKE_API.md.
"""

import re
import threading

from .errors import ApiError, REASONS


class RequestLog:
    """Every API request since start/reset; entries are dicts, `status` filled on response."""

    def __init__(self, cap=1000000):
        self._lock = threading.Lock()
        self._entries = []
        self._seq = 0
        self._cap = cap

    def start(self, method, path, query, watch, content_type, user_agent):
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, "method": method, "path": path, "query": query,
                     "status": 0, "watch": watch, "content_type": content_type,
                     "user_agent": user_agent}
            self._entries.append(entry)
            if len(self._entries) > self._cap:
                del self._entries[:len(self._entries) - self._cap]
            return entry

    def entries(self, since=0):
        with self._lock:
            return [dict(e) for e in self._entries if e["seq"] > since]

    def reset(self):
        with self._lock:
            self._entries = []


class Faults:
    """Ordered fault rules; `check` consumes matching rules and returns what to do."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []
        self._next_id = 0

    def add(self, spec):
        if not isinstance(spec, dict):
            raise ApiError(400, "fault rule must be a JSON object")
        try:
            rule = {"method": str(spec.get("method", "*")).upper(),
                    "path_regex": str(spec.get("path_regex", "")),
                    "status": int(spec.get("status", 500)),
                    "count": int(spec.get("count", 1)),
                    "retry_after": spec.get("retry_after"),
                    "delay_ms": int(spec.get("delay_ms") or 0),
                    "reason": spec.get("reason")}
            rule["_re"] = re.compile(rule["path_regex"])
        except (TypeError, ValueError, re.error) as e:
            raise ApiError(400, "invalid fault rule: %s" % e) from None
        with self._lock:
            self._next_id += 1
            rule["id"] = self._next_id
            self._rules.append(rule)
            return rule["id"]

    def clear(self):
        with self._lock:
            self._rules = []

    def list(self):
        with self._lock:
            return [{k: v for k, v in r.items() if k != "_re"} for r in self._rules]

    def check(self, method, path):
        """Returns (delay_seconds, ApiError or None) for this request, consuming rules."""
        delay, error = 0.0, None
        with self._lock:
            for rule in list(self._rules):
                if rule["method"] not in ("*", method) or not rule["_re"].search(path):
                    continue
                if rule["count"] > 0:
                    rule["count"] -= 1
                    if rule["count"] == 0:
                        self._rules.remove(rule)
                delay += rule["delay_ms"] / 1000.0
                if rule["status"]:
                    error = _fault_error(rule)
                    break
        return delay, error


def _fault_error(rule):
    code = rule["status"]
    reason = rule["reason"] if rule["reason"] is not None else REASONS.get(code, "")
    headers, details = {}, None
    if rule["retry_after"] is not None:
        headers["Retry-After"] = str(rule["retry_after"])
        details = {"retryAfterSeconds": int(rule["retry_after"])}
    message = {429: "Too many requests, please try again later.",
               500: "Internal error occurred: injected fault",
               503: "the server is currently unable to handle the request",
               504: "the server was unable to return a response in the time allotted"}.get(
                   code, "injected fault")
    return ApiError(code, message, reason, details, headers)
