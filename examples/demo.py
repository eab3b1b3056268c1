#!/usr/bin/env python3
"""`make demo`: extsecretd end to end on one machine, no cluster needed.

Starts the fake Kubernetes API server (tests/fakes) on loopback, applies examples/fake-store.yaml
and examples/external-secret.yaml, runs extsecretd against it, shows the synced Secret, rotates a
value at the store and shows the update, shows that refreshes with unchanged data write nothing,
then prints `extsecretd status` and the sync history with the sqlite3 CLI. Everything it starts
is stopped before it exits (exit 0 on success).

    python3 examples/demo.py --binary build/extsecretd [--keep]
"""

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fakes"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

import kubefake_client  # noqa: E402
import mini_yaml  # noqa: E402
from daemon_process import Daemon, wait_for, write_kubeconfig  # noqa: E402
from kubeobjects import decode_data, object_path, secret_path, target_name  # noqa: E402

EXAMPLES = REPO / "examples"
ROTATED = "s3cr3t-v2"


def heading(n, text):
    print("\n== %d. %s %s" % (n, text, "=" * max(3, 70 - len(text))), flush=True)


def show_secret(secret):
    meta = secret["metadata"]
    print("Secret %s/%s (resourceVersion %s, type %s)"
          % (meta["namespace"], meta["name"], meta["resourceVersion"], secret.get("type")))
    for k, v in sorted((meta.get("labels") or {}).items()):
        print("  label       %s=%s" % (k, v))
    for k, v in sorted((meta.get("annotations") or {}).items()):
        print("  annotation  %s=%s" % (k, v))
    for ref in meta.get("ownerReferences") or []:
        print("  owner       %s %s (controller=%s)"
              % (ref["kind"], ref["name"], ref.get("controller")))
    for k, v in sorted(decode_data(secret).items()):
        print("  data        %-12s = %s" % (k, v))


def apply(fake, obj):
    path = object_path(obj)
    status, cur = fake.api("GET", path)
    if status == 200:
        rv = cur["metadata"]["resourceVersion"]
        obj = dict(obj, metadata=dict(obj["metadata"], resourceVersion=rv))
        status, out = fake.api("PUT", path, obj)
    else:
        status, out = fake.api("POST", path.rsplit("/", 1)[0], obj)
    if status not in (200, 201):
        raise RuntimeError("applying %s failed: %s %s" % (path, status, out))
    print("  applied %s %s" % (obj["kind"], path))


def load_examples():
    store = mini_yaml.load_all((EXAMPLES / "fake-store.yaml").read_text())[0]
    es = mini_yaml.load_all((EXAMPLES / "external-secret.yaml").read_text())[0]
    return store, es


def print_history(state):
    query = "SELECT at, namespace, name, outcome, duration_ms, error FROM sync_history ORDER BY at"
    if shutil.which("sqlite3"):
        print("$ sqlite3 -header -column %s '%s'" % (state, query))
        subprocess.run(["sqlite3", "-header", "-column", state, query], check=True)
        return
    print("(the sqlite3 CLI is not installed; reading the view with Python's sqlite3 module)")
    conn = sqlite3.connect("file:%s?mode=ro" % state, uri=True)
    try:
        cur = conn.execute(query)
        print("  ".join(c[0] for c in cur.description))
        for row in cur:
            print("  ".join("" if v is None else str(v) for v in row))
    finally:
        conn.close()


