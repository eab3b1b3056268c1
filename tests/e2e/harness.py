"""Shared harness for the extsecretd end-to-end tests (Python 3 standard library only).

Each test gets a fresh fake Kubernetes API server (tests/fakes/kube_apiserver.py through
tests/fakes/kubefake_client.py), a kubeconfig and a state directory in a temp dir, and starts the
real binary as a subprocess. Waiting polls with a short interval (we wait on another process), but
no assertion is ever about timing, except the contract's "SIGTERM exits 0 within 5 s".
Nothing is left running: every process is stopped in cleanups, and killed at exit at the latest.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "fakes"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import kubefake_client  # noqa: E402  (tests/fakes, written by the fake's owner)
from daemon_process import (  # noqa: E402,F401
    POLL, WAIT, Daemon, launch, parse_metrics, wait_for, write_kubeconfig)
from kubeobjects import (  # noqa: E402,F401  (re-exported for the test modules)
    CREATED_BY_LABEL, DATA_HASH_ANNOTATION, MANAGED_LABEL, b64, collection_path, decode_data,
    es_path, event_text, external_secret, fake_store, object_path, ready_condition, ref,
    secret_path, sha3_224_hex, store_path)

TOKEN = "e2e-token"
HARNESS_AGENT = "extsecretd-e2e-harness"   # tells our own API requests from the daemon's
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_BINARY = None


def binary():
    return _BINARY


def parse_binary_arg(argv):
    """Removes `--binary PATH` / `--binary=PATH` from argv; returns (path, remaining argv)."""
    rest, path, i = [], None, 0
    while i < len(argv):
        a = argv[i]
        if a == "--binary" and i + 1 < len(argv):
            path, i = argv[i + 1], i + 2
            continue
        if a.startswith("--binary="):
            path = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    return path, rest


def main():
    """Entry point of every test module: `python3 tests/e2e/test_x.py --binary PATH`."""
    global _BINARY
    path, rest = parse_binary_arg(sys.argv[1:])
    path = path or os.environ.get("EXTSECRETD_BINARY") or str(REPO / "build" / "extsecretd")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        print("e2e: extsecretd binary not found or not executable: %s (pass --binary PATH)" % path,
              file=sys.stderr)
        sys.exit(2)
    _BINARY = os.path.abspath(path)
    unittest.main(module="__main__", argv=[sys.argv[0]] + rest, verbosity=2)


class Cluster:
    """The fake API server plus object helpers. `api` goes through the authenticated API."""

    def __init__(self, workdir):
        Path(workdir).mkdir(parents=True, exist_ok=True)
        self.fake = kubefake_client.start_fake(str(workdir), token=TOKEN)
        self.url = self.fake.url
        self.last_requests = []

    def close(self):
        try:
            self.last_requests = self.fake.requests()[-60:]
        except Exception:  # the fake may already be gone; the tail is only for diagnostics
            pass
        self.fake.stop()

    # --- API ----------------------------------------------------------------------------
    def api(self, method, path, body=None):
        return self.fake.api(method, path, body, headers={"User-Agent": HARNESS_AGENT})

    def get(self, path):
        """The object, or None on 404; any other failure raises."""
        status, obj = self.api("GET", path)
        if status == 404:
            return None
        if status != 200:
            raise AssertionError("GET %s -> %s %r" % (path, status, obj))
        return obj

    def apply(self, obj):
        """Creates the object, or replaces it (spec/data/metadata) keeping its status."""
        coll, path = collection_path(obj), object_path(obj)
        for _ in range(10):
            cur = self.get(path)
            body = json.loads(json.dumps(obj))
            if cur is None:
                status, out = self.api("POST", coll, body)
            else:
                rv = cur["metadata"]["resourceVersion"]
                body.setdefault("metadata", {})["resourceVersion"] = rv
                status, out = self.api("PUT", path, body)
            if status in (200, 201):
                return out
            if status != 409:
                raise AssertionError("apply %s -> %s %r" % (path, status, out))
        raise AssertionError("apply %s: conflicts did not stop" % path)

    def update(self, path, mutate):
        """Read-modify-write with conflict retries; mutate(obj) edits the object in place."""
        for _ in range(10):
            obj = self.get(path)
            if obj is None:
                raise AssertionError("update: %s does not exist" % path)
            mutate(obj)
            status, out = self.api("PUT", path, obj)
            if status == 200:
                return out
            if status != 409:
                raise AssertionError("PUT %s -> %s %r" % (path, status, out))
        raise AssertionError("update %s: conflicts did not stop" % path)

    def delete(self, path):
        status, out = self.api("DELETE", path)
        if status not in (200, 202, 404):
            raise AssertionError("DELETE %s -> %s %r" % (path, status, out))

    def annotate_es(self, ns, name, key, value):
        def mutate(o):
            o["metadata"].setdefault("annotations", {})[key] = value
        return self.update(es_path(ns, name), mutate)

    def events(self, ns, regarding=None):
        """Events of both APIs in ns as stored (optionally only those about `regarding`)."""
        out = []
        for coll in ("/apis/events.k8s.io/v1/namespaces/%s/events" % ns,
                     "/api/v1/namespaces/%s/events" % ns):
            for ev in self.fake.objects(coll):
                about = ev.get("regarding") or ev.get("involvedObject") or {}
                if regarding is None or about.get("name") == regarding:
                    out.append(ev)
        return out

    # --- request log ----------------------------------------------------------------------
    def last_seq(self):
        reqs = self.fake.requests()
        return reqs[-1]["seq"] if reqs else 0

    def daemon_requests(self, since_seq=0):
        """Requests after since_seq that the harness did not make itself (by User-Agent)."""
        return [r for r in self.fake.requests(since_seq) if r["seq"] > since_seq and
                r.get("user_agent") != HARNESS_AGENT]

    def writes(self, since_seq=0, kinds=("secrets", "status", "events")):
        return [r for r in self.daemon_requests(since_seq)
                if r["method"] in WRITE_METHODS and classify(r["path"]) in kinds]

    def count_writes(self, since_seq=0, kinds=("secrets", "status", "events")):
        return len(self.writes(since_seq, kinds))


def classify(path):
    """Maps a request path to secrets|status|events|externalsecrets|stores|other."""
    parts = path.strip("/").split("/")
    if parts[-1] == "status" and "externalsecrets" in parts:
        return "status"
    if "events" in parts:
        return "events"
    if "secrets" in parts:
        return "secrets"
    if "externalsecrets" in parts:
        return "externalsecrets"
    if "secretstores" in parts or "clustersecretstores" in parts:
        return "stores"
    return "other"


class E2ETestCase(unittest.TestCase):
    """Base class: a fake API server per test, a state dir, and daemon helpers."""

    NS = "e2e"

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="esd-e2e-"))
        self.addCleanup(shutil.rmtree, str(self.tmp), True)
        self.cluster = Cluster(self.tmp / "fake")
        self.addCleanup(self.cluster.close)
        self.kubeconfig = write_kubeconfig(self.tmp / "kubeconfig", self.cluster.url, TOKEN)
        (self.tmp / "state").mkdir()
        self.state = str(self.tmp / "state" / "state.db")
        self.daemons = []

    def run(self, result=None):
        """Prints the daemon's stderr tail and the request log tail when a test fails."""
        bad = (lambda r: len(r.failures) + len(r.errors)) if result is not None else None
        before = bad(result) if bad else 0
        out = super().run(result)
        if bad and bad(result) > before:
            for d in getattr(self, "daemons", []):
                sys.stderr.write("---- extsecretd %s stderr (last 80 lines) ----\n%s\n"
                                 % (" ".join(d.args[1:]), "\n".join(d.lines[-80:])))
            cluster = getattr(self, "cluster", None)
            for r in (cluster.last_requests if cluster else []):
                sys.stderr.write("  req %(seq)s %(method)s %(path)s -> %(status)s\n" % r)
        return out

    # --- daemon -----------------------------------------------------------------------------
    def daemon_args(self, *extra, metrics=True):
        args = ["run", "--kubeconfig", self.kubeconfig, "--state", self.state,
                "--log-level", "debug"]
        if metrics:
            args += ["--metrics-addr", "127.0.0.1:0"]
        return args + list(extra)

    def start_daemon(self, *extra, ready=True, args=None, env=None):
        """Starts `run` (args replaces the default arguments); waits for /readyz unless
        ready=False."""
        d = Daemon(binary(), self.daemon_args(*extra) if args is None else args, env=env)
        self.daemons.append(d)
        self.addCleanup(d.kill)
        if ready:
            d.wait_metrics_port()
            d.wait_ready()
        return d

    def stop_daemon(self, d):
        rc, took = d.stop(5.0)
        self.assertEqual(rc, 0, "extsecretd must exit 0 within 5 s of SIGTERM (rc %r)" % rc)
        return took

    def cli(self, *args, timeout=60):
        """Runs the binary to completion: CompletedProcess with text stdout/stderr."""
        proc = launch([binary()] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            self.fail("extsecretd %s did not finish within %d s" % (" ".join(args), timeout))
        return subprocess.CompletedProcess(proc.args, proc.returncode,
                                           out.decode("utf-8", "replace"),
                                           err.decode("utf-8", "replace"))

    # --- waiting ----------------------------------------------------------------------------
    def wait_until(self, pred, timeout=WAIT, what="condition"):
        return wait_for(pred, timeout, what)

    def wait_secret(self, name, pred=None, ns=None, timeout=WAIT):
        """The Secret once it exists (and pred(secret) holds)."""
        path = secret_path(ns or self.NS, name)

        def check():
            s = self.cluster.get(path)
            return s if s is not None and (pred is None or pred(s)) else None
        return wait_for(check, timeout, "Secret %s" % path)

    def wait_secret_gone(self, name, ns=None, timeout=WAIT):
        path = secret_path(ns or self.NS, name)
        wait_for(lambda: self.cluster.get(path) is None, timeout, "Secret %s deleted" % path)

    def wait_data(self, name, expected, ns=None, timeout=WAIT):
        return self.wait_secret(name, lambda s: decode_data(s) == expected, ns, timeout)

    def wait_condition(self, name, status, reason=None, ns=None, timeout=WAIT, message=None):
        """The ExternalSecret once its Ready condition has status (and reason, and message)."""
        path = es_path(ns or self.NS, name)

        def check():
            es = self.cluster.get(path)
            c = ready_condition(es) or {}
            if c.get("status") == status and reason in (None, c.get("reason")) and \
                    message in (None, c.get("message")):
                return es
            return None
        return wait_for(check, timeout, "%s Ready=%s %s %s" % (path, status, reason or "",
                                                                message or ""))

    # --- state store --------------------------------------------------------------------------
    def sql(self, query, params=()):
        """Rows (as dicts) from the daemon's state file, opened read-only."""
        uri = "file:%s?mode=ro" % self.state
        conn = sqlite3.connect(uri, uri=True, timeout=5)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(query, params).fetchall()]
        finally:
            conn.close()

    def history(self, name, ns=None):
        return self.sql("SELECT * FROM sync_history WHERE namespace = ? AND name = ? ORDER BY at",
                        (ns or self.NS, name))

    def outcomes(self, name, ns=None):
        return [r["outcome"] for r in self.history(name, ns)]

    def status_row(self, name, ns=None):
        rows = self.sql("SELECT * FROM sync_status WHERE namespace = ? AND name = ?",
                        (ns or self.NS, name))
        return rows[0] if rows else None
