"""The extsecretd process for the e2e tests, demo and benchmark: start, read logs, scrape
metrics, stop. Output is read by background threads into lists; waiting polls another process.
Every process started here dies with the test runner (setpriv parent-death signal when
available, and an atexit hook that kills leftovers).
"""

import atexit
import json
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

WAIT = 20.0            # generous default wait for the daemon to react
POLL = 0.05            # polling interval while waiting on another process
_LIVE = []             # every subprocess we started, for the exit hook


def _kill_leftovers():
    for proc in _LIVE:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


atexit.register(_kill_leftovers)


def write_kubeconfig(path, url, token):
    text = ("apiVersion: v1\nkind: Config\n"
            "clusters:\n- name: fake\n  cluster:\n    server: %s\n"
            "users:\n- name: e2e\n  user:\n    token: %s\n"
            "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: e2e\n"
            "current-context: fake\n") % (url, token)
    Path(path).write_text(text)
    return str(path)


def launch(args, **kw):
    """Popen that dies with us (parent-death signal via util-linux setpriv when present)."""
    cmd = list(args)
    if shutil.which("setpriv"):
        cmd = ["setpriv", "--pdeathsig", "KILL", "--"] + cmd
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, **kw)
    _LIVE.append(proc)
    return proc


def wait_for(pred, timeout=WAIT, what="condition"):
    """Polls pred() until it returns something truthy; returns it, or raises AssertionError."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(POLL)


class Daemon:
    """One extsecretd subprocess; stderr/stdout are read into lists by background threads."""

    def __init__(self, binary, args, env=None):
        self.args = [binary] + list(args)
        self.lines, self.out_lines = [], []
        self._lock = threading.Lock()
        self.proc = launch(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self._threads = [threading.Thread(target=self._pump, args=(stream, sink), daemon=True)
                         for stream, sink in ((self.proc.stderr, self.lines),
                                              (self.proc.stdout, self.out_lines))]
        for t in self._threads:
            t.start()
        self.metrics_port = None

    def _pump(self, stream, sink):
        for raw in iter(stream.readline, b""):
            with self._lock:
                sink.append(raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    @property
    def pid(self):
        return self.proc.pid

    def log_events(self):
        """Parsed JSON log lines (lines that are not JSON objects are skipped)."""
        with self._lock:
            lines = list(self.lines)
        out = []
        for line in lines:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out

    def stderr_text(self):
        with self._lock:
            return "\n".join(self.lines)

    def find_logs(self, msg, **fields):
        return [e for e in self.log_events() if e.get("msg") == msg and
                all(e.get(k) == v for k, v in fields.items())]

    def wait_log(self, msg, timeout=WAIT, **fields):
        def found():
            if self.proc.poll() is not None and not self.find_logs(msg, **fields):
                raise AssertionError("extsecretd exited (rc %s) before logging %s"
                                     % (self.proc.returncode, msg))
            hits = self.find_logs(msg, **fields)
            return hits[0] if hits else None
        return wait_for(found, timeout, "log event %s %r" % (msg, fields))

    def wait_metrics_port(self, timeout=WAIT):
        ev = self.wait_log("metrics_listening", timeout)
        self.metrics_port = int(ev["port"])
        return self.metrics_port

    def http(self, path, timeout=5):
        """GET on the metrics server: (status, body text)."""
        if self.metrics_port is None:
            self.wait_metrics_port()
        url = "http://127.0.0.1:%d%s" % (self.metrics_port, path)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                return resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def wait_ready(self, timeout=WAIT):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("extsecretd exited with %s before /readyz"
                                     % self.proc.returncode)
            try:
                return self.http("/readyz")[0] == 200
            except OSError:
                return False
        wait_for(ready, timeout, "/readyz 200")

    def metrics_text(self):
        status, body = self.http("/metrics")
        if status != 200:
            raise AssertionError("/metrics -> %s" % status)
        return body

    def metrics(self):
        return parse_metrics(self.metrics_text())

    def metric(self, name, /, **labels):
        """Sum of every sample of `name` whose labels include `labels`; None when absent."""
        total = None
        for (n, lbls), value in self.metrics().items():
            if n == name and all(dict(lbls).get(k) == v for k, v in labels.items()):
                total = (total or 0.0) + value
        return total

    def stop(self, timeout=5.0):
        """SIGTERM; returns (exit code, seconds taken) or (None, timeout) after killing it."""
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None, timeout
        for t in self._threads:
            t.join(5)
        return rc, time.monotonic() - start

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def parse_metrics(text):
    """Prometheus text format -> {(name, ((label, value), ...)): float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, labels, rest = line, (), ""
        if "{" in line:
            name, tail = line.split("{", 1)
            body, rest = tail.rsplit("}", 1)
            labels = tuple(sorted(_parse_labels(body)))
        else:
            name, rest = line.split(None, 1)
        value = rest.split()[0]
        out[(name.strip(), labels)] = float(value)
    return out


def _parse_labels(body):
    pairs, i = [], 0
    while i < len(body):
        eq = body.index("=", i)
        key = body[i:eq].strip().lstrip(",").strip()
        j, val = eq + 2, []
        while body[j] != '"':
            if body[j] == "\\":
                j += 1
                val.append({"n": "\n"}.get(body[j], body[j]))
            else:
                val.append(body[j])
            j += 1
        pairs.append((key, "".join(val)))
        i = j + 1
        while i < len(body) and body[i] in ", ":
            i += 1
    return pairs
