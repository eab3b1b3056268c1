"""Client helper for the fake AWS server (tests/fakes/aws_server.py): Secrets Manager, SSM
Parameter Store, STS, EKS Pod Identity and IMDSv2 credential endpoints.

Python 3 standard library only. Contract of the server: tests/fakes/AWS_FAKE_API.md.

    import sys; sys.path.insert(0, "<repo>/tests/fakes")
    from awsfake_client import start_aws

    aws = start_aws(tmpdir)                        # http://127.0.0.1:PORT, region us-east-1
    aws.add_credentials("AKIDTEST", "secret")      # static keys the fake accepts
    aws.put_secret("prod/db", string='{"password":"s3cr3t"}', tags={"team": "a"})
    status, body = aws.sm("GetSecretValue", {"SecretId": "prod/db"}, "AKIDTEST", "secret")
    aws.stop()                                     # also: `with start_aws(d) as aws:`

start_aws(tmpdir, region="us-east-1", jwt_key=None, audience=None, extra_args=(),
          quiet=True, timeout=30) -> FakeAws   (subprocess on port 0; stderr in aws.log_path)

FakeAws attributes: url, port, host ("127.0.0.1:PORT"), region, jwt_key, proc, log_path,
    pod_identity_url (url + "/_pod_identity/credentials": AWS_CONTAINER_CREDENTIALS_FULL_URI),
    imds_endpoint (= url: AWS_EC2_METADATA_SERVICE_ENDPOINT).
FakeAws methods (control helpers raise RuntimeError on a non-200 control reply):
    api(method, path, body=None, headers=None, token=None, timeout=30) -> (status, body)
        raw request; body: parsed JSON, else text, else None (token is ignored).
    sm(op, body, access_key, secret_key, session_token=None, region=None, amz_date=None)
        -> (status, parsed JSON)   SigV4-signed Secrets Manager call (signer: aws/sigv4.py).
    ssm(op, body, access_key, secret_key, session_token=None, region=None, amz_date=None)
        -> (status, parsed JSON)   SigV4-signed Parameter Store call (AmazonSSM.<op>, "ssm").
    sts(action, params, access_key=None, secret_key=None, session_token=None, region=None,
        amz_date=None) -> (status, XML text)   signed unless access_key is None.
    add_credentials(access_key_id, secret_access_key)
    put_secret(name, string=None, binary=None, tags=None, stage=None, description=None)
        -> {"arn", "version_id"}   (a new version; stage defaults to AWSCURRENT)
    put_parameter(name, value, type="String"|"SecureString"|"StringList", tags=None)
        -> version (int: 1 for a new parameter, N+1 after that; tags replace when given)
    delete_parameter(name)   the parameter and all its versions are gone (ParameterNotFound)
    delete_secret(name, recovery_window=30) -> {"arn", "deletion_date"} (marked for deletion)
    role(arn, external_id=None, allowed_tags=None, subjects=None, max_session_s=43200)
    make_jwt(sub="system:serviceaccount:default:default", aud="sts.amazonaws.com",
             exp_in=3600, key=None, claims=None) -> HS256 JWT (key defaults to jwt_key)
    requests(since=0); reset_requests(); stats() -> {"calls": {op: n}}; reset_stats()
    fault(operation="", kind="throttle"|"error"|"unavailable"|"denied"|"delay", count=1,
          delay_ms=None) -> rule id (count <= 0: until clear_faults()); clear_faults(); faults()
        operation is a regex on the whole call name: an API operation ("" = all of them), or
        "PodIdentity.credentials", "IMDS.token", "IMDS.role", "IMDS.credentials" (named
        explicitly; not "denied"). kind="delay" only holds the reply back delay_ms.
    deny(operation="", count=1, delay_ms=None) -> rule id   = fault(kind="denied"): the next
        `count` authenticated matching calls get 400 AccessDeniedException (STS: 403 AccessDenied)
    pod_identity(token, role_arn=None, duration_s=None)   EKS Pod Identity association: GET
        pod_identity_url with `Authorization: <token>` returns fresh temporary credentials
        (expiry fake clock + duration_s, default 3600); token=None removes it.
    imds(role_name, duration_s=None)   IMDSv2 instance role (None removes it)
    container_credentials(token=None) -> (status, parsed JSON)   GET pod_identity_url
    imds_token(ttl=21600, headers=None) -> (status, text)   PUT /latest/api/token
    imds_get(path, token=None) -> (status, text)   GET /latest/meta-data/<path> with the token
    advance_clock(seconds) -> total offset; healthy(); stop()
"""

