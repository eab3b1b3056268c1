#!/usr/bin/env python3
"""e2e: a restart with the same --state resumes without fetching or writing anything that is not
due; the `status` and `history` commands read the same state file.
"""

import harness
from harness import external_secret, fake_store, ref, secret_path

NS = "e2e"
OTHER = "e2e-other"


class Restart(harness.E2ETestCase):

    def sync_first_run(self):
        c = self.cluster
        # One store each, so that the fetch count per ExternalSecret is well defined.
        c.apply(fake_store(NS, "store", {"k": "v1"}))
        c.apply(fake_store(NS, "store2", {"j": "w1"}))
        c.apply(external_secret(NS, "app", data=[ref("key", "k")], refresh="1h"))
        c.apply(external_secret(NS, "app2", store="store2", data=[ref("key", "j")], refresh="1h"))
        d = self.start_daemon()
        self.wait_data("app", {"key": "v1"})
        self.wait_data("app2", {"key": "w1"})
        self.wait_condition("app", "True", "SecretSynced")
        self.wait_condition("app2", "True", "SecretSynced")
        return d

    def test_restart_fetches_and_writes_nothing_that_is_not_due(self):
        d = self.sync_first_run()
        # Fetches that one fresh single-key ExternalSecret costs, to account for the sentinel below.
        per_es = d.metric("extsecretd_provider_fetches_total") / 2
        self.stop_daemon(d)
        rv = {n: self.cluster.get(secret_path(NS, n))["metadata"]["resourceVersion"]
              for n in ("app", "app2")}
        rows_before = {n: len(self.history(n)) for n in ("app", "app2")}
        seq = self.cluster.last_seq()

        d2 = self.start_daemon()
        self.assertEqual(d2.metric("extsecretd_provider_fetches_total") or 0.0, 0.0,
                         "no fetch at startup for items that are not due")
        # A sentinel in another namespace: once it is synced, the initial list was processed.
        self.cluster.apply(fake_store(OTHER, "store", {"k": "s"}))
        self.cluster.apply(external_secret(OTHER, "sentinel", data=[ref("key", "k")]))
        self.wait_data("sentinel", {"key": "s"}, ns=OTHER)
        self.wait_condition("sentinel", "True", "SecretSynced", ns=OTHER)

        writes = [w for w in self.cluster.writes(seq) if "/namespaces/%s/" % NS in w["path"]]
        self.assertEqual(writes, [], "no Secret, status or event write for not-due items")
        for n in ("app", "app2"):
            now = self.cluster.get(secret_path(NS, n))
            self.assertEqual(now["metadata"]["resourceVersion"], rv[n])
            new_rows = self.history(n)[rows_before[n]:]
            self.assertEqual([r for r in new_rows if r["outcome"] != "skipped"], [],
                             "no fetch attempt recorded for %s after the restart" % n)
        self.assertEqual(d2.metric("extsecretd_provider_fetches_total"), per_es,
                         "only the sentinel was fetched")
        self.assertEqual(d2.metric("extsecretd_secret_writes_total"), 1.0)
        self.stop_daemon(d2)

    def test_restart_still_repairs_drift_and_reacts_to_changes(self):
        d = self.sync_first_run()
        self.stop_daemon(d)
        # While the daemon is down someone deletes a managed Secret and edits an ExternalSecret.
        self.cluster.delete(secret_path(NS, "app"))
        self.cluster.apply(fake_store(NS, "store2", {"j": "w2"}))
        self.cluster.apply(external_secret(NS, "app2", store="store2", data=[ref("renamed", "j")],
                                           refresh="1h"))
        self.start_daemon()
        self.wait_data("app", {"key": "v1"})
        self.wait_data("app2", {"renamed": "w2"})

    def test_status_and_history_commands_read_the_state(self):
        d = self.sync_first_run()
        self.stop_daemon(d)
        st = self.cli("status", "--state", self.state)
        self.assertEqual(st.returncode, 0, st.stderr)
        header = st.stdout.splitlines()[0].split()
        self.assertEqual(header, ["NAMESPACE", "NAME", "STORE", "OUTCOME", "LAST-SUCCESS",
                                  "NEXT-DUE", "FAILURES", "ERROR"])
        rows = [line.split() for line in st.stdout.splitlines()[1:] if line.strip()]
        self.assertEqual(sorted(r[:4] for r in rows),
                         [[NS, "app", "SecretStore/store", "written"],
                          [NS, "app2", "SecretStore/store2", "written"]])

        hist = self.cli("history", "%s/app" % NS, "--state", self.state, "--limit", "10")
        self.assertEqual(hist.returncode, 0, hist.stderr)
        lines = [line for line in hist.stdout.splitlines() if line.strip()]
        self.assertEqual(lines[0].split()[:4], ["AT", "NAMESPACE", "NAME", "OUTCOME"])
        self.assertTrue(all(" app2 " not in " %s " % line for line in lines[1:]),
                        "history NAMESPACE/NAME shows only that ExternalSecret")
        self.assertTrue(any(line.split()[1:4] == [NS, "app", "written"] for line in lines[1:]),
                        hist.stdout)
        everything = self.cli("history", "--state", self.state)
        self.assertEqual(everything.returncode, 0, everything.stderr)
        self.assertIn("app2", everything.stdout)


if __name__ == "__main__":
    harness.main()
