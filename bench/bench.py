#!/usr/bin/env python3
"""`make bench`: extsecretd with 10,000 ExternalSecrets over 100 namespaces (fake provider) against
the fake Kubernetes API server. See bench/README.md for what is measured and the goals.

    python3 bench/bench.py --binary build/extsecretd [--count N] [--namespaces M] [--keep]

Phases: (1) initial sync, refreshInterval 1h; (2) restart with the same state (nothing is due);
(3) idle CPU over 10 s; (4) every refreshInterval set to a short value, then one full refresh
cycle with unchanged data. Exit 0 when every goal is met, 1 otherwise.
"""

import argparse
import http.client
import json
import os
import queue
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fakes"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

import kubefake_client  # noqa: E402
from daemon_process import Daemon, write_kubeconfig  # noqa: E402
from kubeobjects import es_path, external_secret, fake_store, ref, store_path  # noqa: E402

TOKEN = "bench-token"
AGENT = "extsecretd-bench"
GOAL_SYNC_S, GOAL_RSS_MB = 30.0, 64.0
GOAL_IDLE_CPU_PCT = 1.0   # "idle CPU near zero": under 1 % of one core with nothing due
CLK_TCK = os.sysconf("SC_CLK_TCK")
KEYS_PER_STORE = 100


# ---- HTTP load: a pool of keep-alive connections ---------------------------------------------

def run_requests(port, items, workers=16):
    """items: iterable of (method, path, body, content_type). Returns seconds taken."""
    work, errors = queue.Queue(), []
    for it in items:
        work.put(it)

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            try:
                method, path, body, ctype = work.get_nowait()
            except queue.Empty:
                break
            conn.request(method, path, body=json.dumps(body).encode(), headers={
                "Authorization": "Bearer " + TOKEN, "Content-Type": ctype, "User-Agent": AGENT})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status >= 300:
                errors.append("%s %s -> %s %s" % (method, path, resp.status, data[:200]))
        conn.close()

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("%d requests failed, first: %s" % (len(errors), errors[0]))
    return time.monotonic() - start


def namespaces(n):
    return ["bench-%03d" % i for i in range(n)]


