"""Vault-shaped errors for the fake Vault server.

VaultError carries the HTTP status and the `{"errors":[...]}` body (or a full body, for the
KV v2 "404 with metadata" case); the HTTP layer sends it. Messages follow Vault's wording
(protocols.md section e.1). Messages never contain tokens or secret values.
"""

PERMISSION_DENIED = "1 error occurred:\n\t* permission denied\n\n"


class VaultError(Exception):
    def __init__(self, code, messages=None, body=None, headers=None):
        if isinstance(messages, str):
            messages = [messages]
        super().__init__("; ".join(messages or []) or str(code))
        self.code = code
        self.body = body if body is not None else {"errors": list(messages or [])}
        self.headers = headers or {}


def denied():
    return VaultError(403, PERMISSION_DENIED)


def not_found():
    return VaultError(404, [])


def bad_request(message):
    return VaultError(400, message)


def no_route(path):
    return VaultError(404, 'no handler for route "%s". route entry not found.' % path)


def unsupported(path):
    return VaultError(405, "unsupported operation")


def sealed():
    return VaultError(503, "Vault is sealed")


def from_fault(code, headers, path):
    """Turns an injected fault (status + headers) into a Vault-shaped error."""
    message = {
        412: "required index state not present",
        429: 'request path "%s": rate limit quota exceeded' % path,
        500: "internal error",
        502: "upstream error",
        503: "Vault is sealed",
    }.get(code, "injected fault")
    return VaultError(code, message, headers=dict(headers or {}))
