#!/usr/bin/env python3
"""e2e: reading AWS SSM Parameter Store values through the daemon (spec.provider.aws service
ParameterStore, static keys through auth.secretRef; eso-api.md §3.1 "Parameter Store" and the
Parameter Store rows of §6.2). ESO's common cases C01, C03, C08 and "should read versioned
secrets" (`name:<version>`), find by name regexp, by path and by tags (full names with a
leading '/', turned into `_...` by the Default conversion, or renamed by a rewrite), C16
(ParameterNotFound drives deletionPolicy Delete; Retain keeps the Secret), AccessDenied on
GetParametersByPath falling back to DescribeParameters, throttled GetParameters recovering,
SecureString values arriving decrypted, metadataPolicy Fetch (the tags as JSON, a property
picks one tag), GetParameters batching, and the call metrics under provider
"AWS/ParameterStore". The fake AWS (tests/fakes/aws/ssm.py) checks SigV4 with service "ssm".
"""

import json

import harness
from harness import external_secret, ref
from aws_support import CALLS, NS, AwsCase

PS = "AWS/ParameterStore"          # provider label of the Parameter Store call metrics
PS_OPS = ("GetParameter", "GetParameters", "GetParametersByPath", "DescribeParameters",
          "ListTagsForResource")
SM_OPS = ("GetSecretValue", "BatchGetSecretValue", "DescribeSecret", "ListSecrets")


def js(obj):
    return json.dumps(obj, separators=(",", ":"))


