"""TLS material of the fake Vault server (openssl CLI): the server CA/cert come from the
fake Kubernetes server's helper (kube/tokens.py ensure_tls); this adds a client CA and one
client certificate for cert auth / mTLS, and builds the server's SSL context (client
certificates requested but optional, or required with require_client_cert; verified against
client-ca.crt)."""

import os
import ssl
import subprocess
import tempfile

from kube.tokens import ensure_tls

CLIENT_FILES = ("client-ca.crt", "client.crt", "client.key")
_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(args, cwd):
    subprocess.run(["openssl"] + args, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def ensure_client_tls(tls_dir):
    """Creates client-ca.crt, client.crt (CN=fake-vault-client), client.key if missing."""
    paths = [os.path.join(tls_dir, n) for n in CLIENT_FILES]
    if all(os.path.exists(p) for p in paths):
        return paths
    with tempfile.TemporaryDirectory(dir=tls_dir) as work:
        _openssl(["req", "-x509"] + _EC + ["-keyout", "client-ca.key", "-out", "client-ca.crt",
                  "-days", "3650", "-subj", "/CN=fake-vault-client-ca",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign"], work)
        _openssl(["req"] + _EC + ["-keyout", "client.key", "-out", "client.csr",
                  "-subj", "/CN=fake-vault-client"], work)
        with open(os.path.join(work, "ext.cnf"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=clientAuth\n")
        _openssl(["x509", "-req", "-in", "client.csr", "-CA", "client-ca.crt", "-CAkey",
                  "client-ca.key", "-CAcreateserial", "-out", "client.crt", "-days", "3650",
                  "-extfile", "ext.cnf"], work)
        for n in CLIENT_FILES:
            os.replace(os.path.join(work, n), os.path.join(tls_dir, n))
    return paths


def server_context(tls_dir, require_client_cert=False):
    """require_client_cert: a handshake without a client certificate fails (ssl.CERT_REQUIRED)."""
    _, cert, key = ensure_tls(tls_dir)
    client_ca, _, _ = ensure_client_tls(tls_dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    ctx.load_verify_locations(client_ca)
    return ctx
