#!/usr/bin/env python3
"""e2e: reading Vault KV through the daemon: ESO's common cases on Vault (C18 find, C19 find +
rewrite, C08 extract, C10 rewrite, C03 property, C04 empty target name), the KV v1 mount
`secret_v1`, the four Vault-specific JSON entries of eso-api.md §6.2, keys that name their mount,
find with path and tags, version pinning, metadataPolicy Fetch, deleted/destroyed versions as
NotFound driving deletionPolicy Delete, and Vault namespaces (`namespace`, `auth.namespace`).
Stores use token auth except the namespace case (test_vault_auth covers the other methods).
"""

import json

import harness
from harness import external_secret, ref
from vault_support import NS, VaultCase

FOO1 = '{"foo1":"foo1-val"}'
NESTED = {"foo": {"nested": {"bar": "mysecret", "baz": "bang"}}}


class Kv(VaultCase):

    def es(self, name, store="store", **kw):
        kw.setdefault("target", {"name": name})
        self.cluster.apply(external_secret(NS, name, store=store, **kw))

    def test_find_by_name_with_and_without_rewrite(self):
        for n in ("one", "two", "three"):
            self.put_kv("e2e_find_name_" + n, {"foo1": "foo1-val"})
            self.put_kv("e2e_find_and_rewrite_" + n, {"foo1": "foo1-val"})
        self.put_kv("unrelated", {"foo1": "x"})
        self.token_store()
        self.es("plain", data_from=[{"find": {"name": {"regexp": "e2e_find_name_.+"}}}])
        self.es("rewritten", data_from=[
            {"find": {"name": {"regexp": "e2e_find_and_rewrite_.+"}},
             "rewrite": [{"regexp": {"source": "e2e_find_and_rewrite_(.*)", "target": "$1"}}]}])
        self.start_daemon()
        self.wait_data("plain", {"e2e_find_name_one": FOO1, "e2e_find_name_two": FOO1,
                                 "e2e_find_name_three": FOO1})
        self.wait_data("rewritten", {"one": FOO1, "two": FOO1, "three": FOO1})

    def test_find_recurses_into_folders_with_path_and_tags(self):
        self.put_kv("team/dev/config", {"a": "1"}, custom_metadata={"env": "dev"})
        self.put_kv("team/prod/config", {"a": "2"}, custom_metadata={"env": "prod"})
        self.put_kv("other/config", {"a": "3"}, custom_metadata={"env": "dev"})
        self.token_store()
        self.es("by-path", data_from=[{"find": {"path": "team",
                                                "name": {"regexp": "config$"}}}])
        self.es("by-tags", data_from=[{"find": {"tags": {"env": "dev"}}}])
        self.start_daemon()
        # ESO (vault client GetAllSecrets/listSecrets) keys results by the full path under the
        # mount, find.path included; `/` becomes `_` in the Secret key.
        self.wait_data("by-path", {"team_dev_config": '{"a":"1"}',
                                   "team_prod_config": '{"a":"2"}'})
        self.wait_data("by-tags", {"team_dev_config": '{"a":"1"}', "other_config": '{"a":"3"}'})

    def test_extract_rewrite_property_and_empty_target_name(self):
        self.put_kv("c08", {"name": "great-name", "surname": "great-surname"})
        self.put_kv("c10", {"username": "myuser.name", "address": "happy street"})
        self.put_kv("e2e-one", {"foo1": "foo1-val", "bar1": "bar1-val"})
        self.put_kv("e2e-two", {"foo2": "foo2-val", "bar2": "bar2-val"})
        self.put_kv("c04", {"foo": "foo-val", "bar": "bar-val"})
        self.token_store()
        self.es("c08", data_from=[{"extract": {"key": "c08"}}])
        self.es("c10", data_from=[{"extract": {"key": "c10"}, "rewrite": [
            {"regexp": {"source": "(.*)", "target": "my_$1"}}]}])
        self.es("c03", data=[ref("e2e-one", "e2e-one", property="foo1"),
                             ref("e2e-two", "e2e-two", property="bar2")])
        self.es("e2e-es", target={"name": ""}, data=[ref("e2e-one", "c04", property="foo")])
        self.start_daemon()
        self.wait_data("c08", {"name": "great-name", "surname": "great-surname"})
        self.wait_data("c10", {"my_username": "myuser.name", "my_address": "happy street"})
        self.wait_data("c03", {"e2e-one": "foo1-val", "e2e-two": "bar2-val"})
        self.wait_data("e2e-es", {"e2e-one": "foo-val"})
        es = self.wait_condition("e2e-es", "True", "SecretSynced")
        self.assertEqual(es["status"]["binding"], {"name": "e2e-es"})

    def vault_specific(self, store):
        """The four Vault-specific entries of eso-api.md §6.2 against `store`."""
        self.es("%s-raw" % store, store=store, data=[ref("value", "nested")])
        self.es("%s-prop" % store, store=store,
                data=[ref("value", "nested", property="foo.nested")])
        self.es("%s-extract" % store, store=store, data_from=[{"extract": {"key": "nested"}}])
        self.es("%s-extract-prop" % store, store=store,
                data_from=[{"extract": {"key": "nested", "property": "foo.nested"}}])

    def check_vault_specific(self, store):
        self.wait_data("%s-raw" % store,
                       {"value": '{"foo":{"nested":{"bar":"mysecret","baz":"bang"}}}'})
        self.wait_data("%s-prop" % store, {"value": '{"bar":"mysecret","baz":"bang"}'})
        self.wait_data("%s-extract" % store, {"foo": '{"nested":{"bar":"mysecret","baz":"bang"}}'})
        self.wait_data("%s-extract-prop" % store, {"bar": "mysecret", "baz": "bang"})

    def test_vault_specific_json_entries_on_kv_v2_and_kv_v1(self):
        self.put_both("nested", NESTED)
        self.token_store(name="v2")
        self.token_store(name="v1", secret="vault-token-v1", path="secret_v1", version="v1")
        self.vault_specific("v2")
        self.vault_specific("v1")
        self.start_daemon()
        self.check_vault_specific("v2")
        self.check_vault_specific("v1")

    def test_kv_v1_mount(self):
        self.put_both("e2e-one", {"foo1": "foo1-val", "bar1": "bar1-val"})
        self.put_both("c08", {"name": "great-name", "surname": "great-surname"})
        for n in ("one", "two"):
            self.put_both("e2e_find_name_" + n, {"foo1": "foo1-val"})
        self.token_store(path="secret_v1", version="v1")
        self.es("data", data=[ref("a", "e2e-one", property="foo1")])
        self.es("c08", data_from=[{"extract": {"key": "c08"}}])
        self.es("find", data_from=[{"find": {"name": {"regexp": "e2e_find_name_.+"}}}])
        self.start_daemon()
        self.wait_data("data", {"a": "foo1-val"})
        self.wait_data("c08", {"name": "great-name", "surname": "great-surname"})
        self.wait_data("find", {"e2e_find_name_one": FOO1, "e2e_find_name_two": FOO1})
        v1_reads = [r for r in self.vault_requests() if r["path"].startswith("/v1/secret_v1/")]
        self.assertTrue(v1_reads, "the v1 mount was read")
        self.assertFalse([r for r in v1_reads if "/data/" in r["path"]], "no KV v2 paths on v1")

    def test_keys_naming_their_mount_when_the_store_has_no_path(self):
        self.put_both("app", {"k": "v"})
        self.token_store(name="v2", path=None)
        self.token_store(name="v1", secret="vault-token-v1", path=None, version="v1")
        self.es("v2", store="v2", data=[ref("k", "secret/app", property="k")])
        self.es("v1", store="v1", data=[ref("k", "secret_v1/app", property="k")])
        self.start_daemon()
        self.wait_data("v2", {"k": "v"})
        self.wait_data("v1", {"k": "v"})
        paths = {r["path"] for r in self.vault_requests() if r["method"] == "GET"}
        self.assertIn("/v1/secret/data/app", paths)
        self.assertIn("/v1/secret_v1/app", paths)

    def test_version_pinning(self):
        self.put_kv("versioned", {"v": "one"})
        self.put_kv("versioned", {"v": "two"})
        self.token_store()
        self.es("pinned", data=[ref("first", "versioned", property="v", version="1"),
                                ref("second", "versioned", property="v", version="2"),
                                ref("latest", "versioned", property="v")])
        self.es("no-such-version", data=[ref("x", "versioned", property="v", version="9")])
        self.start_daemon()
        self.wait_data("pinned", {"first": "one", "second": "two", "latest": "two"})
        self.wait_condition("no-such-version", "False", "SecretSyncedError")

    def test_metadata_policy_fetch_reads_custom_metadata(self):
        self.put_kv("meta", {"x": "y"}, custom_metadata={"owner": "jdoe", "team": "blue"})
        self.token_store()
        self.es("meta", data=[ref("owner", "meta", property="owner", metadataPolicy="Fetch"),
                              ref("all", "meta", metadataPolicy="Fetch")])
        self.start_daemon()
        s = self.wait_secret("meta", lambda s: set(decode(s)) == {"owner", "all"})
        data = decode(s)
        self.assertEqual(data["owner"], "jdoe")
        everything = json.loads(data["all"])
        self.assertEqual((everything["owner"], everything["team"]), ("jdoe", "blue"))
        self.assertNotIn("x", everything, "the secret data is not metadata")

    def test_deleted_and_destroyed_versions_are_not_found_for_deletion_policy_delete(self):
        self.put_kv("soft", {"v": "1"})
        self.put_kv("hard", {"v": "2"})
        self.token_store()
        self.es("app", refresh="1s", target={"name": "app", "deletionPolicy": "Delete"},
                data=[ref("a", "soft", property="v"), ref("b", "hard", property="v")])
        self.start_daemon()
        self.wait_data("app", {"a": "1", "b": "2"})
        self.ctl("POST", "/_fake/kv/delete", {"mount": "secret", "path": "soft"})
        self.wait_data("app", {"b": "2"})
        self.ctl("POST", "/_fake/kv/delete", {"mount": "secret", "path": "hard", "versions": [1],
                                              "destroy": True})
        self.wait_secret_gone("app")
        self.wait_condition("app", "True", "SecretDeleted")

    def test_vault_namespaces_for_reads_and_for_login(self):
        """`namespace` sends X-Vault-Namespace on reads; `auth.namespace` is where it logs in."""
        self.put_kv("app", {"v": "in-root"})
        self.put_kv("app", {"v": "in-team1-apps"}, namespace="team1/apps")
        self.ctl("POST", "/_fake/policy", {"name": "apps-read", "namespace": "team1", "rules": [
            {"path": "apps/secret/*", "capabilities": ["read", "list"]}]})
        self.auth_role("approle", namespace="team1", role="r", role_id="rid", secret_id="sid",
                       policies=["apps-read"], token_ttl=3600)
        self.put_secret("sid", {"sid": "sid"})
        self.store({"namespace": "team1", "appRole": {"roleId": "rid", "secretRef": {
            "name": "sid", "key": "sid"}}}, namespace="team1/apps")
        self.es("app", data=[ref("v", "app", property="v")])
        self.start_daemon()
        self.wait_data("app", {"v": "in-team1-apps"})
        spaces = {(r["method"], r["path"], (r.get("namespace") or "").strip("/"))
                  for r in self.vault_requests() if r["status"] == 200}
        self.assertIn(("POST", "/v1/auth/approle/login", "team1"), spaces)
        self.assertIn(("GET", "/v1/secret/data/app", "team1/apps"), spaces)


def decode(secret):
    return harness.decode_data(secret)


if __name__ == "__main__":
    harness.main()