def create_objects(fake, count, nss):
    stores = []
    for ns in nss:
        data = {"key-%d" % k: "value-%s-%d" % (ns, k) for k in range(KEYS_PER_STORE)}
        stores.append(("POST", store_path(ns), fake_store(ns, "store", data), "application/json"))
    ess = []
    for i in range(count):
        ns = nss[i % len(nss)]
        es = external_secret(ns, "es-%05d" % i, refresh="1h", target={"name": "secret-%05d" % i},
                             data=[ref("value", "key-%d" % ((i // len(nss)) % KEYS_PER_STORE))])
        ess.append(("POST", es_path(ns), es, "application/json"))
    return run_requests(fake.port, stores) + run_requests(fake.port, ess)


# ---- measurements ---------------------------------------------------------------------------

def proc_stats(pid):
    """(cpu seconds, peak RSS MB, current RSS MB) of a live process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    hwm = rss = 0.0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024.0
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024.0
    return cpu, hwm, rss


def sql(state, query, params=()):
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % state, uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        return conn.execute(query, params).fetchall()
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def write_counts(fake, since):
    """Daemon writes since a request-log seq: (secret writes, status writes, event writes)."""
    secrets = status = events = 0
    for r in fake.requests(since):
        if r.get("user_agent") == AGENT or r["method"] not in ("POST", "PUT", "PATCH", "DELETE"):
            continue
        parts = r["path"].strip("/").split("/")
        if parts[-1] == "status" and "externalsecrets" in parts:
            status += 1
        elif "events" in parts:
            events += 1
        elif "secrets" in parts:
            secrets += 1
    return secrets, status, events


def last_seq(fake):
    """The newest request-log seq (remembers the last one to keep the log reads small)."""
    reqs = fake.requests(max(0, _LAST_SEEN[0] - 1))
    if reqs:
        _LAST_SEEN[0] = reqs[-1]["seq"]
    return _LAST_SEEN[0]


_LAST_SEEN = [0]


def wait_quiet(fake, quiet_s=3.0, timeout=300.0):
    """Waits until the daemon has made no write for quiet_s seconds."""
    deadline, seq, still_since = time.monotonic() + timeout, last_seq(fake), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now_seq = last_seq(fake)
        if sum(write_counts(fake, seq)) == 0:
            if time.monotonic() - still_since >= quiet_s:
                return True
        else:
            still_since = time.monotonic()
        seq = now_seq
    return False


def all_synced(fake, state, count):
    rows = sql(state, "SELECT count(*) FROM sync_status WHERE last_outcome = 'written'")
    if not rows or rows[0][0] < count:
        return False
    secrets = [s for s in fake.objects("/api/v1/secrets")
               if (s["metadata"].get("labels") or {}).get("reconcile.external-secrets.io/managed")]
    if len(secrets) < count:
        return False
    ready = 0
    for es in fake.objects("/apis/external-secrets.io/v1/externalsecrets"):
        for c in (es.get("status") or {}).get("conditions") or []:
            ready += c.get("type") == "Ready" and c.get("status") == "True"
    return ready >= count


def metric(daemon, name):
    try:
        return daemon.metric(name) or 0.0
    except (OSError, AssertionError):
        return float("nan")


# ---- phases ---------------------------------------------------------------------------------

class Bench:
    def __init__(self, opts, work):
        self.opts, self.work, self.rows, self.notes = opts, work, [], []
        self.fake = kubefake_client.start_fake(str(work), token=TOKEN)
        self.kubeconfig = write_kubeconfig(work / "kubeconfig", self.fake.url, TOKEN)
        self.state = str(work / "state" / "state.db")
        self.daemon = None
        self.peak_rss = 0.0

    def start(self):
        args = ["run", "--kubeconfig", self.kubeconfig, "--state", self.state,
                "--metrics-addr", "127.0.0.1:0", "--log-level", "info"]
        self.daemon = Daemon(self.opts.binary, args)
        self.daemon.wait_metrics_port(60)
        return self.daemon

    def stop(self):
        rc, took = self.daemon.stop(5.0)
        self.notes.append("SIGTERM: exit %s after %.2f s" % (rc, took))
        return rc

    def row(self, phase, seconds, since, fetches, cpu0):
        cpu, hwm, rss = proc_stats(self.daemon.pid)
        self.peak_rss = max(self.peak_rss, hwm)
        sw, stw, ev = write_counts(self.fake, since)
        self.rows.append((phase, seconds, sw, stw, ev, fetches, hwm, rss, cpu - cpu0))
        return sw, stw, ev

    def initial_sync(self, count):
        seq = last_seq(self.fake)
        t0 = time.monotonic()
        d = self.start()
        synced = None
        while time.monotonic() - t0 < self.opts.timeout:
            if all_synced(self.fake, self.state, count):
                synced = time.monotonic() - t0
                break
            if d.proc.poll() is not None:
                raise RuntimeError("extsecretd exited with %s" % d.proc.returncode)
            time.sleep(0.25)
        if synced is None:
            raise RuntimeError("not all %d ExternalSecrets synced within %d s"
                               % (count, self.opts.timeout))
        wait_quiet(self.fake)
        self.row("initial sync", synced, seq, metric(d, "extsecretd_provider_fetches_total"), 0.0)
        return synced

    def restart(self):
        self.stop()
        seq = last_seq(self.fake)
        t0 = time.monotonic()
        d = self.start()
        d.wait_ready(120)
        ready = time.monotonic() - t0
        time.sleep(5.0)   # a window for any (unwanted) work on not-due items
        wait_quiet(self.fake)
        fetches = metric(d, "extsecretd_provider_fetches_total")
        sw, stw, ev = self.row("restart (nothing due)", ready, seq, fetches, 0.0)
        return fetches, sw + stw + ev

    def unchanged_refresh(self, count, nss, interval):
        cpu0 = proc_stats(self.daemon.pid)[0]
        seq = last_seq(self.fake)
        patches = [("PATCH", es_path(nss[i % len(nss)], "es-%05d" % i),
                    {"spec": {"refreshInterval": interval}}, "application/merge-patch+json")
                   for i in range(count)]
        fetch0 = metric(self.daemon, "extsecretd_provider_fetches_total")
        took = run_requests(self.fake.port, patches)
        wait_quiet(self.fake)
        self.row("spec change: refreshInterval %s" % interval, took, seq,
                 metric(self.daemon, "extsecretd_provider_fetches_total") - fetch0, cpu0)

        cpu0 = proc_stats(self.daemon.pid)[0]
        seq = last_seq(self.fake)
        fetch0 = metric(self.daemon, "extsecretd_provider_fetches_total")
        base = (sql(self.state, "SELECT max(at) FROM sync_history") or [[""]])[0][0] or ""
        t0 = time.monotonic()
        cycle = None
        while time.monotonic() - t0 < self.opts.timeout:
            rows = sql(self.state, "SELECT count(DISTINCT namespace || '/' || name) "
                       "FROM sync_history WHERE outcome = 'unchanged' AND at > ?", (base,))
            if rows and rows[0][0] >= count:
                cycle = time.monotonic() - t0
                break
            time.sleep(0.5)
        if cycle is None:
            raise RuntimeError("no full refresh cycle within %d s" % self.opts.timeout)
        fetches = metric(self.daemon, "extsecretd_provider_fetches_total") - fetch0
        sw, stw, ev = self.row("unchanged refresh (1 cycle)", cycle, seq, fetches, cpu0)
        return sw + stw + ev

    def idle_cpu(self, seconds=10.0):
        """CPU use while nothing is due (after the restart, refreshInterval 1h)."""
        cpu0 = proc_stats(self.daemon.pid)[0]
        time.sleep(seconds)
        return (proc_stats(self.daemon.pid)[0] - cpu0) / seconds * 100.0

    def close(self):
        if self.daemon is not None:
            self.daemon.kill()
        self.fake.stop()


def print_table(rows):
    head = ("phase", "time s", "Secret wr", "status wr", "events", "fetches", "peak RSS MB",
            "RSS MB", "CPU s")
    fmt = "%-34s %8s %10s %10s %8s %9s %12s %8s %7s"
    print(fmt % head)
    for phase, t, sw, stw, ev, f, hwm, rss, cpu in rows:
        print(fmt % (phase, "%.2f" % t, sw, stw, ev, "%.0f" % f, "%.1f" % hwm, "%.1f" % rss,
                     "%.2f" % cpu))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=str(REPO / "build" / "extsecretd"))
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--namespaces", type=int, default=100)
    ap.add_argument("--refresh", default="20s", help="short refreshInterval for the refresh phase")
    ap.add_argument("--timeout", type=int, default=300, help="give up on a phase after this long")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (state, logs)")
    opts = ap.parse_args()
    if not os.access(opts.binary, os.X_OK):
        print("extsecretd binary not found: %s (run `make` first)" % opts.binary, file=sys.stderr)
        return 2
    opts.binary = os.path.abspath(opts.binary)
    work = Path(tempfile.mkdtemp(prefix="extsecretd-bench-"))
    nss = namespaces(min(opts.namespaces, opts.count))
    bench = Bench(opts, work)
    try:
        print("creating %d ExternalSecrets in %d namespaces (%d SecretStores) ..."
              % (opts.count, len(nss), len(nss)), flush=True)
        print("  created in %.1f s" % create_objects(bench.fake, opts.count, nss), flush=True)
        synced = bench.initial_sync(opts.count)
        fetches, restart_writes = bench.restart()
        idle = bench.idle_cpu()
        refresh_writes = bench.unchanged_refresh(opts.count, nss, opts.refresh)
        rc = bench.stop()
    except Exception as e:
        print("BENCH FAILED: %s" % e, file=sys.stderr)
        if bench.daemon is not None:
            print("\n".join(bench.daemon.lines[-30:]), file=sys.stderr)
        return 1
    finally:
        bench.close()
        if opts.keep:
            print("(kept %s)" % work)
        else:
            shutil.rmtree(str(work), ignore_errors=True)

    print()
    print_table(bench.rows)
    print("idle CPU over 10 s after the restart (nothing due): %.2f %% of one core" % idle)
    for note in bench.notes:
        print(note)
    checks = [("all synced within %.0f s" % GOAL_SYNC_S, synced <= GOAL_SYNC_S),
              ("peak RSS < %.0f MB" % GOAL_RSS_MB, bench.peak_rss < GOAL_RSS_MB),
              ("0 writes on unchanged refresh", refresh_writes == 0),
              ("0 fetches and 0 writes after restart", fetches == 0 and restart_writes == 0),
              ("idle CPU < %.0f %%" % GOAL_IDLE_CPU_PCT, idle < GOAL_IDLE_CPU_PCT),
              ("SIGTERM exit 0", rc == 0)]
    failed = [name for name, ok in checks if not ok]
    print("%s: %s" % ("PASS" if not failed else "FAIL",
                      "; ".join("%s %s" % (name, "ok" if ok else "MISSED") for name, ok in checks)))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