import http.client
import itertools
import json
import os
import sys
import time
from urllib.parse import urlencode

_HERE = os.path.dirname(os.path.abspath(__file__))
_SERVER = os.path.join(_HERE, "aws_server.py")
_COUNTER = itertools.count(1)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from aws import sigv4  # noqa: E402
from kube.tokens import make_jwt as _sign_jwt  # noqa: E402
from kubefake_client import ProcessControl, _decode, spawn_fake  # noqa: E402


def sign_headers(method, path, query, headers, payload, access_key, secret_key, region,
                 service, amz_date=None, session_token=None):
    """Adds X-Amz-Date (+ token) and Authorization to `headers` (dict) and returns it."""
    amz_date = amz_date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    headers["X-Amz-Date"] = amz_date
    if session_token:
        headers["X-Amz-Security-Token"] = session_token
    signed = sorted(k.lower() for k in headers)
    creq = sigv4.canonical_request(method, path, query, list(headers.items()), signed, payload)
    sig = sigv4.signature(secret_key, amz_date, region, service, creq)
    headers["Authorization"] = "%s Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, " \
        "Signature=%s" % (sigv4.ALGORITHM, access_key, amz_date[:8], region, service,
                          ";".join(signed), sig)
    return headers


class FakeAws(ProcessControl):
    def __init__(self, tmpdir, proc, port, region, jwt_key, log_path):
        self.tmpdir, self.proc, self.port, self.region = tmpdir, proc, port, region
        self.jwt_key, self.log_path = jwt_key, log_path
        self.host = "127.0.0.1:%d" % port
        self.url = "http://" + self.host
        self.pod_identity_url = self.url + "/_pod_identity/credentials"
        self.imds_endpoint = self.url

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def api(self, method, path, body=None, headers=None, token=None, timeout=30):
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        if isinstance(data, str):
            data = data.encode()
        hdrs = dict(headers or {})
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            self.last_headers = dict(resp.getheaders())
            return resp.status, _decode(raw)
        finally:
            conn.close()

    def sm(self, op, body, access_key, secret_key, session_token=None, region=None,
           amz_date=None):
        payload = json.dumps(body).encode()
        hdrs = {"Host": self.host, "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "secretsmanager." + op}
        sign_headers("POST", "/", "", hdrs, payload, access_key, secret_key,
                     region or self.region, "secretsmanager", amz_date, session_token)
        return self.api("POST", "/", payload, hdrs)

    def ssm(self, op, body, access_key, secret_key, session_token=None, region=None,
            amz_date=None):
        payload = json.dumps(body).encode()
        hdrs = {"Host": self.host, "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "AmazonSSM." + op}
        sign_headers("POST", "/", "", hdrs, payload, access_key, secret_key,
                     region or self.region, "ssm", amz_date, session_token)
        return self.api("POST", "/", payload, hdrs)

    def sts(self, action, params, access_key=None, secret_key=None, session_token=None,
            region=None, amz_date=None):
        form = dict(Action=action, Version="2011-06-15")
        form.update(params)
        payload = urlencode(form).encode()
        hdrs = {"Host": self.host,
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        if access_key is not None:
            sign_headers("POST", "/", "", hdrs, payload, access_key, secret_key,
                         region or self.region, "sts", amz_date, session_token)
        return self.api("POST", "/", payload, hdrs)

    def _control(self, method, path, body=None):
        status, out = self.api(method, "/_fake/" + path, body)
        if status != 200:
            raise RuntimeError("fake aws control %s %s failed: %s %s"
                               % (method, path, status, out))
        return out

    def add_credentials(self, access_key_id, secret_access_key):
        self._control("POST", "credentials", {"access_key_id": access_key_id,
                                              "secret_access_key": secret_access_key})

    def put_secret(self, name, string=None, binary=None, tags=None, stage=None,
                   description=None):
        import base64
        body = {"name": name}
        if binary is not None:
            body["binary_b64"] = base64.b64encode(binary).decode()
        else:
            body["string"] = string
        for k, v in (("tags", tags), ("stage", stage), ("description", description)):
            if v is not None:
                body[k] = v
        return self._control("POST", "secret", body)

    def put_parameter(self, name, value, type="String", tags=None):  # noqa: A002
        body = {"name": name, "value": value, "type": type}
        if tags is not None:
            body["tags"] = tags
        return self._control("POST", "parameter", body)["version"]

    def delete_parameter(self, name):
        self._control("POST", "parameter/delete", {"name": name})

    def delete_secret(self, name, recovery_window=30):
        return self._control("POST", "secret/delete", {"name": name,
                                                       "recovery_window": recovery_window})

    def role(self, arn, external_id=None, allowed_tags=None, subjects=None,
             max_session_s=43200):
        self._control("POST", "role", {"arn": arn, "external_id": external_id,
                                       "allowed_tags": allowed_tags, "subjects": subjects,
                                       "max_session_s": max_session_s})

    def make_jwt(self, sub="system:serviceaccount:default:default", aud="sts.amazonaws.com",
                 exp_in=3600, key=None, claims=None):
        now = int(time.time())
        body = {"iss": "https://kubernetes.default.svc.cluster.local", "iat": now,
                "nbf": now, "exp": now + exp_in, "sub": sub, "aud": aud}
        body.update(claims or {})
        return _sign_jwt(key or self.jwt_key, body)

    def requests(self, since=0):
        return self._control("GET", "requests?since=%d" % since)

    def reset_requests(self):
        self._control("POST", "requests/reset")

    def stats(self):
        return self._control("GET", "stats")

    def reset_stats(self):
        self._control("POST", "stats/reset")

    def fault(self, operation="", kind="throttle", count=1, delay_ms=None):
        rule = {"operation": operation, "kind": kind, "count": count}
        if delay_ms is not None:
            rule["delay_ms"] = delay_ms
        return self._control("POST", "faults", rule)["id"]

    def deny(self, operation="", count=1, delay_ms=None):
        return self.fault(operation, "denied", count, delay_ms)

    def pod_identity(self, token, role_arn=None, duration_s=None):
        body = {"token": token, "role_arn": role_arn}
        if duration_s is not None:
            body["duration_s"] = duration_s
        self._control("POST", "pod_identity", body)

    def imds(self, role_name, duration_s=None):
        body = {"role_name": role_name}
        if duration_s is not None:
            body["duration_s"] = duration_s
        self._control("POST", "imds", body)

    def container_credentials(self, token=None):
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = token
        return self.api("GET", "/_pod_identity/credentials", headers=headers)

    def imds_token(self, ttl=21600, headers=None):
        hdrs = dict(headers or {})
        if ttl is not None:
            hdrs["X-aws-ec2-metadata-token-ttl-seconds"] = str(ttl)
        return self.api("PUT", "/latest/api/token", headers=hdrs)

    def imds_get(self, path, token=None):
        headers = {} if token is None else {"X-aws-ec2-metadata-token": token}
        return self.api("GET", "/latest/meta-data/" + path, headers=headers)

    def clear_faults(self):
        self._control("DELETE", "faults")

    def faults(self):
        return self._control("GET", "faults")

    def advance_clock(self, seconds):
        return self._control("POST", "clock", {"advance_s": seconds})["offset_s"]


def start_aws(tmpdir, region="us-east-1", jwt_key=None, audience=None, extra_args=(),
              quiet=True, timeout=30):
    n = next(_COUNTER)
    port_file = os.path.join(tmpdir, "awsfake-%d-%d.port" % (os.getpid(), n))
    log_path = os.path.join(tmpdir, "awsfake-%d-%d.log" % (os.getpid(), n))
    args = [sys.executable, _SERVER, "--port", "0", "--port-file", port_file,
            "--region", region]
    if jwt_key is not None:
        args += ["--jwt-key", jwt_key]
    if audience is not None:
        args += ["--audience", audience]
    if quiet:
        args.append("--quiet")
    args += list(extra_args)
    proc, port, log = spawn_fake(args, port_file, log_path, "fake aws", timeout)
    aws = FakeAws(tmpdir, proc, port, region, jwt_key or "fake-jwt-key", log_path)
    aws._log = log
    return aws
