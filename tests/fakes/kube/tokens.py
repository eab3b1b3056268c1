"""HS256 JWTs for TokenRequest and the test TLS material (generated with the openssl CLI)."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import tempfile
import time
import uuid


def _b64url(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def make_jwt(key, claims):
    header = {"alg": "HS256", "typ": "JWT", "kid": "fake-kube-apiserver"}
    signing_input = "%s.%s" % (_b64url(json.dumps(header, separators=(",", ":")).encode()),
                               _b64url(json.dumps(claims, separators=(",", ":")).encode()))
    sig = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64url(sig)


def service_account_token(key, ns, sa, audiences, expiration_seconds, bound_ref=None):
    """Returns (jwt, expiration unix time) shaped like a bound service-account token."""
    now = int(time.time())
    exp = now + expiration_seconds
    private = {"namespace": ns, "serviceaccount": {"name": sa["metadata"]["name"],
                                                   "uid": sa["metadata"]["uid"]}}
    if bound_ref:
        private[str(bound_ref.get("kind", "object")).lower()] = {
            "name": bound_ref.get("name"), "uid": bound_ref.get("uid")}
    claims = {"aud": audiences, "exp": exp, "iat": now, "nbf": now,
              "iss": "https://kubernetes.default.svc.cluster.local", "jti": str(uuid.uuid4()),
              "kubernetes.io": private,
              "sub": "system:serviceaccount:%s:%s" % (ns, sa["metadata"]["name"])}
    return make_jwt(key, claims), exp


def _run(args, cwd):
    subprocess.run(["openssl"] + args, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def ensure_tls(tls_dir):
    """Creates ca.crt, server.crt, server.key in tls_dir unless they already exist."""
    os.makedirs(tls_dir, exist_ok=True)
    names = ("ca.crt", "server.crt", "server.key")
    if all(os.path.exists(os.path.join(tls_dir, n)) for n in names):
        return [os.path.join(tls_dir, n) for n in names]
    with tempfile.TemporaryDirectory(dir=tls_dir) as work:
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        _run(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.crt", "-days", "3650",
             "-subj", "/CN=fake-kube-ca", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"], work)
        _run(["req"] + ec + ["-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=127.0.0.1"], work)
        with open(os.path.join(work, "ext.cnf"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n")
        _run(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
              "-CAcreateserial", "-out", "server.crt", "-days", "3650", "-extfile", "ext.cnf"],
             work)
        for n in names:
            os.replace(os.path.join(work, n), os.path.join(tls_dir, n))
    return [os.path.join(tls_dir, n) for n in names]