class ParameterStore(AwsCase):

    def param(self, name, value, type="String", tags=None):  # noqa: A002
        return self.aws.put_parameter(name, value, type=type, tags=tags)

    def ps_store(self, name="store", **kw):
        return self.static_store(name, service="ParameterStore", **kw)

    def es(self, name, store="store", **kw):
        kw.setdefault("target", {"name": name})
        self.cluster.apply(external_secret(NS, name, store=store, **kw))

    def ps_calls(self):
        return {op: n for op, n in self.calls().items() if op in PS_OPS}

    def assert_no_sm_calls(self):
        self.assertEqual(sum(self.calls(op) for op in SM_OPS), 0,
                         "a ParameterStore store never calls Secrets Manager: %r" % self.calls())

    def test_common_cases_c01_c03_c08(self):
        self.param("/e2e/c01/one", "bar")
        self.param("/e2e/c01/other", "bar")
        self.param("/e2e/c03/one", js({"foo1": "foo1-val", "bar1": "bar1-val"}))
        self.param("/e2e/c03/two", js({"foo2": "foo2-val", "bar2": "bar2-val"}))
        self.param("/e2e/c08/one", js({"name": "great-name", "surname": "great-surname"}))
        self.param("plain-name", js({"a.b": "literal", "a": {"b": "nested", "c": "deep"}}))
        self.ps_store()
        self.es("c01", data=[ref("one", "/e2e/c01/one"), ref("other", "/e2e/c01/other")])
        self.es("c03", data=[ref("one", "/e2e/c03/one", property="foo1"),
                             ref("two", "/e2e/c03/two", property="bar2")])
        self.es("c08", data_from=[{"extract": {"key": "/e2e/c08/one"}}])
        self.es("dotted", data=[ref("literal", "plain-name", property="a.b"),
                                ref("deep", "plain-name", property="a.c")])
        self.es("no-property", data=[ref("x", "/e2e/c03/one", property="nope")])
        self.start_daemon()
        self.wait_data("c01", {"one": "bar", "other": "bar"})
        self.wait_data("c03", {"one": "foo1-val", "two": "bar2-val"})
        self.wait_data("c08", {"name": "great-name", "surname": "great-surname"})
        self.wait_data("dotted", {"literal": "literal", "deep": "deep"})
        for name in ("c01", "c03", "c08", "dotted"):
            es = self.wait_condition(name, "True", "SecretSynced")
            self.assertEqual(es["status"]["binding"], {"name": name})
        self.assert_refused("no-property", "nope")
        secret = self.cluster.get(harness.secret_path(NS, "c01"))
        self.assertEqual(set((secret["metadata"].get("labels") or {})),
                         {harness.MANAGED_LABEL, harness.CREATED_BY_LABEL})
        self.assertGreaterEqual(len(self.key_ids("ssm")), 1, "calls signed for service ssm")
        self.assert_no_sm_calls()

    def test_versioned_secrets(self):
        """ESO's "[common] should read versioned secrets" for Parameter Store."""
        key = "/e2e/versioned/%s/one" % NS
        for i in range(1, 6):
            self.assertEqual(self.param(key, "value%d" % i), i)
        self.ps_store()
        self.es("versioned", data=[ref("v%d" % i, key, version=str(i)) for i in range(1, 6)])
        self.es("latest", data=[ref("v", key)])
        self.es("no-such-version", data=[ref("v", key, version="9")])
        self.start_daemon()
        self.wait_data("versioned", {"v%d" % i: "value%d" % i for i in range(1, 6)})
        self.wait_data("latest", {"v": "value5"})
        self.wait_condition("no-such-version", "False", "SecretSyncedError")
        self.assertIsNone(self.cluster.get(harness.secret_path(NS, "no-such-version")))

    def test_find_by_name_path_and_tags(self):
        for n in ("one", "two", "three"):
            self.param("/e2e/find/name/" + n, "n-" + n)
        self.param("/e2e/find/other", "other")
        self.param("/e2e/find/name/deeper/four", "n-four")
        self.param("/unrelated/name/one", "u")
        self.param("/e2e/tags/a", "t-a", tags={"test": "ps-tags", "team": "x"})
        self.param("/e2e/tags/b", "t-b", type="SecureString", tags={"test": "ps-tags"})
        self.param("/e2e/tags/c", "t-c", tags={"test": "other"})
        self.param("/e2e/elsewhere/d", "t-d", tags={"test": "ps-tags"})
        self.param("/e2e/secure/s", "plain-secure", type="SecureString")
        self.ps_store()
        self.es("by-name", data_from=[{"find": {"name": {"regexp": "^/e2e/find/name/"}}}])
        self.es("by-path", data_from=[{"find": {"path": "/e2e/find",
                                                "name": {"regexp": "o"}}}])
        self.es("by-tags", data_from=[{"find": {"tags": {"test": "ps-tags"}}}])
        self.es("by-tags-path", data_from=[{"find": {"path": "/e2e/tags",
                                                     "tags": {"test": "ps-tags"}}}])
        self.es("rewritten", data_from=[{"find": {"name": {"regexp": "^/e2e/find/name/[a-z]+$"}},
                                         "rewrite": [{"regexp": {"source": "^/e2e/find/name/",
                                                                 "target": ""}}]}])
        self.es("secure", data_from=[{"find": {"name": {"regexp": "^/e2e/secure/"}}}])
        self.es("slash-left", data_from=[{"find": {"name": {"regexp": "^/e2e/find/name/"}},
                                          "rewrite": [{"regexp": {"source": "^/e2e/",
                                                                  "target": ""}}]}])
        self.start_daemon()
        # ESO's result keys are the full names; the Default conversion turns '/' into '_'
        self.wait_data("by-name", {"_e2e_find_name_one": "n-one", "_e2e_find_name_two": "n-two",
                                   "_e2e_find_name_three": "n-three",
                                   "_e2e_find_name_deeper_four": "n-four"})
        self.wait_data("by-path", {"_e2e_find_name_one": "n-one", "_e2e_find_name_two": "n-two",
                                   "_e2e_find_other": "other",
                                   "_e2e_find_name_deeper_four": "n-four"})
        self.wait_data("by-tags", {"_e2e_tags_a": "t-a", "_e2e_tags_b": "t-b",
                                   "_e2e_elsewhere_d": "t-d"})
        self.wait_data("by-tags-path", {"_e2e_tags_a": "t-a", "_e2e_tags_b": "t-b"})
        self.wait_data("rewritten", {"one": "n-one", "two": "n-two", "three": "n-three"})
        self.wait_data("secure", {"_e2e_secure_s": "plain-secure"})
        # a rewrite replaces the conversion: keys still holding '/' are refused, as in ESO
        self.assert_refused("slash-left", "invalid secret keys")
        calls = self.calls()
        self.assertGreaterEqual(calls.get("GetParametersByPath", 0), 1, calls)
        self.assertGreaterEqual(calls.get("DescribeParameters", 0), 1, calls)
        self.assert_no_sm_calls()

    def test_c16_parameter_not_found_drives_deletion_policy_delete(self):
        self.param("/e2e/c16/one", "bazz")
        self.param("/e2e/c16/two", "bazz")
        self.param("/e2e/c16/kept", "kept-value")
        self.ps_store()
        self.es("c16", refresh="1s", target={"name": "c16", "deletionPolicy": "Delete"},
                data=[ref("one", "/e2e/c16/one"), ref("two", "/e2e/c16/two")])
        self.es("retain", refresh="1s", data=[ref("kept", "/e2e/c16/kept")])
        self.start_daemon()
        self.wait_data("c16", {"one": "bazz", "two": "bazz"})
        self.wait_data("retain", {"kept": "kept-value"})
        self.aws.delete_parameter("/e2e/c16/one")
        self.wait_data("c16", {"two": "bazz"})
        self.aws.delete_parameter("/e2e/c16/two")
        self.wait_secret_gone("c16")
        self.wait_condition("c16", "True", "SecretDeleted")
        self.aws.delete_parameter("/e2e/c16/kept")
        self.wait_condition("retain", "False", "SecretSyncedError")
        self.assertEqual(harness.decode_data(self.cluster.get(harness.secret_path(NS, "retain"))),
                         {"kept": "kept-value"})

    def test_secure_string_is_decrypted(self):
        self.param("/e2e/secure/db", js({"password": "s3cr3t-pw"}), type="SecureString")
        self.param("/e2e/secure/token", "tok-value", type="SecureString")
        key = "/e2e/secure/rotated"
        self.param(key, "old-secure", type="SecureString")
        self.param(key, "new-secure", type="SecureString")
        self.ps_store()
        self.es("secure", data=[ref("pw", "/e2e/secure/db", property="password"),
                                ref("token", "/e2e/secure/token"),
                                ref("old", key, version="1")])
        self.es("secure-extract", data_from=[{"extract": {"key": "/e2e/secure/db"}}])
        self.start_daemon()
        self.wait_data("secure", {"pw": "s3cr3t-pw", "token": "tok-value", "old": "old-secure"})
        self.wait_data("secure-extract", {"password": "s3cr3t-pw"})

    def test_metadata_policy_fetch_returns_the_tags(self):
        self.param("/e2e/meta/one", js({"x": "y"}), tags={"owner": "jdoe", "team": "blue"})
        self.ps_store()
        self.es("meta", data=[ref("owner", "/e2e/meta/one", property="owner",
                                  metadataPolicy="Fetch"),
                              ref("all", "/e2e/meta/one", metadataPolicy="Fetch"),
                              ref("value", "/e2e/meta/one", property="x")])
        self.es("no-tag", data=[ref("x", "/e2e/meta/one", property="nope",
                                    metadataPolicy="Fetch")])
        self.start_daemon()
        s = self.wait_secret("meta", lambda s: set(s.get("data") or {}) == {"owner", "all",
                                                                            "value"})
        data = harness.decode_data(s)
        self.assertEqual(data["owner"], "jdoe")
        self.assertEqual(json.loads(data["all"]), {"owner": "jdoe", "team": "blue"})
        self.assertEqual(data["value"], "y")
        self.assertGreaterEqual(self.calls("ListTagsForResource"), 1,
                                "tags come from ListTagsForResource")
        self.wait_condition("no-tag", "False", "SecretSyncedError")

    def test_batching_and_call_metrics(self):
        names = ["/e2e/batch/p%02d" % i for i in range(15)]
        for i, name in enumerate(names):
            self.param(name, "value-%d" % i)
        self.ps_store()
        es_names = ["es-%02d" % i for i in range(20)]
        for i, es in enumerate(es_names):
            self.es(es, data=[ref("v", names[i % 15])])
        d = self.start_daemon()
        self.wait_until(lambda: self.synced_count(es_names) == 20, timeout=30,
                        what="20 synced")
        for i, es in enumerate(es_names):
            self.wait_data(es, {"v": "value-%d" % (i % 15)})
        calls = self.ps_calls()
        self.assertEqual(calls.get("GetParameter", 0), 0, calls)
        self.assertGreaterEqual(calls.get("GetParameters", 0), 2, calls)
        self.assertLessEqual(calls.get("GetParameters", 0), 4,
                             "15 names in batches of up to 10: %r" % calls)
        self.wait_metric(d, "GetParameters", provider=PS)
        samples = [dict(lbls) for (name, lbls) in d.metrics() if name == CALLS]
        self.assertEqual({s.get("provider") for s in samples}, {PS},
                         "static keys: Parameter Store calls only")
        self.assertLessEqual({s.get("call") for s in samples}, set(PS_OPS))
        self.assert_no_sm_calls()

    def test_find_by_name_falls_back_to_describe_parameters_when_denied(self):
        for n in ("one", "two"):
            self.param("/e2e/denied/" + n, "d-" + n, type="SecureString")
        self.param("/e2e/other/x", "x")
        self.ps_store()
        self.aws.deny("GetParametersByPath", count=0)
        self.es("fallback", data_from=[{"find": {"path": "/e2e/denied",
                                                 "name": {"regexp": ".+"}}}])
        self.start_daemon()
        self.wait_data("fallback", {"_e2e_denied_one": "d-one", "_e2e_denied_two": "d-two"})
        calls = self.calls()
        self.assertGreaterEqual(calls.get("GetParametersByPath", 0), 1, calls)
        self.assertGreaterEqual(calls.get("DescribeParameters", 0), 1, calls)

    def test_throttled_get_parameters_recover(self):
        self.param("/e2e/faults/one", "f1")
        self.ps_store()
        self.es("faulted", data=[ref("v", "/e2e/faults/one")])
        self.aws.fault("GetParameters?", kind="throttle", count=2)
        d = self.start_daemon()
        self.wait_data("faulted", {"v": "f1"}, timeout=45)
        self.wait_metric(d, "GetParameters", provider=PS)
        self.assertGreaterEqual(self.calls("GetParameters") + self.calls("GetParameter"), 3,
                                "two throttled calls then a retry")


if __name__ == "__main__":
    harness.main()
