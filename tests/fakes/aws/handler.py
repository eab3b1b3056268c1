"""HTTP layer of the fake AWS server: one handler instance per connection (own thread).

Reuses the fake Kubernetes server's plumbing (keep-alive, body reading, single-write
responses). `POST /` is routed by `X-Amz-Target: secretsmanager.<Op>` or `AmazonSSM.<Op>`
(JSON 1.1, aws/ssm.py) or by the form field `Action` (STS query protocol, XML);
`/_pod_identity/credentials` and `/latest/...` are the credential endpoints
(aws/metadata.py); `/_fake/...` is the control API. Order per API request: request log +
call count, fault rules, SigV4, "denied" rules, operation. The request log never holds
secret values, secret keys or tokens.
"""

import base64
import json
import sys
import time
import traceback
import uuid
from urllib.parse import parse_qsl, urlsplit

from kube.errors import ApiError
from kube.handler import Handler as KubeHandler, _NET_ERRORS

from . import metadata, secretsmanager, ssm, sts
from .secretsmanager import SmError
from .sigv4 import AuthError
from .sts import StsError

JSON_CT = "application/x-amz-json-1.1"
JSON_SERVICES = ("secretsmanager", "ssm")      # JSON 1.1 services ({"__type","message"})
# SSM's own names for the fault codes that differ from Secrets Manager's
SSM_FAULT_CODES = {"InternalServiceError": "InternalServerError"}
# AuthError.kind -> (status, Secrets Manager / SSM __type, STS status, STS code)
AUTH_ERRORS = {
    "missing": (400, "MissingAuthenticationTokenException", 403, "MissingAuthenticationToken"),
    "incomplete": (400, "IncompleteSignatureException", 400, "IncompleteSignature"),
    "unknown_key": (400, "UnrecognizedClientException", 403, "InvalidClientTokenId"),
    "signature": (400, "InvalidSignatureException", 403, "SignatureDoesNotMatch"),
    "scope": (400, "InvalidSignatureException", 403, "SignatureDoesNotMatch"),
    "expired_sig": (400, "InvalidSignatureException", 403, "SignatureDoesNotMatch"),
    "expired_token": (400, "ExpiredTokenException", 400, "ExpiredToken"),
}
# fault HTTP status -> (Secrets Manager __type, STS code, message)
FAULTS = {400: ("ThrottlingException", "Throttling", "Rate exceeded"),
          429: ("ThrottlingException", "Throttling", "Rate exceeded"),
          500: ("InternalServiceError", "InternalFailure", "An internal error occurred."),
          503: ("ServiceUnavailable", "ServiceUnavailable", "Service is unavailable.")}


