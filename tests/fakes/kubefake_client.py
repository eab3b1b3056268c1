"""Client helper for the fake Kubernetes API server (tests/fakes/kube_apiserver.py).

Python 3 standard library only. Contract of the server: tests/fakes/KUBE_FAKE_API.md.

    import sys; sys.path.insert(0, "<repo>/tests/fakes")
    from kubefake_client import start_fake

    fake = start_fake(tmpdir)                      # plain HTTP on 127.0.0.1, token "test-token"
    fake = start_fake(tmpdir, token="t", tls=True) # HTTPS; CA at fake.ca_file
    status, obj = fake.api("POST", "/api/v1/namespaces/default/secrets",
                           {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    fake.stop()                                    # also: `with start_fake(d) as fake:`

start_fake(tmpdir, token="test-token", tls=False, bookmark_interval=None, jwt_key=None,
           max_events=None, extra_args=(), quiet=True, timeout=30) -> FakeKube
    Starts the server as a subprocess (port 0, waits for its port file). Its stderr goes to
    fake.log_path. TLS material is generated into <tmpdir>/kubefake-tls-N/.

FakeKube attributes: url ("http://127.0.0.1:PORT" or https), port, token, tls, ca_file
    (None without TLS), jwt_key, tmpdir, proc, log_path.
FakeKube methods:
    api(method, path, body=None, content_type=None, token=<fake.token>, headers=None,
        timeout=30) -> (status, body)   body: parsed JSON, else text, else None.
        content_type defaults to application/json (merge-patch+json for PATCH); body may be
        a dict/list (JSON-encoded), str or bytes. Pass token=None to send no Authorization.
    watch(path, query="", token=<fake.token>, timeout=30) -> Watch   (raw chunked stream)
        Watch.next(timeout=None) -> event dict, or None once the stream ended; then
        Watch.end is "clean" (chunked terminator seen) or "abrupt". Watch.status is the
        HTTP status (a non-streamed reply's bytes are in Watch.body); Watch.close().
        A timeout while waiting raises TimeoutError.
    requests(since=0) -> [ {seq, method, path, query, status, watch, content_type,
        user_agent} ]; reset_requests().
    fault(method="*", path_regex="", status=500, count=1, retry_after=None, delay_ms=None,
        reason=None) -> rule id   (count <= 0: until clear_faults()); clear_faults(); faults().
    drop_watches(); expire_watches(mode=None)  (mode="http": next old-RV watch gets HTTP 410).
    watches() -> {"open", "opened_total", "resourceVersion", "compacted"}
    wait_watches(n, timeout=10) -> bool: waits until at least n watches are open.
    objects(path) -> list of raw stored objects under a collection (or object) path.
    set_tokens(*tokens): replaces the accepted bearer tokens (fake.token follows the first).
    write_kubeconfig(path, namespace="default", token=<fake.token>) -> path (JSON kubeconfig
        with server URL, token and, with TLS, certificate-authority).
    healthy() -> bool; stop() (POST /_fake/stop, then terminate if needed; idempotent).
"""

import http.client
import itertools
import json
import os
import ssl
import subprocess
import sys
import time

_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kube_apiserver.py")
_COUNTER = itertools.count(1)


class Watch:
    """A raw watch stream; parses the chunked framing itself to tell clean from abrupt ends."""

    def __init__(self, conn, resp):
        self.conn, self.resp = conn, resp
        self.status = resp.status
        self.end = None
        self._buf = b""
        self._fp = resp.fp if resp.getheader("Transfer-Encoding") == "chunked" else None
        if self._fp is None:          # an error reply (e.g. HTTP 410): keep its body
            self.body = resp.read()
            self.end = "clean"
            self.close()

    def _read_chunk(self):
        """Appends one chunk to the buffer; False at the end of the stream."""
        line = self._fp.readline()
        if not line.endswith(b"\n"):
            self.end = "abrupt"
            return False
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            self._fp.readline()
            self.end = "clean"
            return False
        data = self._fp.read(size + 2)
        if len(data) < size + 2:
            self.end = "abrupt"
            return False
        self._buf += data[:size]
        return True

    def next(self, timeout=None):
        """Next event dict; None when the stream has ended (see .end)."""
        if timeout is not None and self.conn.sock is not None:
            self.conn.sock.settimeout(timeout)
        while b"\n" not in self._buf:
            if self.end:
                self.close()
                return None
            try:
                self._read_chunk()
            except TimeoutError:
                raise
            except (OSError, ValueError):
                self.end = "abrupt"
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def close(self):
        self.resp.close()
        self.conn.close()


class ProcessControl:
    """healthy()/stop() for a fake server subprocess with `api()`, `proc` and `_log`."""

    def healthy(self):
        try:
            return self.api("GET", "/_fake/healthz", token=None, timeout=5)[0] == 200
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.api("POST", "/_fake/stop", token=None, timeout=5)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait(timeout=10)
        self._log.close()