def run_demo(binary, work):
    heading(1, "Fake Kubernetes API server on loopback")
    fake = kubefake_client.start_fake(str(work), token="demo-token")
    daemon = None
    try:
        print("  listening on %s" % fake.url)
        kubeconfig = write_kubeconfig(work / "kubeconfig", fake.url, fake.token)
        state = str(work / "state" / "state.db")

        heading(2, "Applying examples/fake-store.yaml and examples/external-secret.yaml")
        store, es = load_examples()
        apply(fake, store)
        apply(fake, es)
        ns, target = es["metadata"].get("namespace", "default"), target_name(es)

        heading(3, "Starting extsecretd")
        args = ["run", "--kubeconfig", kubeconfig, "--state", state,
                "--metrics-addr", "127.0.0.1:0", "--log-level", "info"]
        print("  $ %s %s" % (binary, " ".join(args)))
        daemon = Daemon(binary, args)
        port = daemon.wait_metrics_port()
        print("  metrics on http://127.0.0.1:%d/metrics (pid %d)" % (port, daemon.pid))

        heading(4, "The Secret extsecretd wrote")
        path = secret_path(ns, target)
        first = wait_for(lambda: _get(fake, path), 30, "Secret %s" % path)
        show_secret(first)

        heading(5, "Rotating the value at the store")
        for entry in store["spec"]["provider"]["fake"]["data"]:
            if entry["key"] == es["spec"]["data"][0]["remoteRef"]["key"]:
                print("  %s: %s -> %s" % (entry["key"], entry["value"], ROTATED))
                entry["value"] = ROTATED
        apply(fake, store)
        print("  waiting for the next refresh (refreshInterval %s) ..."
              % es["spec"]["refreshInterval"])
        started = time.monotonic()
        rotated = wait_for(lambda: _get(fake, path, lambda s: ROTATED in decode_data(s).values()),
                           60, "the rotated value in the Secret")
        print("  updated after %.1f s; secret_written log events so far:"
              % (time.monotonic() - started))
        for ev in daemon.find_logs("secret_written"):
            print("    secret_written %s/%s -> %s (%s)" % (ev.get("ns"), ev.get("name"),
                                                        ev.get("target"), ev.get("outcome")))
        show_secret(rotated)

        heading(6, "Refreshes with unchanged data write nothing")
        unchanged = count_unchanged(state)
        wait_for(lambda: count_unchanged(state) > unchanged, 30, "an unchanged refresh")
        seq = last_seq(fake)
        wait_for(lambda: count_unchanged(state) > unchanged + 1, 30, "another unchanged refresh")
        writes = [r for r in fake.requests(seq)
                  if r["method"] in ("POST", "PUT", "PATCH", "DELETE")]
        print("  %d unchanged refreshes so far; API writes during the last one: %d"
              % (count_unchanged(state), len(writes)))

        heading(7, "extsecretd status")
        subprocess.run([binary, "status", "--state", state], check=True)

        heading(8, "Stopping extsecretd (SIGTERM)")
        rc, took = daemon.stop(5.0)
        print("  exit code %s after %.2f s" % (rc, took))
        if rc != 0:
            raise RuntimeError("extsecretd did not exit 0 on SIGTERM")

        heading(9, "Sync history (SQLite view sync_history)")
        print_history(state)
        return 0
    except Exception as e:  # report and clean up; the demo must never leave processes behind
        print("\nDEMO FAILED: %s" % e, file=sys.stderr)
        if daemon is not None:
            print("---- extsecretd stderr (last 40 lines) ----", file=sys.stderr)
            print("\n".join(daemon.lines[-40:]), file=sys.stderr)
        return 1
    finally:
        if daemon is not None:
            daemon.kill()
        fake.stop()


def count_unchanged(state):
    conn = sqlite3.connect("file:%s?mode=ro" % state, uri=True, timeout=5)
    try:
        query = "SELECT count(*) FROM sync_history WHERE outcome = 'unchanged'"
        return conn.execute(query).fetchone()[0]
    finally:
        conn.close()


def last_seq(fake):
    reqs = fake.requests()
    return reqs[-1]["seq"] if reqs else 0


def _get(fake, path, pred=None):
    status, obj = fake.api("GET", path)
    return obj if status == 200 and (pred is None or pred(obj)) else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=str(REPO / "build" / "extsecretd"))
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (state, logs)")
    opts = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)   # keep our lines in order with child output
    if not os.access(opts.binary, os.X_OK):
        print("extsecretd binary not found: %s (run `make` first)" % opts.binary, file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="extsecretd-demo-"))
    try:
        rc = run_demo(os.path.abspath(opts.binary), work)
    finally:
        if opts.keep:
            print("\n(kept %s)" % work)
        else:
            shutil.rmtree(str(work), ignore_errors=True)
    if rc == 0:
        print("\nDemo finished: nothing is left running.")
    return rc


if __name__ == "__main__":
    sys.exit(main())