class Handler(KubeHandler):
    server_version = "fake-aws/1.0"

    def log_message(self, fmt, *args):
        if not self.server.opts.quiet:
            sys.stderr.write("fake-aws: %s\n" % (fmt % args))

    do_GET = do_POST = do_PUT = do_DELETE = lambda self: self._dispatch()

    def _dispatch(self):
        url = urlsplit(self.path)
        self._entry = None
        try:
            raw = self._read_body()
            if url.path.startswith("/_fake/"):
                return self._control(url.path, dict(parse_qsl(url.query)), raw)
            route = metadata.route(url.path)
            if route is not None:
                return self._metadata(route, url)
            target = self.headers.get("X-Amz-Target", "")
            if target.startswith("secretsmanager."):
                return self._aws("secretsmanager", target.split(".", 1)[1], url, raw)
            if target.startswith("AmazonSSM."):
                return self._aws("ssm", target.split(".", 1)[1], url, raw)
            params = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            if self.command == "POST" and "Action" in params:
                return self._aws("sts", params["Action"], url, raw, params)
            self._send_body(404, b'{"__type":"UnknownOperationException"}', JSON_CT)
        except _NET_ERRORS:
            self.close_connection = True

    # ---- AWS API -----------------------------------------------------------------------

    def _aws(self, service, op, url, raw, params=None):
        rid = str(uuid.uuid4())
        self._entry = entry = self.server.reqlog.start(
            self.command, url.path, url.query, False, self.headers.get("Content-Type", ""),
            self.headers.get("User-Agent", ""))
        entry.update(service=service, operation=op, access_key_id="", error="")
        try:
            state = self.server.state
            with state.lock:
                state.count(op)
            delay, fault = self.server.faults.check(self.command, "/fault/%s/%s" % (service, op))
            if delay:
                time.sleep(delay)
            if fault:
                kind = FAULTS.get(fault.code, FAULTS[500])
                status = 400 if fault.code == 429 else fault.code
                if service in JSON_SERVICES:
                    code = kind[0] if service == "secretsmanager" else \
                        SSM_FAULT_CODES.get(kind[0], kind[0])
                    raise SmError(code, kind[2], status)
                raise StsError(kind[1], kind[2], status)
            info = {}
            with state.lock:
                if not (service == "sts" and op in sts.UNSIGNED):
                    akid = state.verify(self.command, url.path, url.query,
                                        self.headers.items(), raw, service)
                    entry["access_key_id"] = akid
                    info.update(access_key_id=akid, caller_arn=state.creds[akid]["arn"])
            body = json.loads(raw or b"{}") if service in JSON_SERVICES else None
            for field in ("SecretId", "Name", "Path", "ResourceId"):
                if isinstance(body, dict) and isinstance(body.get(field), str):
                    entry["secret_id"] = body[field]
                    break
            self._check_denied(service, op, info.get("caller_arn"), body, params)
            with state.lock:
                if service == "secretsmanager":
                    out = secretsmanager.call(state, op, body)
                elif service == "ssm":
                    out = ssm.call(state, op, body)
                else:
                    out = sts.call(state, op, params, info)
                    entry.update({k: v for k, v in info.items() if k != "caller_arn"})
            if service in JSON_SERVICES:
                self._send_body(200, json.dumps(out).encode(), JSON_CT,
                                {"x-amzn-RequestId": rid})
            else:
                self._send_body(200, sts.response_xml(op, out, rid).encode(), "text/xml",
                                {"x-amzn-RequestId": rid})
        except ValueError:
            self._aws_error(service, rid, 400, "SerializationException", "Invalid JSON body")
        except AuthError as e:
            m = AUTH_ERRORS[e.kind]
            if service in JSON_SERVICES:
                self._aws_error(service, rid, m[0], m[1], e.message)
            else:
                self._aws_error(service, rid, m[2], m[3], e.message)
        except (SmError, StsError) as e:
            self._aws_error(service, rid, e.status, e.code, e.message)
        except _NET_ERRORS:
            raise
        except Exception:
            traceback.print_exc()
            self._aws_error(service, rid, 500, {"secretsmanager": "InternalServiceError",
                                                "ssm": "InternalServerError"}.get(
                                                    service, "InternalFailure"), "internal")

    def _check_denied(self, service, op, caller, body, params):
        """"denied" fault rules apply to authenticated calls, as IAM does after SigV4."""
        delay, fault = self.server.faults.check(self.command, "/denied/%s/%s" % (service, op))
        if delay:
            time.sleep(delay)
        if fault:
            raise _denied(service, op, caller, body, params or {})

    def _aws_error(self, service, rid, status, code, message):
        if self._entry is not None:
            self._entry["error"] = code
        headers = {"x-amzn-RequestId": rid}
        if service in JSON_SERVICES:
            headers["X-Amzn-ErrorType"] = code
            body = json.dumps({"__type": code, "message": message}).encode()
            return self._send_body(status, body, JSON_CT, headers)
        self._send_body(status, sts.error_xml(code, message, rid, status).encode(),
                        "text/xml", headers)

    # ---- credential endpoints (EKS Pod Identity, IMDSv2) --------------------------------

    def _metadata(self, route, url):
        service, op = route
        self._entry = entry = self.server.reqlog.start(
            self.command, url.path, url.query, False, self.headers.get("Content-Type", ""),
            self.headers.get("User-Agent", ""))
        entry.update(service=service, operation=op, access_key_id="", error="")
        state = self.server.state
        try:
            with state.lock:
                state.count(op)
            delay, fault = self.server.faults.check(self.command,
                                                    "/fault/%s/%s" % (service, op))
            if delay:
                time.sleep(delay)
            if fault:
                reply = metadata.fault_reply(service, fault.code)
            else:
                with state.lock:
                    if service == "pod_identity":
                        reply = metadata.pod_identity(state, self.command, op, self.headers)
                    else:
                        reply = metadata.imds(state, self.command, op, url.path, self.headers)
        except _NET_ERRORS:
            raise
        except Exception:
            traceback.print_exc()
            reply = metadata.fault_reply(service, 500)
        entry.update(reply.info)
        entry["error"] = reply.error
        self._send_body(reply.status, reply.body, reply.ctype, reply.headers)

    # ---- control API -------------------------------------------------------------------

    def _control(self, path, query, raw):
        try:
            body = json.loads(raw) if raw else {}
            out = self._control_op((self.command, path), body, query)
            if out is None:
                return self._send_json(404, {"error": "no control endpoint %s %s"
                                             % (self.command, path)})
            self._send_json(200, out)
            if path == "/_fake/stop":
                import threading
                threading.Thread(target=self.server.shutdown, daemon=True).start()
        except (ValueError, KeyError, TypeError) as e:
            self._send_json(400, {"error": "bad control request: %s" % e})
        except ApiError as e:
            self._send_json(400, {"error": str(e)})

    def _control_op(self, key, body, query):
        state = self.server.state
        if key == ("GET", "/_fake/healthz"):
            return {"ok": True}
        if key == ("POST", "/_fake/stop"):
            return {"ok": True}
        if key == ("GET", "/_fake/requests"):
            return self.server.reqlog.entries(int(query.get("since", 0)))
        if key == ("POST", "/_fake/requests/reset"):
            self.server.reqlog.reset()
            return {"ok": True}
        if key == ("POST", "/_fake/faults"):
            return {"id": self.server.faults.add(_fault_rule(body))}
        if key == ("GET", "/_fake/faults"):
            return self.server.faults.list()
        if key == ("DELETE", "/_fake/faults"):
            self.server.faults.clear()
            return {"ok": True}
        with state.lock:
            return _stateful(state, key, body)


