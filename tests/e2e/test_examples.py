#!/usr/bin/env python3
"""e2e: the manifests under examples/ parse, and work end to end as their comments promise
(the demo applies the same files through tests/e2e/mini_yaml.py).
"""

import harness
import mini_yaml
from harness import REPO, external_secret, ready_condition, ref, secret_path
from kubeobjects import expected_example_data, store_key, target_name

EXAMPLES = REPO / "examples"
KINDS = {"ExternalSecret", "SecretStore", "ClusterSecretStore"}


def load(name):
    return mini_yaml.load_all((EXAMPLES / name).read_text())


class Examples(harness.E2ETestCase):

    def apply_all(self, *files):
        objs = [o for f in files for o in load(f)]
        for o in objs:
            self.cluster.apply(o)
        return objs

    def test_every_example_parses_into_eso_objects(self):
        files = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
        for required in ("fake-store.yaml", "external-secret.yaml", "seed-article-fake.yaml",
                         "cluster-store.yaml"):
            self.assertIn(required, files)
        for f in files:
            docs = load(f)
            self.assertTrue(docs, "%s has at least one object" % f)
            for o in docs:
                self.assertIn(o.get("kind"), KINDS, f)
                self.assertTrue(o["apiVersion"].startswith("external-secrets.io/"), f)
                self.assertTrue(o["metadata"]["name"], f)

    def test_demo_store_and_external_secret(self):
        objs = self.apply_all("fake-store.yaml", "external-secret.yaml")
        stores = {store_key(o): o for o in objs if o["kind"] != "ExternalSecret"}
        (es,) = [o for o in objs if o["kind"] == "ExternalSecret"]
        expected = expected_example_data(es, stores)
        self.assertTrue(expected, "the demo ExternalSecret reads plain keys of the demo store")
        self.start_daemon()
        self.wait_data(target_name(es), expected, ns=es["metadata"].get("namespace", "default"))

    def test_seed_article_with_the_fake_store(self):
        objs = self.apply_all("seed-article-fake.yaml")
        stores = {store_key(o): o for o in objs if o["kind"] != "ExternalSecret"}
        (es,) = [o for o in objs if o["kind"] == "ExternalSecret"]
        self.assertEqual(es["apiVersion"], "external-secrets.io/v1beta1")
        self.start_daemon()
        self.wait_data("app-secret", expected_example_data(es, stores), ns="default")
        self.wait_condition("database-secret", "True", "SecretSynced", ns="default")

    def test_seed_article_original_fails_cleanly_without_azure(self):
        self.apply_all("seed-article.yaml")
        self.start_daemon()
        es = self.wait_condition("database-secret", "False", "SecretSyncedError", ns="default")
        self.assertTrue(ready_condition(es).get("message"))
        self.assertIsNone(self.cluster.get(secret_path("default", "app-secret")))

    def test_cluster_store_conditions(self):
        (css,) = self.apply_all("cluster-store.yaml")
        name = css["metadata"]["name"]
        entry = css["spec"]["provider"]["fake"]["data"][0]
        for ns in ("default", "team-a", "elsewhere"):
            self.cluster.apply(external_secret(ns, "shared", store=name,
                                               store_kind="ClusterSecretStore",
                                               data=[ref("value", entry["key"])]))
        self.start_daemon()
        self.wait_data("shared", {"value": entry["value"]}, ns="default")
        self.wait_data("shared", {"value": entry["value"]}, ns="team-a")
        self.wait_condition("shared", "False", "SecretSyncedError", ns="elsewhere")
        denied = 'using cluster store "%s" is not allowed from namespace "elsewhere"' % name
        self.wait_until(lambda: [e for e in self.cluster.events("elsewhere", "shared")
                                 if denied in harness.event_text(e)], what="denial event")
        self.assertIsNone(self.cluster.get(secret_path("elsewhere", "shared")))


if __name__ == "__main__":
    harness.main()
