#!/usr/bin/env python3
"""e2e: reading AWS Secrets Manager values through the daemon (static keys through
auth.secretRef; test_aws_auth covers the other credential sources). ESO's common cases that the
AWS suite runs without templates (eso-api.md §6.1/§6.2: C01, C02, C03, C04, C08, C10, C11, C16,
C18, C20, C21, C22), plus what §3.1 promises for Secrets Manager: SecretBinary (raw bytes, and a
property read from it as a string), version stage AWSPREVIOUS and `uuid/<VersionId>`, property as
a dotted literal key before a gjson path, non-string JSON values, metadataPolicy Fetch (the tags
as JSON, a property picks one tag), the store's `prefix`, full and partial ARNs as keys, find by
name with ListSecrets paging, NotFound (deleted or marked for deletion) driving deletionPolicy
Delete, and a missing property or key failing with a Warning event naming it.
"""

import json

import harness
from harness import b64, external_secret, ref
from aws_support import NS, AwsCase

FOO1 = '{"foo1":"foo1-val"}'
C11 = {"name": {"first": "Tom", "last": "Anderson"},
       "friends": [{"first": "Dale", "last": "Murphy"}, {"first": "Roger", "last": "Craig"},
                   {"first": "Jane", "last": "Murphy"}]}


def js(obj):
    return json.dumps(obj, separators=(",", ":"))