def _fault_rule(body):
    """Rules match "/fault/<service>/<op>" before SigV4, "denied" ones "/denied/<service>/<op>"
    after it (Faults.check is called with both paths)."""
    op = body.get("operation") or "[^/.]*"     # empty: every API operation (no "IMDS.x")
    kind = body.get("kind", "error")
    status = {"throttle": 400, "error": 500, "unavailable": 503, "denied": 403,
              "delay": 0}.get(kind)
    if status is None:
        raise ValueError("kind must be throttle, error, unavailable, denied or delay")
    stage = "denied" if kind == "denied" else "fault"
    return {"method": "*", "path_regex": "^/%s/[a-z_]+/(?:%s)$" % (stage, op),
            "status": status, "count": body.get("count", 1),
            "delay_ms": body.get("delay_ms") or 0}


def _denied(service, op, caller, body, params):
    """AccessDenied in AWS's words: 400 AccessDeniedException (JSON) / 403 AccessDenied (STS)."""
    if service in JSON_SERVICES:
        field = "SecretId" if service == "secretsmanager" else "Name"
        sid = body.get(field) if isinstance(body, dict) else None
        on = " on resource: %s" % sid if isinstance(sid, str) and sid else ""
        return SmError("AccessDeniedException", "User: %s is not authorized to perform: "
                       "%s:%s%s because no identity-based policy allows the %s:%s action"
                       % (caller, service, op, on, service, op))
    if caller is None:
        return StsError("AccessDenied", "Not authorized to perform sts:%s" % op, 403)
    role = params.get("RoleArn")
    on = " on resource: %s" % role if role else ""
    return StsError("AccessDenied", "User: %s is not authorized to perform: sts:%s%s"
                    % (caller, op, on), 403)


def _stateful(state, key, body):
    if key == ("GET", "/_fake/stats"):
        return {"calls": dict(state.stats)}
    if key == ("POST", "/_fake/stats/reset"):
        state.stats.clear()
        return {"ok": True}
    if key == ("POST", "/_fake/clock"):
        state.offset += float(body.get("advance_s", 0))
        return {"offset_s": state.offset, "now": state.now()}
    if key == ("POST", "/_fake/pod_identity"):
        return metadata.configure_pod_identity(state, body)
    if key == ("POST", "/_fake/imds"):
        return metadata.configure_imds(state, body)
    if key == ("POST", "/_fake/credentials"):
        state.add_static(str(body["access_key_id"]), str(body["secret_access_key"]))
        return {"ok": True}
    if key == ("POST", "/_fake/role"):
        arn = str(body["arn"])
        allowed = body.get("allowed_tags")
        subjects = body.get("subjects")
        state.roles[arn] = {"external_id": body.get("external_id"),
                            "allowed_tags": None if allowed is None else list(allowed),
                            "subjects": None if subjects is None else list(subjects),
                            "max_s": int(body.get("max_session_s", 43200))}
        return {"ok": True}
    if key == ("POST", "/_fake/secret"):
        return _put_secret(state, body)
    if key == ("POST", "/_fake/parameter"):
        param, version = state.put_parameter(body["name"], body["value"],
                                             body.get("type", "String"), body.get("tags"))
        return {"arn": param.arn, "version": version}
    if key == ("POST", "/_fake/parameter/delete"):
        if state.delete_parameter(str(body["name"])) is None:
            raise ValueError("no such parameter")
        return {"ok": True}
    if key == ("POST", "/_fake/secret/delete"):
        sec = state.mark_deleted(str(body["name"]), int(body.get("recovery_window", 30)))
        if sec is None:
            raise ValueError("no such secret")
        return {"arn": sec.arn, "deletion_date": sec.delete_at}
    return None


def _put_secret(state, body):
    name = str(body["name"])
    if "binary_b64" in body:
        value = {"binary": base64.b64decode(body["binary_b64"], validate=True)}
    elif isinstance(body.get("string"), str):
        value = {"string": body["string"]}
    else:
        raise ValueError("string or binary_b64 required")
    stages = body.get("stage")
    if isinstance(stages, str):
        stages = [stages]
    sec, vid = state.put_secret(name, value, body.get("tags"), stages, body.get("description"))
    return {"arn": sec.arn, "version_id": vid}
