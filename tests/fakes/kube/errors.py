"""Kubernetes `Status` error objects for the fake API server.

ApiError carries a ready-to-send Status body; the HTTP layer turns it into a response.
Messages follow apimachinery's pkg/api/errors wording (see protocols.md a.7 and a.11).
"""

REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
    413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}


def status_body(code, message, reason=None, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": REASONS.get(code, "") if reason is None else reason,
            "code": code}
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    """An API failure; `body` is the Status object, `headers` extra response headers."""

    def __init__(self, code, message, reason=None, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.body = status_body(code, message, reason, details)
        self.headers = headers or {}


def _details(res, name):
    details = {"name": name, "kind": res.plural}
    if res.group:
        details["group"] = res.group
    return details


def not_found(res, name):
    return ApiError(404, '%s "%s" not found' % (res.qualified, name), details=_details(res, name))


def already_exists(res, name):
    return ApiError(409, '%s "%s" already exists' % (res.qualified, name), "AlreadyExists",
                    _details(res, name))


def conflict(res, name):
    return ApiError(409, 'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    'please apply your changes to the latest version and try again'
                    % (res.qualified, name), "Conflict", _details(res, name))


def precondition_failed(res, name, what, wanted, actual):
    return ApiError(409, "Precondition failed: %s in precondition: %s, %s in object meta: %s"
                    % (what, wanted, what, actual), "Conflict", _details(res, name))


def invalid(res, name, causes):
    """causes: list of (field, cause_reason, text) e.g. ("data", "FieldValueForbidden", "...")."""
    kind = res.kind if not res.group else "%s.%s" % (res.kind, res.group)
    parts = ["%s: %s" % (field, text) for field, _, text in causes]
    msg = '%s "%s" is invalid: %s' % (kind, name, parts[0] if len(parts) == 1
                                       else "[" + ", ".join(parts) + "]")
    details = {"name": name, "kind": res.kind,
               "causes": [{"reason": r, "message": t, "field": f} for f, r, t in causes]}
    if res.group:
        details["group"] = res.group
    return ApiError(422, msg, "Invalid", details)


def bad_request(message):
    return ApiError(400, message)


def expired(message):
    return ApiError(410, message, "Expired")


def unauthorized():
    return ApiError(401, "Unauthorized")
