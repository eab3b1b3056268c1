#!/usr/bin/env python3
"""e2e: the first sync of an ExternalSecret produces exactly ESO's Secret and status.

Covers ESO's common e2e cases on the fake provider: simple data, empty target name, property
(gjson), dataFrom extract, rewrite, find by name (+ rewrite), version and decoding, and the seed
article's v1beta1 manifests served through the v1beta1 API path.
"""

import json
import re

import harness
from harness import (CREATED_BY_LABEL, DATA_HASH_ANNOTATION, MANAGED_LABEL, decode_data, es_path,
                     event_text, external_secret, fake_store, ready_condition, ref, sha3_224_hex,
                     store_path)

NS = "e2e"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


class FirstSync(harness.E2ETestCase):

    def test_secret_metadata_data_and_owner_are_exactly_esos(self):
        c = self.cluster
        c.apply(fake_store(NS, "store", {"db-pass": "s3cr3t", "db-user": "admin"}))
        c.apply(external_secret(NS, "app", target={"name": "app-secret"}, labels={"team": "a"},
                                annotations={"note": "x"},
                                data=[ref("password", "db-pass"), ref("user", "db-user")]))
        self.start_daemon()
        es = self.wait_condition("app", "True", "SecretSynced")
        s = self.wait_secret("app-secret")

        self.assertEqual(decode_data(s), {"password": "s3cr3t", "user": "admin"})
        self.assertEqual(s.get("type"), "Opaque")
        self.assertEqual(s["metadata"].get("labels"), {
            "team": "a", MANAGED_LABEL: "true", CREATED_BY_LABEL: sha3_224_hex("e2e/app")})
        annotations = s["metadata"].get("annotations") or {}
        self.assertEqual(set(annotations), {"note", DATA_HASH_ANNOTATION})
        self.assertEqual(annotations["note"], "x")
        self.assertRegex(annotations[DATA_HASH_ANNOTATION], r"^[0-9a-f]{64}$",
                         "data-hash is an HMAC-SHA256 in lowercase hex")
        self.assertEqual(s["metadata"].get("ownerReferences"), [{
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": "app",
            "uid": es["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}])
        self.assertFalse(s.get("immutable", False))
        self.assertFalse(s["metadata"].get("finalizers"))

    def test_status_event_state_and_metrics_after_first_sync(self):
        c = self.cluster
        c.apply(fake_store(NS, "store", {"k": "v"}))
        c.apply(external_secret(NS, "app", data=[ref("key", "k")], target={"name": "out"}))
        d = self.start_daemon()
        es = self.wait_condition("app", "True", "SecretSynced")

        cond = ready_condition(es)
        self.assertEqual(cond["message"], "secret synced")
        self.assertTrue(cond.get("lastTransitionTime"))
        st = es["status"]
        self.assertEqual(st.get("binding"), {"name": "out"})
        self.assertTrue(st.get("refreshTime"), "refreshTime is set after a successful sync")
        self.assertTrue(st.get("syncedResourceVersion"))

        created = self.wait_until(lambda: [e for e in c.events(NS, "app")
                                           if e.get("reason") == "Created"], what="Created event")
        self.assertEqual(len(created), 1)
        self.assertEqual(created[0].get("type"), "Normal")
        self.assertEqual(event_text(created[0]), "secret created")

        row = self.status_row("app")
        self.assertIsNotNone(row, "sync_status has a row for the ExternalSecret")
        self.assertEqual((row["store"], row["target"], row["last_outcome"]),
                         ("SecretStore/store", "out", "written"))
        self.assertEqual(row["consecutive_failures"], 0)
        self.assertFalse(row["last_error"])
        self.assertEqual(row["write_count"], 1)
        for col in ("last_attempt_at", "last_success_at", "next_due_at"):
            self.assertRegex(row[col], ISO_UTC, col)
        self.assertIn("written", self.outcomes("app"))

        self.assertEqual(d.metric("externalsecret_status_condition", name="app", namespace=NS,
                                  condition="Ready", status="True"), 1.0)
        self.assertEqual(d.metric("extsecretd_secret_writes_total"), 1.0)

    def test_empty_target_name_uses_the_externalsecret_name(self):
        self.cluster.apply(fake_store(NS, "store", {"e2e-one": "bar"}))
        self.cluster.apply(external_secret(NS, "e2e-es", data=[ref("e2e-one", "e2e-one")],
                                           target={"name": ""}))
        self.start_daemon()
        self.wait_data("e2e-es", {"e2e-one": "bar"})
        es = self.wait_condition("e2e-es", "True", "SecretSynced")
        self.assertEqual(es["status"]["binding"], {"name": "e2e-es"})

    def test_property_selects_inside_json_values(self):
        person = {"name": {"first": "Tom", "last": "Anderson"},
                  "friends": [{"first": "Dale"}, {"first": "Roger"}, {"first": "Jane"}]}
        self.cluster.apply(fake_store(NS, "store", {
            "one": json.dumps({"foo1": "foo1-val", "bar1": "bar1-val"}),
            "person": json.dumps(person, separators=(",", ":"))}))
        self.cluster.apply(external_secret(NS, "es", target={"name": "out"}, data=[
            ref("a", "one", property="foo1"), ref("firstname", "person", property="name.first"),
            ref("first_friend", "person", property="friends.1.first")]))
        self.start_daemon()
        self.wait_data("out", {"a": "foo1-val", "firstname": "Tom", "first_friend": "Roger"})

    def test_data_from_extract_explodes_json_and_keeps_raw_non_strings(self):
        value = '{"name":"great-name","surname":"great-surname","port":5432,"nested":{"a":1}}'
        self.cluster.apply(fake_store(NS, "store", {"cfg": value}))
        self.cluster.apply(external_secret(NS, "es", target={"name": "out"},
                                           data_from=[{"extract": {"key": "cfg"}}]))
        self.start_daemon()
        self.wait_data("out", {"name": "great-name", "surname": "great-surname", "port": "5432",
                               "nested": '{"a":1}'})

    def test_data_from_extract_with_regexp_rewrite(self):
        self.cluster.apply(fake_store(NS, "store", {
            "cfg": '{"username":"myuser.name","address":"happy street"}'}))
        self.cluster.apply(external_secret(NS, "es", target={"name": "out"}, data_from=[{
            "extract": {"key": "cfg"},
            "rewrite": [{"regexp": {"source": "(.*)", "target": "my_$1"}}]}]))
        self.start_daemon()
        self.wait_data("out", {"my_username": "myuser.name", "my_address": "happy street"})

    def test_find_by_name_regexp_with_and_without_rewrite(self):
        v = '{"foo1":"foo1-val"}'
        self.cluster.apply(fake_store(NS, "store", {
            "e2e_find_name_one": v, "e2e_find_name_two": v, "e2e_find_name_three": v,
            "unrelated": "x"}))
        self.cluster.apply(external_secret(NS, "plain", target={"name": "plain"}, data_from=[
            {"find": {"name": {"regexp": "e2e_find_name_.+"}}}]))
        self.cluster.apply(external_secret(NS, "rewritten", target={"name": "rewritten"},
                                           data_from=[
            {"find": {"name": {"regexp": "e2e_find_name_.+"}},
             "rewrite": [{"regexp": {"source": "e2e_find_name_(.*)", "target": "$1"}}]}]))
        self.start_daemon()
        self.wait_data("plain", {"e2e_find_name_one": v, "e2e_find_name_two": v,
                                 "e2e_find_name_three": v})
        self.wait_data("rewritten", {"one": v, "two": v, "three": v})

    def test_version_and_decoding_strategy(self):
        self.cluster.apply(fake_store(NS, "store", [
            {"key": "k", "value": "old-val", "version": "1"},
            {"key": "k", "value": "new-val", "version": "2"},
            {"key": "enc", "value": "Z3JlYXQtbmFtZQ=="}]))
        self.cluster.apply(external_secret(NS, "es", target={"name": "out"}, data=[
            ref("v1", "k", version="1"), ref("v2", "k", version="2"),
            ref("decoded", "enc", decodingStrategy="Base64"), ref("raw", "enc")]))
        self.start_daemon()
        self.wait_data("out", {"v1": "old-val", "v2": "new-val", "decoded": "great-name",
                               "raw": "Z3JlYXQtbmFtZQ=="})

    def test_seed_article_v1beta1_manifests(self):
        # The seed article's SecretStore/ExternalSecret (external-secrets.io/v1beta1, no namespace),
        # with the fake provider standing in for Azure Key Vault.
        store = fake_store("default", "azure-store", {"DatabasePassword": "article-pass"},
                           version="v1beta1")
        es = external_secret("default", "database-secret", store="azure-store", refresh="1h",
                             target={"name": "app-secret"},
                             data=[ref("db-password", "DatabasePassword")], version="v1beta1")
        del store["metadata"]["namespace"], es["metadata"]["namespace"]
        st, out = self.cluster.api("POST", store_path("default", version="v1beta1"), store)
        self.assertEqual(st, 201, out)
        st, out = self.cluster.api("POST", es_path("default", version="v1beta1"), es)
        self.assertEqual(st, 201, out)
        self.start_daemon()
        s = self.wait_data("app-secret", {"db-password": "article-pass"}, ns="default")
        self.assertEqual(s["metadata"]["labels"][MANAGED_LABEL], "true")
        beta = self.wait_condition("database-secret", "True", "SecretSynced", ns="default")
        self.assertEqual(beta["metadata"].get("uid"), s["metadata"]["ownerReferences"][0]["uid"])
        st, seen = self.cluster.api("GET", es_path("default", "database-secret", "v1beta1"))
        self.assertEqual((st, seen["apiVersion"]), (200, "external-secrets.io/v1beta1"))
        self.assertEqual(ready_condition(seen)["reason"], "SecretSynced")


if __name__ == "__main__":
    harness.main()
