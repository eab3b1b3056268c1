#!/usr/bin/env python3
"""`make bench` (AWS part): provider calls of extsecretd's AWS Secrets Manager provider for 1,000
ExternalSecrets referencing 200 distinct keys, against the fake AWS (tests/fakes/aws_server.py)
and the fake Kubernetes API server. See bench/README.md ("AWS Secrets Manager") for the set-up.

    python3 bench/bench_aws.py --binary build/extsecretd [--count N] [--keys K] [--namespaces M]
                               [--refresh 60s] [--cycles 2] [--variants one,per-ns] [--keep]

Variants: `one` = every ExternalSecret in one namespace with one SecretStore (one store client:
the headline number); `per-ns` = the ExternalSecrets spread over M namespaces with one
SecretStore each (M clients). Every store uses static keys plus `role` (AssumeRole), so STS calls
show too. Calls are counted by the fake (/_fake/stats) for the initial sync and for --cycles
full refresh cycles (each until every ExternalSecret has a new history row); the first one after
a start is shown apart (the client does not know yet which keys are read periodically). ESO's
model makes one GetSecretValue per ExternalSecret and rebuilds the assumed-role session (one
AssumeRole) on every reconcile. PASS when the last refresh cycle of the headline variant costs
<= 10 Secrets Manager calls. Exit 0 on PASS, 1 otherwise.
"""

import argparse
import datetime
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fakes"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))
sys.path.insert(0, str(REPO / "bench"))

import awsfake_client  # noqa: E402
import bench as kbench  # noqa: E402  (bench.py: HTTP pool, /proc stats, SQLite helpers)
import kubefake_client  # noqa: E402
from daemon_process import Daemon, write_kubeconfig  # noqa: E402
from kubeobjects import b64, es_path, external_secret, ref, secret_path, store_path  # noqa: E402

REGION = "us-east-1"
AKID, SECRET_KEY = "AKIABENCHAWS00000001", "bench/aws+secret-key"
ROLE = "arn:aws:iam::111122223333:role/bench-reader"
GOAL_CYCLE_SM_CALLS = 10
SM_OPS = ("BatchGetSecretValue", "GetSecretValue", "DescribeSecret", "ListSecrets")
STS_OPS = ("AssumeRole", "AssumeRoleWithWebIdentity")


def key_name(k):
    return "bench/key-%03d" % k


