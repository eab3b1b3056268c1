"""HTTP layer of the fake API server: one handler instance per connection (own thread).

Routes `/api`, `/apis` (bearer-token auth, request log, fault injection, then the store)
and `/_fake/...` (test control, no auth). The server object carries the shared state:
`store`, `reqlog`, `faults`, `tokens` (accepted bearer tokens) and `opts` (argparse).
"""

import json
import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from . import errors, resources
from .errors import ApiError
from .resources import parse_path
from .selectors import FieldSelector, LabelSelector
from .tokens import service_account_token
from .watch import WatchStream

MAX_BODY = 3 * 1024 * 1024
_SA = resources.by_key(("", "serviceaccounts"))
_PATCH_TYPES = "application/merge-patch+json"
_NET_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, ssl.SSLError,
               TimeoutError)


def _compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver/1.0"
    _entry = None

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.settimeout(10)
            self.connection.do_handshake()
            self.connection.settimeout(None)

    def log_message(self, fmt, *args):
        if not self.server.opts.quiet:
            sys.stderr.write("fake-kube: %s\n" % (fmt % args))

    def send_response(self, code, message=None):
        if self._entry is not None:
            self._entry["status"] = code
        super().send_response(code, message)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = lambda self: self._dispatch()

    # ---- plumbing --------------------------------------------------------------------

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_body(self, code, body, ctype="application/json", headers=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        # Headers and body in one write (end_headers would flush the headers on their own).
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(body)
        self.flush_headers()

    def _send_json(self, code, obj, headers=None):
        self._send_body(code, _compact(obj), headers=headers)

    def _dispatch(self):
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        self._entry = None
        try:
            raw = self._read_body()
            if url.path.startswith("/_fake/"):
                return self._control(url.path, query, raw)
            watch = query.get("watch") in ("1", "true")
            self._entry = self.server.reqlog.start(
                self.command, url.path, url.query, watch, self.headers.get("Content-Type", ""),
                self.headers.get("User-Agent", ""))
            self._check_auth()
            delay, fault = self.server.faults.check(self.command, url.path)
            if delay:
                time.sleep(delay)
            if fault:
                raise fault
            if len(raw) > MAX_BODY:
                raise ApiError(413, "Request entity too large: limit is 3145728")
            self._api(url.path, query, raw, watch)
        except ApiError as e:
            self._send_json(e.code, e.body, e.headers)
        except _NET_ERRORS:
            self.close_connection = True
        except Exception as e:          # keep serving; report like the real server
            traceback.print_exc()
            self._send_json(500, errors.status_body(500, "Internal error occurred: %s" % e))

    def _check_auth(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:].strip() not in self.server.tokens:
            raise errors.unauthorized()

    def _json_body(self, raw):
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        accepted = ("application/json",) if self.command != "PATCH" else (_PATCH_TYPES,)
        if ctype not in accepted:
            raise ApiError(415, "the body of the request was in an unknown format - accepted "
                           "media types include: %s" % ", ".join(accepted))
        try:
            return json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise errors.bad_request("couldn't get version/kind; json parse error: %s" % e) \
                from None

    # ---- Kubernetes API --------------------------------------------------------------

    def _api(self, path, query, raw, watch):
        if self.command == "GET" and self._discovery(path):
            return
        t = parse_path(path)
        store, dry = self.server.store, query.get("dryRun") == "All"
        method = self.command
        if t.subresource == "token":
            if method != "POST":
                raise ApiError(405, "the server does not allow this method on the requested "
                               "resource")
            return self._token_request(t, self._json_body(raw))
        if method == "GET":
            if watch:
                return self._watch(t, query)
            if t.name:
                return self._send_obj(200, t, store.get(t.res, t.namespace, t.name))
            return self._list(t, query)
        if method == "POST" and not t.name:
            return self._send_obj(201, t, store.create(t.res, t.namespace, self._json_body(raw),
                                                        dry))
        if method == "PUT" and t.name:
            return self._send_obj(200, t, store.update(t.res, t.namespace, t.name,
                                                       self._json_body(raw), t.subresource, dry))
        if method == "PATCH" and t.name:
            return self._send_obj(200, t, store.patch(t.res, t.namespace, t.name,
                                                      self._json_body(raw), t.subresource, dry))
        if method == "DELETE" and t.name and not t.subresource:
            try:
                options = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise errors.bad_request("invalid DeleteOptions body") from None
            return self._send_obj(200, t, store.delete(t.res, t.namespace, t.name, options, dry))
        if method == "DELETE" and not t.name:
            return self._delete_collection(t, query)
        raise ApiError(405, "the server does not allow this method on the requested resource")

    def _send_obj(self, code, t, obj):
        self._send_json(code, dict(obj, apiVersion=t.res.api_version(t.version)))

    def _selectors(self, t, query):
        return LabelSelector(query.get("labelSelector")), FieldSelector(
            query.get("fieldSelector"), t.res)

    def _check_rv_match(self, query, watch):
        if not query.get("resourceVersionMatch"):
            return
        if not query.get("resourceVersion") or (watch and not query.get("sendInitialEvents")):
            what = ("resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                    "provided") if watch else \
                "resourceVersionMatch is forbidden unless resourceVersion is provided"
            raise ApiError(422, 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: '
                           'Forbidden: %s' % what, "Invalid")

    def _list(self, t, query):
        self._check_rv_match(query, False)
        lsel, fsel = self._selectors(t, query)
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise errors.bad_request("invalid limit: %s" % query.get("limit")) from None
        items, rv, token, remaining = self.server.store.list(
            t.res, t.namespace, lsel, fsel, max(limit, 0), query.get("continue", ""))
        av = t.res.api_version(t.version)
        m = {"resourceVersion": str(rv)}
        if token:
            m["continue"] = token
            if remaining:
                m["remainingItemCount"] = remaining
        self._send_body(200, _compact({"kind": t.res.kind + "List", "apiVersion": av,
                                       "metadata": m,
                                       "items": [dict(o, apiVersion=av) for o in items]}))

    def _watch(self, t, query):
        self._check_rv_match(query, True)
        lsel, fsel = self._selectors(t, query)
        if t.name:
            fsel.add_name(t.name)
        try:
            timeout = float(query.get("timeoutSeconds") or self.server.opts.watch_timeout)
        except ValueError:
            raise errors.bad_request("invalid timeoutSeconds") from None
        params = {"rv": query.get("resourceVersion", ""), "timeout": timeout,
                  "bookmarks": query.get("allowWatchBookmarks") in ("1", "true"),
                  "send_initial": query.get("sendInitialEvents") == "true",
                  "interval": self.server.opts.bookmark_interval}
        WatchStream(self, self.server.store, t, lsel, fsel, params).serve()

    def _delete_collection(self, t, query):
        lsel, fsel = self._selectors(t, query)
        store, deleted = self.server.store, []
        items, _, _, _ = store.list(t.res, t.namespace, lsel, fsel)
        for obj in items:
            m = obj["metadata"]
            try:
                deleted.append(store.delete(t.res, m.get("namespace", ""), m["name"], {}))
            except ApiError:
                pass
        av = t.res.api_version(t.version)
        self._send_json(200, {"kind": t.res.kind + "List", "apiVersion": av,
                              "metadata": {"resourceVersion": str(store.rv)},
                              "items": [dict(o, apiVersion=av) for o in deleted]})

    def _token_request(self, t, body):
        sa = self.server.store.get(_SA, t.namespace, t.name)
        spec = (body or {}).get("spec") or {}
        audiences = spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"]
        seconds = spec.get("expirationSeconds") or 3600
        if not isinstance(seconds, int) or seconds < 600 or seconds > 2 ** 32:
            raise errors.invalid(_SA, t.name, [(
                "spec.expirationSeconds", "FieldValueInvalid", "Invalid value: %s: may not "
                "specify a duration less than 10 minutes or larger than 2^32 seconds" % seconds)])
        token, exp = service_account_token(self.server.opts.jwt_key, t.namespace, sa, audiences,
                                           seconds, spec.get("boundObjectRef"))
        out = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
               "metadata": {"name": t.name, "namespace": t.namespace, "creationTimestamp": None},
               "spec": {"audiences": audiences, "expirationSeconds": seconds,
                        "boundObjectRef": spec.get("boundObjectRef")},
               "status": {"token": token, "expirationTimestamp": time.strftime(
                   "%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))}}
        self._send_json(201, out)

    def _discovery(self, path):
        p = path.rstrip("/")
        doc = None
        if p == "/version":
            doc = {"major": "1", "minor": "31", "gitVersion": "v1.31.0-fake",
                   "platform": "linux/amd64"}
        elif p == "/api":
            doc = {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        elif p == "/apis":
            doc = resources.api_group_list()
        elif p == "/api/v1":
            doc = resources.api_resource_list("", "v1")
        elif p.startswith("/apis/") and p.count("/") == 3:
            doc = resources.api_resource_list(*p.split("/")[2:4])
        if doc is None:
            return False
        self._send_json(200, doc)
        return True

    # ---- test control ----------------------------------------------------------------

    def _control(self, path, query, raw):
        srv, key = self.server, (self.command, path.rstrip("/"))
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return self._send_json(400, {"error": "body is not JSON"})
        if key == ("GET", "/_fake/healthz"):
            return self._send_body(200, b"ok", "text/plain")
        if key == ("GET", "/_fake/requests"):
            return self._send_json(200, srv.reqlog.entries(int(query.get("since") or 0)))
        if key == ("POST", "/_fake/requests/reset"):
            srv.reqlog.reset()
        elif key == ("POST", "/_fake/faults"):
            try:
                return self._send_json(200, {"id": srv.faults.add(body)})
            except ApiError as e:
                return self._send_json(400, {"error": str(e)})
        elif key == ("GET", "/_fake/faults"):
            return self._send_json(200, srv.faults.list())
        elif key == ("DELETE", "/_fake/faults"):
            srv.faults.clear()
        elif key == ("POST", "/_fake/watches/drop"):
            srv.store.drop_watches()
        elif key == ("POST", "/_fake/watches/expire"):
            srv.store.expire(body.get("mode") == "http")
        elif key == ("GET", "/_fake/watches"):
            st = srv.store
            with st.cond:
                info = {"open": st.open_watches, "opened_total": st.opened_watches,
                        "resourceVersion": str(st.rv), "compacted": str(st.compacted_rv)}
            return self._send_json(200, info)
        elif key == ("GET", "/_fake/objects"):
            return self._raw_objects(query.get("path", ""))
        elif key == ("POST", "/_fake/token"):
            tokens = body.get("tokens") or [body.get("token")]
            srv.tokens = frozenset(t for t in tokens if t)
        elif key == ("POST", "/_fake/stop"):
            self.close_connection = True
            self._send_json(200, {"ok": True})
            threading.Thread(target=srv.shutdown, daemon=True).start()
            return None
        else:
            return self._send_json(404, {"error": "unknown control endpoint %s %s" % key})
        return self._send_json(200, {"ok": True})

    def _raw_objects(self, path):
        try:
            t = parse_path(path)
            objs = self.server.store.raw_objects(t.res, t.namespace, t.name)
        except ApiError as e:
            return self._send_json(e.code, e.body)
        self._send_json(200, objs)
