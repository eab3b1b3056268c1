#!/usr/bin/env python3
"""HTTPS test peer for the C++ tests (Python 3 standard library only).

Serves on 127.0.0.1 at a free port and prints that port as the first line on stdout. Every
request is answered 200 with a JSON echo: method, path, body and the client certificate's
common name (empty without one). With --client-ca, a client certificate signed by that CA is
required (mTLS). Exits when its stdin closes, so a crashed test leaves no server behind.
"""
import argparse
import json
import os
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _echo(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        cert = self.connection.getpeercert() or {}
        cn = ""
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    cn = value
        out = json.dumps({"method": self.command, "path": self.path, "body": body,
                          "client_cn": cn}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = _echo

    def log_message(self, fmt, *args):  # keep test output clean
        pass


class TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # failed handshakes are expected
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--client-ca")
    args = parser.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(args.client_ca)

    server = TlsServer(("127.0.0.1", 0), EchoHandler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                    do_handshake_on_connect=False)

    def watch_stdin():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
