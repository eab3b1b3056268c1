#!/usr/bin/env python3
"""Out-of-process fake Kubernetes API server for e2e tests, the demo and the benchmark.

Contract: tests/fakes/KUBE_FAKE_API.md. Python 3 standard library only.
Usage: kube_apiserver.py --port 0 --port-file FILE [--token T] [--tls-dir DIR] [--quiet]
Internals live in tests/fakes/kube/ (store, watch, handler, selectors, validation, ...).
"""

import argparse
import os
import signal
import ssl
import sys
import threading
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kube.control import Faults, RequestLog  # noqa: E402
from kube.handler import Handler  # noqa: E402
from kube.store import Store  # noqa: E402
from kube.tokens import ensure_tls  # noqa: E402


class FakeApiServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, opts):
        super().__init__((opts.host, opts.port), Handler)
        self.opts = opts
        self.store = Store(max_events=opts.max_events)
        self.reqlog = RequestLog()
        self.faults = Faults()
        self.tokens = frozenset([opts.token])

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
    p.add_argument("--token", default="test-token")
    p.add_argument("--tls-dir")
    p.add_argument("--jwt-key", default="fake-jwt-key")
    p.add_argument("--bookmark-interval", type=float, default=1.0)
    p.add_argument("--max-events", type=int, default=100000)
    p.add_argument("--watch-timeout", type=float, default=1800.0,
                   help="stream length when a watch has no timeoutSeconds")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    server = FakeApiServer(opts)
    if opts.tls_dir:
        _, cert, key = ensure_tls(opts.tls_dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)

    return serve_until_signalled(server, opts.port_file, "fake-kube", bool(opts.tls_dir),
                                 opts.host, opts.quiet)


def serve_until_signalled(server, port_file, label, tls, host, quiet):
    """Serves until SIGTERM/SIGINT (or a control-API stop), after writing the port file."""
    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    port = server.server_address[1]
    if port_file:
        write_port_file(port_file, port)
    if not quiet:
        sys.stderr.write("%s: serving %s on %s:%d\n"
                         % (label, "https" if tls else "http", host, port))
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
