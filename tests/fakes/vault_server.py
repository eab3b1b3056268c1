#!/usr/bin/env python3
"""Out-of-process fake HashiCorp Vault server for e2e tests, the demo and the benchmark.

Contract: tests/fakes/VAULT_FAKE_API.md. Python 3 standard library only.
Usage: vault_server.py --port 0 --port-file FILE [--tls-dir DIR [--require-client-cert]]
                       [--root-token T] [--jwt-key K] [--quiet]
Internals live in tests/fakes/vault/ (state, kv, auth, handler, control, tls); HTTP plumbing,
request log and fault rules are shared with the fake Kubernetes server (tests/fakes/kube/).
"""

import argparse
import os
import ssl
import sys
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kube.control import Faults, RequestLog  # noqa: E402
from kube_apiserver import serve_until_signalled  # noqa: E402
from vault.handler import Handler  # noqa: E402
from vault.state import State  # noqa: E402
from vault.tls import server_context  # noqa: E402


class FakeVaultServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, opts):
        super().__init__((opts.host, opts.port), Handler)
        self.opts = opts
        self.state = State(root_token=opts.root_token, jwt_key=opts.jwt_key)
        self.reqlog = RequestLog()
        self.faults = Faults()

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ssl.SSLError)):
            return                      # client went away / failed TLS handshake
        super().handle_error(request, client_address)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--tls-dir")
    p.add_argument("--require-client-cert", action="store_true",
                   help="with --tls-dir: refuse TLS handshakes without a client certificate")
    p.add_argument("--root-token", default="root")
    p.add_argument("--jwt-key", default="fake-jwt-key")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    if opts.require_client_cert and not opts.tls_dir:
        sys.stderr.write("fake-vault: --require-client-cert needs --tls-dir\n")
        return 2
    server = FakeVaultServer(opts)
    if opts.tls_dir:
        ctx = server_context(opts.tls_dir, require_client_cert=opts.require_client_cert)
        server.socket = ctx.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False)
    return serve_until_signalled(server, opts.port_file, "fake-vault", bool(opts.tls_dir),
                                 opts.host, opts.quiet)


if __name__ == "__main__":
    sys.exit(main())