class FakeKube(ProcessControl):
    def __init__(self, tmpdir, proc, port, token, tls, ca_file, jwt_key, log_path):
        self.tmpdir, self.proc, self.port, self.token = tmpdir, proc, port, token
        self.tls, self.ca_file, self.jwt_key, self.log_path = tls, ca_file, jwt_key, log_path
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", port)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def _conn(self, timeout):
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def api(self, method, path, body=None, content_type=None, token="", headers=None,
            timeout=30):
        token = self.token if token == "" else token
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = "Bearer " + token
        data = body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        if data is not None:
            hdrs.setdefault("Content-Type", content_type or (
                "application/merge-patch+json" if method == "PATCH" else "application/json"))
        conn = self._conn(timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            self.last_headers = dict(resp.getheaders())
            return resp.status, _decode(raw)
        finally:
            conn.close()

    def watch(self, path, query="", token="", timeout=30):
        token = self.token if token == "" else token
        conn = self._conn(timeout)
        sep = "&" if "?" in path else "?"
        full = path + (sep + query if query else "")
        conn.request("GET", full, headers={"Authorization": "Bearer " + token} if token else {})
        return Watch(conn, conn.getresponse())

    def _control(self, method, path, body=None):
        status, out = self.api(method, "/_fake/" + path, body, token=None)
        if status != 200:
            raise RuntimeError("fake control %s %s failed: %s %s" % (method, path, status, out))
        return out

    def requests(self, since=0):
        return self._control("GET", "requests?since=%d" % since)

    def reset_requests(self):
        self._control("POST", "requests/reset")

    def fault(self, method="*", path_regex="", status=500, count=1, retry_after=None,
              delay_ms=None, reason=None):
        rule = {"method": method, "path_regex": path_regex, "status": status, "count": count}
        for k, v in (("retry_after", retry_after), ("delay_ms", delay_ms), ("reason", reason)):
            if v is not None:
                rule[k] = v
        return self._control("POST", "faults", rule)["id"]

    def clear_faults(self):
        self._control("DELETE", "faults")

    def faults(self):
        return self._control("GET", "faults")

    def drop_watches(self):
        self._control("POST", "watches/drop")

    def expire_watches(self, mode=None):
        self._control("POST", "watches/expire", {"mode": mode} if mode else {})

    def watches(self):
        return self._control("GET", "watches")

    def wait_watches(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.watches()["open"] >= n:
                return True
            time.sleep(0.05)
        return False

    def objects(self, path):
        from urllib.parse import quote
        return self._control("GET", "objects?path=" + quote(path, safe=""))

    def set_tokens(self, *tokens):
        self._control("POST", "token", {"tokens": list(tokens)})
        self.token = tokens[0] if tokens else None

    def write_kubeconfig(self, path, namespace="default", token=""):
        cluster = {"server": self.url}
        if self.ca_file:
            cluster["certificate-authority"] = self.ca_file
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "fake",
               "clusters": [{"name": "fake", "cluster": cluster}],
               "users": [{"name": "fake", "user": {"token": self.token if token == "" else token}}],
               "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake",
                                                         "namespace": namespace}}]}
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        return path



def _decode(raw):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def spawn_fake(args, port_file, log_path, label, timeout):
    """Starts a fake server subprocess and waits for its port file.

    Returns (proc, port, log); the log file stays open for the process's output and is closed
    by ProcessControl.stop(). Raises RuntimeError with the server's log if it does not start.
    Polling the port file is start-up synchronisation with another process, not test timing.
    """
    log = open(log_path, "w")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = time.monotonic() + timeout
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            with open(log_path) as f:
                raise RuntimeError("%s failed to start:\n%s" % (label, f.read()))
        time.sleep(0.02)
    with open(port_file) as f:
        port = int(f.read().strip())
    return proc, port, log


def start_fake(tmpdir, token="test-token", tls=False, bookmark_interval=None, jwt_key=None,
               max_events=None, extra_args=(), quiet=True, timeout=30):
    n = next(_COUNTER)
    port_file = os.path.join(tmpdir, "kubefake-%d-%d.port" % (os.getpid(), n))
    log_path = os.path.join(tmpdir, "kubefake-%d-%d.log" % (os.getpid(), n))
    args = [sys.executable, _SERVER, "--port", "0", "--port-file", port_file, "--token", token]
    tls_dir = os.path.join(tmpdir, "kubefake-tls-%d" % n) if tls else None
    if tls_dir:
        args += ["--tls-dir", tls_dir]
    if bookmark_interval is not None:
        args += ["--bookmark-interval", str(bookmark_interval)]
    if jwt_key is not None:
        args += ["--jwt-key", jwt_key]
    if max_events is not None:
        args += ["--max-events", str(max_events)]
    if quiet:
        args.append("--quiet")
    args += list(extra_args)
    proc, port, log = spawn_fake(args, port_file, log_path, "fake kube-apiserver", timeout)
    ca = os.path.join(tls_dir, "ca.crt") if tls_dir else None
    fake = FakeKube(tmpdir, proc, port, token, tls, ca, jwt_key or "fake-jwt-key", log_path)
    fake._log = log
    return fake
