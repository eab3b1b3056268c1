"""Watch streams of the fake API server (runs on the connection's own thread).

`serve_watch` sends a 200 chunked response and streams `{"type":..,"object":..}\n` events,
one chunk each, flushed as soon as they are known. It ends cleanly on timeoutSeconds,
with an ERROR 410 event when the requested RV is compacted away, and abruptly (socket
shut down, no chunked terminator) when the store's drop_generation changes.
"""

import json
import select
import socket
import ssl
import time

from . import errors
from .errors import status_body

_BATCH = 500      # events handled per store-lock acquisition
_POLL = 0.5       # seconds between client-disconnect checks while idle


class _ClientGone(Exception):
    pass


class WatchStream:
    def __init__(self, handler, store, target, lsel, fsel, params):
        self.h, self.store, self.target = handler, store, target
        self.res = target.res
        self.api_version = self.res.api_version(target.version)
        self.lsel, self.fsel = lsel, fsel
        self.params = params          # dict: rv, bookmarks, timeout, send_initial, interval

    # ---- filtering -------------------------------------------------------------------

    def _matches(self, obj):
        ns = self.target.namespace
        return ((not ns or obj["metadata"].get("namespace") == ns) and
                self.lsel.matches(obj) and self.fsel.matches(obj))

    def _out(self, obj):
        return dict(obj, apiVersion=self.api_version)

    def _convert(self, ev):
        """Maps a store event to what this watcher sees (cacher semantics) or None."""
        if ev.key != self.res.key:
            return None
        if ev.type == "DELETED":
            return ("DELETED", self._out(ev.obj)) if self._matches(ev.obj) else None
        cur = self._matches(ev.obj)
        old = ev.prev is not None and self._matches(ev.prev)
        if cur:
            return ("MODIFIED" if old else "ADDED", self._out(ev.obj))
        if old:
            prev = dict(ev.prev, metadata=dict(ev.prev["metadata"], resourceVersion=str(ev.rv)))
            return ("DELETED", self._out(prev))
        return None

    # ---- output ----------------------------------------------------------------------

    def _send(self, items):
        """items: list of (type, object); one chunk per event, one socket write."""
        if not items:
            return
        buf = []
        for etype, obj in items:
            line = json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode()
            buf.append(b"%x\r\n%s\n\r\n" % (len(line) + 1, line))
        self._write(b"".join(buf))

    def _write(self, data):
        try:
            self.h.wfile.write(data)
        except (OSError, ValueError):
            raise _ClientGone() from None

    def _bookmark(self, rv, initial_end=False):
        m = {"resourceVersion": str(rv)}
        if initial_end:
            m["annotations"] = {"k8s.io/initial-events-end": "true"}
        return ("BOOKMARK", {"kind": self.res.kind, "apiVersion": self.api_version, "metadata": m})

    def _client_gone(self):
        sock = self.h.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            data = socket.socket.recv(sock, 1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            return data == b"" or isinstance(sock, ssl.SSLSocket)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True

    # ---- main ------------------------------------------------------------------------

    def _begin(self):
        """Under the lock: returns (initial items, cursor, expired Status or None, generation)."""
        st, p = self.store, self.params
        initial, expired = [], None
        if p["rv"] not in ("", "0") and not p["send_initial"]:
            try:
                cursor = int(p["rv"])
            except ValueError:
                raise errors.bad_request('invalid resource version: "%s"' % p["rv"]) from None
            if cursor < st.compacted_rv:
                msg = "too old resource version: %d (%d)" % (cursor, st.compacted_rv)
                if st.expire_http_pending:
                    st.expire_http_pending = False
                    raise errors.expired(msg)
                expired = status_body(410, msg, "Expired")
        else:
            cursor = st.rv
            table = st.objects[self.res.key]
            initial = [("ADDED", self._out(table[k])) for k in st._sorted_keys(self.res.key)
                       if self._matches(table[k])]
        st.open_watches += 1
        st.opened_watches += 1
        return initial, cursor, expired, st.drop_generation

    def serve(self):
        with self.store.cond:
            initial, cursor, expired, gen = self._begin()
        try:
            self.h.send_response(200)
            self.h.send_header("Content-Type", "application/json")
            self.h.send_header("Cache-Control", "no-cache, private")
            self.h.send_header("Transfer-Encoding", "chunked")
            self.h.end_headers()
            if expired:
                self._send([("ERROR", expired)])
            else:
                for i in range(0, len(initial), _BATCH):
                    self._send(initial[i:i + _BATCH])
                if self.params["send_initial"] and self.params["bookmarks"]:
                    self._send([self._bookmark(cursor, initial_end=True)])
                if not self._stream(cursor, gen):
                    self._abort()
                    return
            self._write(b"0\r\n\r\n")
        except _ClientGone:
            self.h.close_connection = True
        finally:
            with self.store.cond:
                self.store.open_watches -= 1

    def _stream(self, cursor, gen):
        """Streams until timeout (True) or a drop (False)."""
        p, st = self.params, self.store
        now = time.monotonic()
        deadline = now + p["timeout"]
        next_bm = now + p["interval"] if p["bookmarks"] else float("inf")
        while True:
            out = []
            with st.cond:
                while True:
                    if st.drop_generation != gen:
                        return False
                    evs = st.events_after(cursor, _BATCH)
                    if evs is None:
                        msg = "too old resource version: %d (%d)" % (cursor, st.compacted_rv)
                        out.append(("ERROR", status_body(410, msg, "Expired")))
                        break
                    if evs:
                        cursor = evs[-1].rv
                        break
                    now = time.monotonic()
                    if now >= deadline or now >= next_bm:
                        break
                    st.cond.wait(min(deadline, next_bm, now + _POLL) - now)
                    if time.monotonic() - now >= _POLL * 0.9:
                        break             # idle: go check the client outside the lock
            if out:
                self._send(out)
                return True
            out = [c for c in (self._convert(e) for e in evs) if c is not None]
            now = time.monotonic()
            if now >= next_bm:
                out.append(self._bookmark(cursor))
                next_bm = now + p["interval"]
            self._send(out)
            if now >= deadline:
                return True
            if not evs and not out and self._client_gone():
                raise _ClientGone()

    def _abort(self):
        self.h.close_connection = True
        try:
            self.h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