class SecretsManager(AwsCase):

    def es(self, name, store="store", **kw):
        kw.setdefault("target", {"name": name})
        self.cluster.apply(external_secret(NS, name, store=store, **kw))

    def test_common_cases_c01_c02_c03_c04_c08_c10_c11(self):
        self.put("e2e-one", "bar")
        self.put("e2e-other", "bar")
        self.put("c03-one", js({"foo1": "foo1-val", "bar1": "bar1-val"}))
        self.put("c03-two", js({"foo2": "foo2-val", "bar2": "bar2-val"}))
        self.put("c04-one", js({"foo": "foo-val", "bar": "bar-val"}))
        self.put("c08-one", js({"name": "great-name", "surname": "great-surname"}))
        self.put("c10-one", js({"username": "myuser.name", "address": "happy street"}))
        self.put("c11-one", js(C11))
        self.static_store()
        self.es("c01", data=[ref("e2e-one", "e2e-one"), ref("e2e-other", "e2e-other")])
        self.es("c02-es", target={"name": ""}, data=[ref("e2e-one", "e2e-one")])
        self.es("c03", data=[ref("c03-one", "c03-one", property="foo1"),
                             ref("c03-two", "c03-two", property="bar2")])
        self.es("c04-es", target={"name": ""}, data=[ref("c04-one", "c04-one", property="foo")])
        self.es("c08", data_from=[{"extract": {"key": "c08-one"}}])
        self.es("c10", data_from=[{"extract": {"key": "c10-one"}, "rewrite": [
            {"regexp": {"source": "(.*)", "target": "my_$1"}}]}])
        self.es("c11", data=[ref("firstname", "c11-one", property="name.first"),
                             ref("first_friend", "c11-one", property="friends.1.first")])
        self.start_daemon()
        self.wait_data("c01", {"e2e-one": "bar", "e2e-other": "bar"})
        self.wait_data("c02-es", {"e2e-one": "bar"})
        self.wait_data("c03", {"c03-one": "foo1-val", "c03-two": "bar2-val"})
        self.wait_data("c04-es", {"c04-one": "foo-val"})
        self.wait_data("c08", {"name": "great-name", "surname": "great-surname"})
        self.wait_data("c10", {"my_username": "myuser.name", "my_address": "happy street"})
        self.wait_data("c11", {"firstname": "Tom", "first_friend": "Roger"})
        for name in ("c01", "c02-es", "c03", "c04-es", "c08", "c10", "c11"):
            es = self.wait_condition(name, "True", "SecretSynced")
            self.assertEqual(es["status"]["binding"], {"name": name})
        secret = self.cluster.get(harness.secret_path(NS, "c01"))
        self.assertEqual(secret["type"], "Opaque")
        labels = set((secret["metadata"].get("labels") or {}))
        self.assertEqual(labels, {harness.MANAGED_LABEL, harness.CREATED_BY_LABEL},
                         "ESO's e2e compares labels exactly")
        self.assertEqual(set(secret["metadata"].get("annotations") or {}),
                         {harness.DATA_HASH_ANNOTATION})

    def test_find_c18_c20_c21_c22_and_list_paging(self):
        for n in ("one", "two", "three"):
            self.put("e2e_find_name_c18_" + n, FOO1)
        self.put("e2e_find_other_c18", FOO1)
        self.put("e2e-find-name-c20x-one", "v1")
        self.put("c20x-two", "v2")
        self.put("c20x-three", "v3")
        for n in ("one", "two", "three"):
            self.put("e2e-find-name-c21-" + n, "t-" + n, tags={"test": "c21"})
        self.put("c21-other-value", "x", tags={"test": "other"})
        self.put("c21-other-key", "x", tags={"owner": "c21"})
        self.put("e2e-find-name-c22-one", "p1", tags={"test": "c22"})
        self.put("foobar-c22-two", "p2", tags={"test": "c22"})
        self.put("foobar-c22-three", "p3", tags={"test": "c22"})
        self.put("foobar-c22-untagged", "p4")
        for i in range(105):   # more than one ListSecrets page (100)
            self.put("page-%03d" % i, "p%d" % i)
        self.put("gone-c18-deleted", FOO1)
        self.aws.delete_secret("gone-c18-deleted")
        self.static_store()
        self.es("c18", data_from=[{"find": {"name": {"regexp": "e2e_find_name_c18.+"}}}])
        self.es("c20", data_from=[{"find": {"path": "c20x", "name": {"regexp": ".+"}}}])
        self.es("c21", data_from=[{"find": {"tags": {"test": "c21"}}}])
        self.es("c22", data_from=[{"find": {"path": "foobar", "tags": {"test": "c22"}}}])
        self.es("paged", data_from=[{"find": {"name": {"regexp": "^page-"}}}])
        self.es("no-deleted", data_from=[{"find": {"name": {"regexp": "c18"}}}])
        self.start_daemon()
        self.wait_data("c18", {"e2e_find_name_c18_one": FOO1, "e2e_find_name_c18_two": FOO1,
                               "e2e_find_name_c18_three": FOO1})
        self.wait_data("c20", {"c20x-two": "v2", "c20x-three": "v3"})
        self.wait_data("c21", {"e2e-find-name-c21-one": "t-one", "e2e-find-name-c21-two": "t-two",
                               "e2e-find-name-c21-three": "t-three"})
        self.wait_data("c22", {"foobar-c22-two": "p2", "foobar-c22-three": "p3"})
        self.wait_data("paged", {"page-%03d" % i: "p%d" % i for i in range(105)})
        self.wait_data("no-deleted", {"e2e_find_name_c18_one": FOO1,
                                      "e2e_find_name_c18_two": FOO1,
                                      "e2e_find_name_c18_three": FOO1,
                                      "e2e_find_other_c18": FOO1})

    def test_c16_not_found_and_marked_for_deletion_drive_deletion_policy_delete(self):
        self.put("c16-one", "bazz")
        self.put("c16-two", "bazz")
        self.put("kept", "kept-value")
        self.static_store()
        self.es("c16", refresh="1s", target={"name": "c16", "deletionPolicy": "Delete"},
                data=[ref("one", "c16-one"), ref("two", "c16-two")])
        self.es("retain", refresh="1s", data=[ref("kept", "kept")])
        self.start_daemon()
        self.wait_data("c16", {"one": "bazz", "two": "bazz"})
        self.wait_data("retain", {"kept": "kept-value"})
        self.aws.delete_secret("c16-one")                      # marked for deletion (30 days)
        self.wait_data("c16", {"two": "bazz"})
        self.aws.delete_secret("c16-two", recovery_window=0)   # gone: ResourceNotFound
        self.wait_secret_gone("c16")
        self.wait_condition("c16", "True", "SecretDeleted")
        # deletionPolicy Retain (the default): NotFound is an error, the Secret stays.
        self.aws.delete_secret("kept", recovery_window=0)
        self.wait_condition("retain", "False", "SecretSyncedError")
        self.assertEqual(harness.decode_data(self.cluster.get(harness.secret_path(NS, "retain"))),
                         {"kept": "kept-value"})

    def test_secret_binary(self):
        raw = bytes([0xff, 0xfe, 0x80, 0x01, 0x7f]) + b"binary\xc3(" + bytes(range(1, 32))
        self.put("bin", binary=raw)
        self.put("bin-json", binary=js({"user": "u", "nested": {"pw": "p"}}).encode())
        self.static_store()
        self.es("bin", data=[ref("raw", "bin"), ref("pw", "bin-json", property="nested.pw")])
        self.es("bin-extract", data_from=[{"extract": {"key": "bin-json"}}])
        self.start_daemon()
        s = self.wait_secret("bin", lambda s: set((s.get("data") or {})) == {"raw", "pw"})
        self.assertEqual(s["data"]["raw"], b64(raw), "SecretBinary passes through unchanged")
        self.assertEqual(harness.decode_data(s)["pw"], "p")
        self.wait_data("bin-extract", {"user": "u", "nested": '{"pw":"p"}'})

    def test_versions_by_stage_and_uuid(self):
        first = self.put("versioned", "one")["version_id"]
        second = self.put("versioned", "two")["version_id"]
        self.put("versioned", "pending", stage="AWSPENDING")
        self.static_store()
        self.es("versions", data=[
            ref("current", "versioned"),
            ref("explicit-current", "versioned", version="AWSCURRENT"),
            ref("previous", "versioned", version="AWSPREVIOUS"),
            ref("pending", "versioned", version="AWSPENDING"),
            ref("first", "versioned", version="uuid/" + first),
            ref("second", "versioned", version="uuid/" + second)])
        self.es("no-such-stage", data=[ref("x", "versioned", version="AWSNOPE")])
        self.es("no-such-uuid", data=[ref("x", "versioned",
                                          version="uuid/00000000-0000-4000-8000-000000000000")])
        self.start_daemon()
        self.wait_data("versions", {"current": "two", "explicit-current": "two",
                                    "previous": "one", "pending": "pending", "first": "one",
                                    "second": "two"})
        self.wait_condition("no-such-stage", "False", "SecretSyncedError")
        self.wait_condition("no-such-uuid", "False", "SecretSyncedError")

    def test_property_dotted_literal_first_then_path_and_non_string_values(self):
        self.put("props", js({"a.b": "literal", "a": {"b": "nested", "c": "deep"},
                              "port": 5432, "on": True, "obj": {"x": 1, "y": [1, 2]},
                              "list": ["p", "q"]}))
        self.static_store()
        self.es("props", data=[ref("literal", "props", property="a.b"),
                               ref("deep", "props", property="a.c"),
                               ref("port", "props", property="port"),
                               ref("on", "props", property="on"),
                               ref("obj", "props", property="obj"),
                               ref("second", "props", property="list.1")])
        self.es("props-extract", data_from=[{"extract": {"key": "props", "property": "obj"}}])
        self.es("no-property", data=[ref("x", "props", property="a.missing")])
        self.es("no-key", data=[ref("x", "no-such-remote-key")])
        self.start_daemon()
        self.wait_data("props", {"literal": "literal", "deep": "deep", "port": "5432",
                                 "on": "true", "obj": '{"x":1,"y":[1,2]}', "second": "q"})
        self.wait_data("props-extract", {"x": "1", "y": "[1,2]"})
        self.assert_refused("no-property", "a.missing")
        self.assert_refused("no-key", "no-such-remote-key")

    def test_metadata_policy_fetch_returns_the_tags(self):
        self.put("meta", js({"x": "y"}), tags={"owner": "jdoe", "team": "blue"})
        self.static_store()
        self.es("meta", data=[ref("owner", "meta", property="owner", metadataPolicy="Fetch"),
                              ref("all", "meta", metadataPolicy="Fetch"),
                              ref("value", "meta", property="x")])
        self.es("no-tag", data=[ref("x", "meta", property="nope", metadataPolicy="Fetch")])
        self.start_daemon()
        s = self.wait_secret("meta", lambda s: set(s.get("data") or {}) == {"owner", "all",
                                                                            "value"})
        data = harness.decode_data(s)
        self.assertEqual(data["owner"], "jdoe")
        self.assertEqual(json.loads(data["all"]), {"owner": "jdoe", "team": "blue"})
        self.assertEqual(data["value"], "y")
        self.assertGreaterEqual(self.calls("DescribeSecret"), 1, "tags come from DescribeSecret")
        self.wait_condition("no-tag", "False", "SecretSyncedError")

    def test_store_prefix_and_arn_keys(self):
        self.put("team-a/db", js({"user": "a-user"}))
        self.put("db", js({"user": "unprefixed"}))
        arn = self.put("by-arn", js({"user": "arn-user"}))["arn"]
        self.static_store("prefixed", prefix="team-a/")
        self.static_store("plain", secret="aws-creds-plain")
        self.es("prefixed", store="prefixed", data=[ref("user", "db", property="user")],
                data_from=[{"extract": {"key": "db"}}])
        self.es("arn", store="plain", data=[ref("full", arn, property="user"),
                                            ref("partial", arn[:-7], property="user"),
                                            ref("name", "by-arn", property="user")])
        self.start_daemon()
        self.wait_data("prefixed", {"user": "a-user"})
        self.wait_data("arn", {"full": "arn-user", "partial": "arn-user", "name": "arn-user"})


if __name__ == "__main__":
    harness.main()