def layout(variant, count, keys, nss):
    """[(namespace, es name, remote key)]: `one` puts everything in nss[0]; `per-ns` gives each
    namespace a block of count/len(nss) consecutive ExternalSecrets."""
    out = []
    block = max(1, count // len(nss))
    for i in range(count):
        ns = nss[0] if variant == "one" else nss[min(i // block, len(nss) - 1)]
        out.append((ns, "es-%04d" % i, key_name(i % keys)))
    return out


def store_objects(ns):
    creds = {"apiVersion": "v1", "kind": "Secret",
             "metadata": {"name": "aws-creds", "namespace": ns}, "type": "Opaque",
             "data": {"access-key": b64(AKID), "secret-access-key": b64(SECRET_KEY)}}
    store = {"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
             "metadata": {"name": "aws", "namespace": ns},
             "spec": {"provider": {"aws": {
                 "service": "SecretsManager", "region": REGION, "role": ROLE,
                 "auth": {"secretRef": {
                     "accessKeyIDSecretRef": {"name": "aws-creds", "key": "access-key"},
                     "secretAccessKeySecretRef": {"name": "aws-creds",
                                                  "key": "secret-access-key"}}}}}}}
    return [("POST", secret_path(ns), creds, "application/json"),
            ("POST", store_path(ns), store, "application/json")]


def calls_of(stats):
    c = stats.get("calls") or {}
    sm = {op: c.get(op, 0) for op in SM_OPS}
    return sm, sum(c.get(op, 0) for op in STS_OPS)


def newest_seq(fake):
    reqs = fake.requests()
    return reqs[-1]["seq"] if reqs else 0


class Variant:
    """One run: fresh fakes, state and daemon; measures the initial sync and one cycle."""

    def __init__(self, opts, work, name, nss):
        self.opts, self.work, self.name = opts, work, name
        self.items = layout(name, opts.count, opts.keys, nss)
        self.nss = sorted({ns for ns, _, _ in self.items})
        (work / "aws").mkdir(parents=True)
        self.aws = awsfake_client.start_aws(str(work / "aws"), region=REGION)
        self.kube = kubefake_client.start_fake(str(work), token=kbench.TOKEN)
        self.kubeconfig = write_kubeconfig(work / "kubeconfig", self.kube.url, kbench.TOKEN)
        self.state = str(work / "state" / "state.db")
        self.daemon = None
        self.rows = []

    def setup(self):
        self.aws.add_credentials(AKID, SECRET_KEY)
        self.aws.role(ROLE)
        for k in range(self.opts.keys):
            self.aws.put_secret(key_name(k), string="value-%03d" % k)
        objs = []
        for ns in self.nss:
            objs += store_objects(ns)
        ess = [("POST", es_path(ns), external_secret(
            ns, name, store="aws", refresh=self.opts.refresh,
            target={"name": name.replace("es-", "secret-")}, data=[ref("value", key)]),
            "application/json") for ns, name, key in self.items]
        return kbench.run_requests(self.kube.port, objs) + \
            kbench.run_requests(self.kube.port, ess)

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ENDPOINT_URL=self.aws.url, AWS_EC2_METADATA_DISABLED="true",
                   AWS_CONFIG_FILE=str(self.work / "none"),
                   AWS_SHARED_CREDENTIALS_FILE=str(self.work / "none"))
        args = ["run", "--kubeconfig", self.kubeconfig, "--state", self.state,
                "--metrics-addr", "127.0.0.1:0", "--log-level", "info"]
        self.daemon = Daemon(self.opts.binary, args, env=env)
        self.daemon.wait_metrics_port(60)

    def row(self, phase, seconds, cpu0, seq, spread=None):
        sm, sts = calls_of(self.aws.stats())
        self.aws.reset_stats()
        cpu, hwm, _ = kbench.proc_stats(self.daemon.pid)
        secret_writes = kbench.write_counts(self.kube, seq)[0]
        self.rows.append(("%s: %s" % (self.name, phase), seconds, spread, sm, sts,
                          len(self.items), secret_writes, hwm, cpu - cpu0))
        return sm, sts

    def spread(self, base):
        """Seconds between the first and the last ExternalSecret's sync after `base`."""
        rows = kbench.sql(self.state, "SELECT min(a), max(a) FROM (SELECT min(at) AS a FROM "
                          "sync_history WHERE at > ? GROUP BY namespace, name)", (base or "",))
        if not rows or rows[0][0] is None:
            return None
        return (parse_time(rows[0][1]) - parse_time(rows[0][0])).total_seconds()

    def initial_sync(self):
        seq = newest_seq(self.kube)
        t0 = time.monotonic()
        self.start()
        while not kbench.all_synced(self.kube, self.state, len(self.items)):
            if self.daemon.proc.poll() is not None:
                raise RuntimeError("extsecretd exited with %s" % self.daemon.proc.returncode)
            if time.monotonic() - t0 > self.opts.timeout:
                raise RuntimeError("%s: not all %d ExternalSecrets synced within %d s"
                                   % (self.name, len(self.items), self.opts.timeout))
            time.sleep(0.25)
        return self.row("initial sync", time.monotonic() - t0, 0.0, seq)

    def refresh_cycle(self, label):
        cpu0 = kbench.proc_stats(self.daemon.pid)[0]
        seq = newest_seq(self.kube)
        base = (kbench.sql(self.state, "SELECT max(at) FROM sync_history") or [[""]])[0][0]
        t0 = time.monotonic()
        while True:
            rows = kbench.sql(self.state, "SELECT count(DISTINCT namespace || '/' || name) "
                              "FROM sync_history WHERE at > ?", (base or "",))
            if rows and rows[0][0] >= len(self.items):
                break
            if self.daemon.proc.poll() is not None:
                raise RuntimeError("extsecretd exited with %s" % self.daemon.proc.returncode)
            if time.monotonic() - t0 > self.opts.timeout:
                raise RuntimeError("%s: no full refresh cycle within %d s"
                                   % (self.name, self.opts.timeout))
            time.sleep(0.5)
        out = self.row(label, time.monotonic() - t0, cpu0, seq, self.spread(base))
        failed = kbench.sql(self.state, "SELECT count(*) FROM sync_history WHERE outcome = "
                            "'failed'")
        return out, (failed or [[0]])[0][0]

    def close(self):
        rc = None
        if self.daemon is not None:
            rc = self.daemon.stop(5.0)[0]
            self.daemon.kill()
        self.kube.stop()
        self.aws.stop()
        return rc


def parse_time(text):
    """sync_history.at (ISO-8601 UTC, optional fraction) as a datetime."""
    text = text.rstrip("Z")
    fmt = "%Y-%m-%dT%H:%M:%S.%f" if "." in text else "%Y-%m-%dT%H:%M:%S"
    return datetime.datetime.strptime(text, fmt)


def print_table(rows):
    head = ("variant: phase", "time s", "spread s", "Batch", "GetSV", "other SM", "SM total",
            "STS", "ESO SM", "ESO STS", "Secret wr", "peak RSS MB", "CPU s")
    fmt = "%-26s %7s %8s %6s %6s %8s %8s %4s %7s %7s %9s %11s %6s"
    print(fmt % head)
    for phase, t, spread, sm, sts, n_es, sw, hwm, cpu in rows:
        other = sum(v for k, v in sm.items() if k not in ("BatchGetSecretValue",
                                                          "GetSecretValue"))
        print(fmt % (phase, "%.1f" % t, "-" if spread is None else "%.1f" % spread,
                     sm["BatchGetSecretValue"], sm["GetSecretValue"], other, sum(sm.values()),
                     sts, n_es, n_es, sw, "%.1f" % hwm, "%.2f" % cpu))


def run_variant(opts, root, name, nss, results):
    work = root / name
    work.mkdir()
    v = Variant(opts, work, name, nss)
    try:
        print("%s: %d ExternalSecrets in %d namespace(s), %d keys, refreshInterval %s ..."
              % (name, len(v.items), len(v.nss), opts.keys, opts.refresh), flush=True)
        print("  created in %.1f s" % v.setup(), flush=True)
        first = v.initial_sync()
        print("  initial sync done; waiting for %d refresh cycles" % opts.cycles, flush=True)
        for n in range(1, opts.cycles + 1):
            label = "1st refresh cycle" if n == 1 else "refresh cycle %d" % n
            cycle, failed = v.refresh_cycle(label)
        results[name] = {"initial": first, "cycle": cycle, "failed": failed}
    finally:
        if v.daemon is not None and name not in results:
            print("\n".join(v.daemon.lines[-30:]), file=sys.stderr)
        results.setdefault(name, {})["rc"] = v.close()
        results[name]["rows"] = v.rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=str(REPO / "build" / "extsecretd"))
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--namespaces", type=int, default=10)
    ap.add_argument("--refresh", default="60s")
    ap.add_argument("--variants", default="one,per-ns")
    ap.add_argument("--cycles", type=int, default=2,
                    help="refresh cycles to measure (>= 2); the last one is judged")
    ap.add_argument("--timeout", type=int, default=300, help="give up on a phase after this long")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (state, logs)")
    opts = ap.parse_args()
    opts.cycles = max(2, opts.cycles)
    if not os.access(opts.binary, os.X_OK):
        print("extsecretd binary not found: %s (run `make` first)" % opts.binary, file=sys.stderr)
        return 2
    opts.binary = os.path.abspath(opts.binary)
    nss = ["bench-aws-%02d" % i for i in range(max(1, opts.namespaces))]
    root = Path(tempfile.mkdtemp(prefix="extsecretd-bench-aws-"))
    results, error = {}, None
    try:
        for name in [v.strip() for v in opts.variants.split(",") if v.strip()]:
            if name not in ("one", "per-ns"):
                raise RuntimeError("unknown variant %r (one, per-ns)" % name)
            run_variant(opts, root, name, nss, results)
    except Exception as e:  # report what was measured, then fail
        error = e
        print("BENCH FAILED: %s" % e, file=sys.stderr)
    finally:
        if opts.keep:
            print("(kept %s)" % root)
        else:
            shutil.rmtree(str(root), ignore_errors=True)

    print()
    print_table([r for res in results.values() for r in res.get("rows", [])])
    print("ESO's model: one GetSecretValue per ExternalSecret per cycle, and with `role` one "
          "AssumeRole per reconcile (ESO rebuilds the session each time).")
    checks = [("no error", error is None)]
    head = results.get("one", {})
    if "cycle" in head:
        (sm, sts), failed = head["cycle"], head["failed"]
        total = sum(sm.values())
        checks += [("headline last refresh cycle: %d Secrets Manager calls <= %d (+ %d STS)"
                    % (total, GOAL_CYCLE_SM_CALLS, sts), total <= GOAL_CYCLE_SM_CALLS),
                   ("no failed sync", failed == 0)]
    for name, res in results.items():
        checks.append(("%s: SIGTERM exit 0" % name, res.get("rc") == 0))
    bad = [n for n, ok in checks if not ok]
    print("%s: %s" % ("PASS" if not bad else "FAIL",
                      "; ".join("%s %s" % (n, "ok" if ok else "MISSED") for n, ok in checks)))
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
