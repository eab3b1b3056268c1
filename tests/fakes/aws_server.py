#!/usr/bin/env python3
"""Out-of-process fake AWS Secrets Manager + STS server for e2e tests and the demo.

Also serves the EKS Pod Identity (/_pod_identity/credentials) and IMDSv2 (/latest/...)
credential endpoints on the same port. Contract: tests/fakes/AWS_FAKE_API.md. Python 3
standard library only.
Usage: aws_server.py --port 0 --port-file FILE [--region us-east-1] [--jwt-key K]
                     [--audience sts.amazonaws.com] [--quiet]
Internals live in tests/fakes/aws/ (sigv4, state, secretsmanager, sts, metadata, handler); HTTP
plumbing, request log and fault rules are shared with the fake Kubernetes server.
"""

import argparse
import os
import sys
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aws.handler import Handler  # noqa: E402
from aws.state import State  # noqa: E402
from kube.control import Faults, RequestLog  # noqa: E402
from kube_apiserver import serve_until_signalled  # noqa: E402


class FakeAwsServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, opts):
        super().__init__((opts.host, opts.port), Handler)
        self.opts = opts
        self.state = State(opts.region, opts.jwt_key, opts.audience)
        self.reqlog = RequestLog()
        self.faults = Faults()

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], OSError):
            return                      # client went away
        super().handle_error(request, client_address)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--jwt-key", default="fake-jwt-key")
    p.add_argument("--audience", default="sts.amazonaws.com")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    return serve_until_signalled(FakeAwsServer(opts), opts.port_file, "fake-aws", False,
                                 opts.host, opts.quiet)


if __name__ == "__main__":
    sys.exit(main())
