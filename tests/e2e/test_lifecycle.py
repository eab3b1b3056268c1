#!/usr/bin/env python3
"""e2e: the process. Signals, --once exit codes, CLI errors, health/readiness/metrics endpoints,
the state file's permissions, and garbage collection of an Owner Secret with its ExternalSecret.
"""

import json
import os
import signal
import stat

import harness
from harness import es_path, external_secret, fake_store, ref, secret_path

NS = "e2e"
ESO_METRICS = ("externalsecret_sync_calls_total", "externalsecret_sync_calls_error",
               "externalsecret_status_condition", "externalsecret_reconcile_duration",
               "externalsecret_provider_api_calls_count", "extsecretd_secret_writes_total",
               "extsecretd_status_writes_total", "extsecretd_provider_fetches_total")
ONCE_TIMEOUT = 90   # --once ends "within a minute" even with a failing ExternalSecret


class Lifecycle(harness.E2ETestCase):

    def synced_daemon(self):
        self.cluster.apply(fake_store(NS, "store", {"k": "v1"}))
        self.cluster.apply(external_secret(NS, "app", data=[ref("key", "k")]))
        d = self.start_daemon()
        self.wait_data("app", {"key": "v1"})
        self.wait_condition("app", "True", "SecretSynced")
        return d

    def test_sigterm_exits_0_within_5_seconds(self):
        d = self.synced_daemon()
        self.assertTrue(self.cluster.fake.wait_watches(4))
        self.stop_daemon(d)
        self.assertTrue(d.find_logs("shutdown_complete"), "logs shutdown_complete")
        self.assertTrue(d.find_logs("startup"), "logs startup")

    def test_sigint_exits_0_within_5_seconds(self):
        d = self.synced_daemon()
        d.proc.send_signal(signal.SIGINT)
        self.assertEqual(d.proc.wait(5), 0)

    def test_once_exits_0_when_everything_synced(self):
        self.cluster.apply(fake_store(NS, "store", {"k": "v1"}))
        self.cluster.apply(external_secret(NS, "a", data=[ref("key", "k")]))
        self.cluster.apply(external_secret(NS, "b", data=[ref("key", "k")]))
        r = self.cli(*self.daemon_args("--once"), timeout=ONCE_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.wait_data("a", {"key": "v1"}, timeout=1)
        self.wait_data("b", {"key": "v1"}, timeout=1)

    def test_once_exits_1_when_one_fails(self):
        self.cluster.apply(fake_store(NS, "store", {"k": "v1"}))
        self.cluster.apply(external_secret(NS, "good", data=[ref("key", "k")]))
        self.cluster.apply(external_secret(NS, "bad", store="missing", data=[ref("key", "k")]))
        r = self.cli(*self.daemon_args("--once"), timeout=ONCE_TIMEOUT)
        self.assertEqual(r.returncode, 1, r.stderr[-2000:])
        self.wait_data("good", {"key": "v1"}, timeout=1)

    def test_unknown_flag_exits_2_with_a_clear_message(self):
        r = self.cli("run", "--no-such-flag")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no-such-flag", r.stdout + r.stderr)

    def test_version_and_help(self):
        v = self.cli("version")
        self.assertEqual(v.returncode, 0, v.stderr)
        self.assertTrue(v.stdout.strip())
        for cmd, flag in (("run", "--kubeconfig"), ("status", "--state"), ("history", "--limit")):
            h = self.cli(cmd, "--help")
            self.assertEqual(h.returncode, 0, "%s --help: %s" % (cmd, h.stderr))
            self.assertIn(flag, h.stdout + h.stderr)

    def test_missing_kubeconfig_fails_at_startup(self):
        args = self.daemon_args()
        args[args.index("--kubeconfig") + 1] = str(self.tmp / "does-not-exist")
        r = self.cli(*args, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(r.stderr.strip(), "one clear log line on stderr")

    def test_namespace_flag_watches_one_namespace_only(self):
        for ns in ("other", NS):
            self.cluster.apply(fake_store(ns, "store", {"k": ns}))
            self.cluster.apply(external_secret(ns, "app", data=[ref("key", "k")]))
        self.start_daemon("--namespace", NS)
        self.wait_data("app", {"key": NS})
        self.wait_condition("app", "True", "SecretSynced")
        self.assertIsNone(self.cluster.get(secret_path("other", "app")))
        self.assertFalse(self.cluster.get(es_path("other", "app")).get("status"))
        paths = {r["path"] for r in self.cluster.daemon_requests(0)}
        self.assertEqual([p for p in paths if "/namespaces/other/" in p], [])
        cluster_wide = {"/api/v1/secrets", "/apis/external-secrets.io/v1/externalsecrets",
                        "/apis/external-secrets.io/v1/secretstores"}
        self.assertEqual(paths & cluster_wide, set(),
                         "namespaced kinds are listed and watched in that namespace only")

    def test_kubeconfig_from_the_environment(self):
        self.cluster.apply(fake_store(NS, "store", {"k": "v1"}))
        self.cluster.apply(external_secret(NS, "app", data=[ref("key", "k")]))
        args = self.daemon_args()
        del args[args.index("--kubeconfig"):args.index("--kubeconfig") + 2]
        env = dict(os.environ, KUBECONFIG=self.kubeconfig)
        self.start_daemon(args=args, env=env)
        self.wait_data("app", {"key": "v1"})

    def test_health_and_readiness(self):
        self.cluster.apply(fake_store(NS, "store", {"k": "v1"}))
        self.cluster.apply(external_secret(NS, "app", data=[ref("key", "k")]))
        # Hold the first list of ExternalSecrets back: not ready until it has been processed.
        self.cluster.fake.fault(method="GET", status=0, delay_ms=4000, count=1,
                                path_regex="^/apis/external-secrets.io/v1/externalsecrets$")
        d = self.start_daemon(ready=False)
        d.wait_metrics_port()
        self.assertEqual(d.http("/healthz")[0], 200)
        self.assertEqual(d.http("/readyz")[0], 503)
        d.wait_ready()
        self.wait_data("app", {"key": "v1"})
        self.assertEqual(d.http("/readyz")[0], 200)
        self.assertEqual(d.http("/no-such-endpoint")[0], 404)

    def test_metrics_names_are_exported(self):
        d = self.synced_daemon()
        text = d.metrics_text()
        names = {name for name, _ in harness.parse_metrics(text)}
        names |= {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
        for name in ESO_METRICS:
            # Histograms appear as name_bucket/_sum/_count.
            self.assertTrue(any(n == name or n in (name + "_bucket", name + "_sum", name + "_count")
                                for n in names), "metric %s missing" % name)
        self.assertEqual(d.metric("externalsecret_status_condition", name="app", namespace=NS,
                                  condition="Ready", status="True"), 1.0)
        self.assertGreaterEqual(d.metric("externalsecret_sync_calls_total", name="app",
                                         namespace=NS) or 0, 1)

    def test_state_file_is_private(self):
        self.state = str(self.tmp / "fresh" / "state.db")
        self.synced_daemon()
        self.assertEqual(stat.S_IMODE(os.stat(self.state).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.state)).st_mode), 0o700)

    def test_deleting_the_externalsecret_garbage_collects_the_owner_secret(self):
        self.synced_daemon()
        self.cluster.delete(es_path(NS, "app"))
        self.wait_secret_gone("app")
        self.wait_until(lambda: self.cluster.get(es_path(NS, "app")) is None,
                        what="ExternalSecret gone (finalizer, if any, removed)")


class Flags(harness.E2ETestCase):
    """The flags of issue 2 that change behaviour, each observed from outside."""

    def setUp(self):
        super().setUp()
        self.cluster.apply(fake_store(NS, "store", {"k": "v1"}))
        self.cluster.apply(external_secret(NS, "a", data=[ref("key", "k")]))
        self.cluster.apply(external_secret(NS, "b", data=[ref("key", "k")]))

    def once(self, *args, env=None):
        cmd = [harness.binary(), "run", "--once", "--kubeconfig", self.kubeconfig] + list(args)
        proc = harness.launch(cmd, stdout=harness.subprocess.PIPE,
                              stderr=harness.subprocess.PIPE, env=env)
        out, err = proc.communicate(timeout=ONCE_TIMEOUT)
        out, err = out.decode(), err.decode()
        self.assertEqual(proc.returncode, 0, err[-2000:])
        return out, err

    def test_unknown_flags_exit_2_for_every_command(self):
        for cmd in ("run", "status", "history", "version"):
            r = self.cli(cmd, "--no-such-flag")
            self.assertEqual(r.returncode, 2, cmd)
            self.assertIn("no-such-flag", r.stdout + r.stderr, cmd)

    def test_state_defaults_to_the_systemd_state_directory(self):
        state_dir = self.tmp / "systemd-state"
        state_dir.mkdir()
        env = dict(os.environ, STATE_DIRECTORY=str(state_dir))
        self.once("--metrics-addr", "0", env=env)
        self.assertTrue((state_dir / "state.db").exists())
        r = self.cli("history", "--state", str(state_dir / "state.db"), "--limit", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [line for line in r.stdout.splitlines()[1:] if line.strip()]
        self.assertEqual(len(rows), 1, "--limit 1 shows one attempt: %r" % r.stdout)
        both = self.cli("history", "--state", str(state_dir / "state.db"))
        self.assertEqual(len([line for line in both.stdout.splitlines()[1:] if line.strip()]), 2)

    def test_metrics_addr_0_disables_the_endpoint(self):
        _, err = self.once("--state", self.state, "--metrics-addr", "0")
        self.assertNotIn("metrics_listening", err)
        _, err = self.once("--state", self.state, "--metrics-addr", "127.0.0.1:0")
        self.assertIn("metrics_listening", err)

    def test_log_level_and_text_format(self):
        _, err = self.once("--state", self.state, "--metrics-addr", "0", "--log-level", "warn")
        levels = {json.loads(line)["level"] for line in err.splitlines() if line.strip()}
        self.assertTrue(levels <= {"warn", "error"}, levels)
        _, err = self.once("--state", self.state, "--metrics-addr", "0", "--log-level", "debug",
                           "--log-format", "text")
        lines = [line for line in err.splitlines() if line.strip()]
        self.assertTrue(lines)
        for line in lines:
            self.assertFalse(line.startswith("{"), "text format, not JSON: %r" % line)
        self.assertTrue(any("debug" in line for line in lines), "debug lines are shown")


if __name__ == "__main__":
    harness.main()
