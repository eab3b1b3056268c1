#!/usr/bin/env python3
"""Self-test of the fake Kubernetes API server (tests/fakes/kube_apiserver.py).

Run by ctest as `python3 tests/e2e/test_fake_apiserver.py --binary <extsecretd>`; the binary
is not used here (unknown arguments are ignored). Starts the fake as a subprocess and checks
the contract in tests/fakes/KUBE_FAKE_API.md over real HTTP.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
from kubefake_client import start_fake  # noqa: E402

ES = "/apis/external-secrets.io/v1/namespaces/%s/externalsecrets"
SECRETS = "/api/v1/namespaces/%s/secrets"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def es_body(name, spec=None, status=None):
    body = {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": name},
            "spec": spec or {"refreshInterval": "1h", "secretStoreRef": {"name": "store"}}}
    if status is not None:
        body["status"] = status
    return body


class FakeTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.fake = start_fake(cls.tmp.name, bookmark_interval=0.2)

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()
        cls.tmp.cleanup()

    def ok(self, method, path, body=None, expect=200, **kw):
        status, out = self.fake.api(method, path, body, **kw)
        self.assertEqual(status, expect, out)
        return out

    def create_secret(self, ns, name, labels=None, **extra):
        body = {"metadata": {"name": name, "labels": labels or {}}, "data": {"k": b64(name)}}
        body.update(extra)
        return self.ok("POST", SECRETS % ns, body, 201)

    def next_event(self, w, timeout=5, skip_bookmarks=True):
        while True:
            ev = w.next(timeout)
            if ev is None or not (skip_bookmarks and ev["type"] == "BOOKMARK"):
                return ev


class AuthAndCrud(FakeTestCase):
    def test_auth_required(self):
        status, out = self.fake.api("GET", "/api/v1/secrets", token=None)
        self.assertEqual(status, 401)
        self.assertEqual((out["kind"], out["reason"], out["code"]), ("Status", "Unauthorized", 401))
        self.assertEqual(self.fake.api("GET", "/api/v1/secrets", token="wrong")[0], 401)
        self.assertEqual(self.fake.api("GET", "/_fake/healthz", token=None), (200, "ok"))

    def test_token_can_be_rotated(self):
        self.fake.set_tokens("new-token", "test-token")
        try:
            self.assertEqual(self.fake.api("GET", "/api/v1/secrets", token="new-token")[0], 200)
            self.fake.set_tokens("new-token")
            self.assertEqual(self.fake.api("GET", "/api/v1/secrets", token="test-token")[0], 401)
        finally:
            self.fake.set_tokens("test-token")

    def test_create_get_conflicts_and_not_found(self):
        obj = self.create_secret("crud", "one")
        self.assertEqual(obj["metadata"]["generation"], 1)
        self.assertEqual(obj["type"], "Opaque")
        for f in ("uid", "creationTimestamp", "resourceVersion"):
            self.assertIn(f, obj["metadata"])
        got = self.ok("GET", SECRETS % "crud" + "/one")
        self.assertEqual(got["metadata"]["uid"], obj["metadata"]["uid"])
        status, out = self.fake.api("POST", SECRETS % "crud", {"metadata": {"name": "one"}})
        self.assertEqual((status, out["reason"]), (409, "AlreadyExists"))
        status, out = self.fake.api("GET", SECRETS % "crud" + "/nope")
        self.assertEqual((status, out["message"]), (404, 'secrets "nope" not found'))
        gen = self.ok("POST", SECRETS % "crud", {"metadata": {"generateName": "gen-"}}, 201)
        self.assertTrue(gen["metadata"]["name"].startswith("gen-"))
        self.assertEqual(len(gen["metadata"]["name"]), 9)
        ns = self.ok("GET", "/api/v1/namespaces/crud")
        self.assertEqual(ns["status"]["phase"], "Active")

    def test_list_selectors_and_pagination(self):
        for i in range(25):
            self.create_secret("pg", "s-%02d" % i, {"app": "a" if i % 2 == 0 else "b"}
                               if i < 20 else {})
        names = lambda out: [o["metadata"]["name"] for o in out["items"]]
        out = self.ok("GET", SECRETS % "pg" + "?labelSelector=app%3Da")
        self.assertEqual(out["kind"], "SecretList")
        self.assertEqual(len(out["items"]), 10)
        self.assertEqual(out["items"][0]["kind"], "Secret")
        self.assertEqual(out["items"][0]["apiVersion"], "v1")
        count = lambda q: len(self.ok("GET", SECRETS % "pg" + "?labelSelector=" + q)["items"])
        self.assertEqual(count("app!%3Da"), 15)
        self.assertEqual(count("!app"), 5)
        self.assertEqual(count("app"), 20)
        self.assertEqual(count("app%20in%20(a,b),app!%3Db"), 10)
        self.assertEqual(count("app%20notin%20(a)"), 15)
        out = self.ok("GET", "/api/v1/secrets?fieldSelector=metadata.name%3Ds-03")
        self.assertEqual(names(out), ["s-03"])
        self.assertEqual(self.fake.api("GET", SECRETS % "pg" + "?labelSelector=a%3D%3D%3D")[0], 400)
        seen, cont, rvs = [], "", set()
        while True:
            query = "?limit=10" + ("&continue=" + cont if cont else "")
            out = self.ok("GET", SECRETS % "pg" + query)
            seen += names(out)
            rvs.add(out["metadata"]["resourceVersion"])
            cont = out["metadata"].get("continue")
            if not cont:
                break
            self.assertEqual(out["metadata"]["remainingItemCount"], 25 - len(seen))
        self.assertEqual(seen, ["s-%02d" % i for i in range(25)])
        self.assertEqual(len(rvs), 1)
        page = self.ok("GET", SECRETS % "pg" + "?limit=4&labelSelector=app%3Db")
        self.assertEqual(names(page), ["s-01", "s-03", "s-05", "s-07"])
        page = self.ok("GET", SECRETS % "pg" + "?limit=4&labelSelector=app%3Db&continue=" +
                       page["metadata"]["continue"])
        self.assertEqual(names(page), ["s-09", "s-11", "s-13", "s-15"])

    def test_put_stale_rv_conflict(self):
        obj = self.create_secret("put", "x")
        obj["data"] = {"k": b64("v2")}
        newer = self.ok("PUT", SECRETS % "put" + "/x", obj)
        self.assertEqual(newer["metadata"]["generation"], 2)
        status, out = self.fake.api("PUT", SECRETS % "put" + "/x", obj)
        self.assertEqual(status, 409)
        self.assertEqual(out["reason"], "Conflict")
        self.assertEqual(out["message"], 'Operation cannot be fulfilled on secrets "x": the object '
                         'has been modified; please apply your changes to the latest version and '
                         'try again')
        self.assertEqual(out["details"], {"name": "x", "kind": "secrets"})
        del obj["metadata"]["resourceVersion"]
        self.ok("PUT", SECRETS % "put" + "/x", obj)       # core kinds: unconditional update
        es = self.ok("POST", ES % "put", es_body("e"), 201)
        del es["metadata"]["resourceVersion"]
        status, out = self.fake.api("PUT", ES % "put" + "/e", es)
        self.assertEqual((status, out["reason"]), (422, "Invalid"))
        status, out = self.fake.api("PATCH", SECRETS % "put" + "/x", {"data": {}},
                                    content_type="application/strategic-merge-patch+json")
        self.assertEqual(status, 415)

    def test_status_subresource_and_generation(self):
        es = self.ok("POST", ES % "st", es_body("e", status={"refreshTime": "x"}), 201)
        self.assertNotIn("status", es)
        self.assertEqual(es["metadata"]["generation"], 1)
        es["status"] = {"binding": {"name": "ignored"}}
        es["metadata"]["labels"] = {"l": "1"}
        es = self.ok("PUT", ES % "st" + "/e", es)
        self.assertNotIn("status", es)
        self.assertEqual(es["metadata"]["generation"], 1)
        es["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
        es["metadata"]["labels"] = {"l": "changed-by-status"}
        es["spec"]["refreshInterval"] = "5m"
        st = self.ok("PUT", ES % "st" + "/e/status", es)
        self.assertEqual(st["status"]["conditions"][0]["type"], "Ready")
        self.assertEqual(st["metadata"]["labels"], {"l": "1"})
        self.assertEqual(st["spec"]["refreshInterval"], "1h")
        self.assertEqual(st["metadata"]["generation"], 1)
        st["spec"]["refreshInterval"] = "5m"
        main = self.ok("PUT", ES % "st" + "/e", st)
        self.assertEqual(main["metadata"]["generation"], 2)
        self.assertEqual(main["status"]["conditions"][0]["status"], "True")
        patched = self.ok("PATCH", ES % "st" + "/e", {"metadata": {"annotations": {"a": "b"}}})
        self.assertEqual(patched["metadata"]["generation"], 2)
        patched = self.ok("PATCH", ES % "st" + "/e/status",
                          {"status": {"refreshTime": "2026-01-01T00:00:00Z"}})
        self.assertEqual(patched["status"]["refreshTime"], "2026-01-01T00:00:00Z")
        self.assertEqual(patched["status"]["conditions"][0]["type"], "Ready")
        status, out = self.fake.api("PATCH", ES % "st" + "/e", {
            "metadata": {"resourceVersion": main["metadata"]["resourceVersion"]},
            "spec": {"refreshInterval": "1m"}})
        self.assertEqual((status, out["reason"]), (409, "Conflict"))
        raw = self.fake.objects(ES % "st" + "/e")[0]
        self.assertEqual(raw["status"]["refreshTime"], "2026-01-01T00:00:00Z")

    def test_v1beta1_rewrites_api_version(self):
        self.ok("POST", ES % "beta", es_body("e"), 201)
        beta = "/apis/external-secrets.io/v1beta1/namespaces/beta/externalsecrets"
        got = self.ok("GET", beta + "/e")
        self.assertEqual(got["apiVersion"], "external-secrets.io/v1beta1")
        out = self.ok("GET", beta)
        self.assertEqual(out["apiVersion"], "external-secrets.io/v1beta1")
        self.assertEqual(out["items"][0]["apiVersion"], "external-secrets.io/v1beta1")
        self.assertEqual(self.ok("GET", ES % "beta" + "/e")["apiVersion"], "external-secrets.io/v1")
        css = self.ok("POST", "/apis/external-secrets.io/v1beta1/clustersecretstores",
                      {"metadata": {"name": "c"}, "spec": {}}, 201)
        self.assertNotIn("namespace", css["metadata"])

    def test_secret_validation(self):
        path = SECRETS % "val"
        for body in ({"metadata": {"name": "b"}, "data": {"k": "!!notbase64"}},
                     {"metadata": {"name": "b"}, "data": {"bad/key": b64("x")}},
                     {"metadata": {"name": "b"}, "data": {"k": b64("x" * (1024 * 1024 + 1))}},
                     {"metadata": {"name": "B_ad"}},
                     {"metadata": {"name": "b"}, "type": "kubernetes.io/tls", "data": {}}):
            status, out = self.fake.api("POST", path, body)
            self.assertEqual((status, out["reason"]), (422, "Invalid"), body["metadata"])
        s = self.ok("POST", path, {"metadata": {"name": "s"}, "stringData": {"a": "hello"},
                                   "data": {"b": b64("x")}}, 201)
        self.assertEqual(s["data"], {"a": b64("hello"), "b": b64("x")})
        self.assertNotIn("stringData", s)
        imm = self.ok("POST", path, {"metadata": {"name": "imm"}, "immutable": True,
                                     "data": {"k": b64("1")}}, 201)
        imm["data"] = {"k": b64("2")}
        status, out = self.fake.api("PUT", path + "/imm", imm)
        self.assertEqual(status, 422)
        self.assertIn("field is immutable when `immutable` is set", out["message"])
        status, _ = self.fake.api("PATCH", path + "/s", {"type": "kubernetes.io/basic-auth"})
        self.assertEqual(status, 422)
        self.ok("PATCH", path + "/imm", {"metadata": {"labels": {"ok": "yes"}}})

    def test_owner_gc_and_finalizers(self):
        owner = self.ok("POST", ES % "gc", es_body("owner"), 201)
        other = self.ok("POST", ES % "gc", es_body("other"), 201)
        ref = lambda o: {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                         "name": o["metadata"]["name"], "uid": o["metadata"]["uid"],
                         "controller": True}
        self.ok("POST", SECRETS % "gc", {"metadata": {"name": "dep", "ownerReferences":
                                                       [ref(owner)]}}, 201)
        self.ok("POST", SECRETS % "gc", {"metadata": {"name": "two", "ownerReferences":
                                                       [ref(owner), ref(other)]}}, 201)
        self.ok("POST", SECRETS % "gc", {"metadata": {"name": "fin", "finalizers": ["x/y"],
                                                       "ownerReferences": [ref(owner)]}}, 201)
        deleted = self.ok("DELETE", ES % "gc" + "/owner")
        self.assertEqual(deleted["metadata"]["name"], "owner")
        self.assertEqual(self.fake.api("GET", SECRETS % "gc" + "/dep")[0], 404)
        self.assertEqual(self.fake.api("GET", SECRETS % "gc" + "/two")[0], 200)
        fin = self.ok("GET", SECRETS % "gc" + "/fin")
        self.assertIn("deletionTimestamp", fin["metadata"])
        status, _ = self.fake.api("PATCH", SECRETS % "gc" + "/fin",
                                  {"metadata": {"finalizers": ["x/y", "new/one"]}})
        self.assertEqual(status, 422)
        self.ok("PATCH", SECRETS % "gc" + "/fin", {"metadata": {"finalizers": None}})
        self.assertEqual(self.fake.api("GET", SECRETS % "gc" + "/fin")[0], 404)
        status, out = self.fake.api("DELETE", ES % "gc" + "/other", {
            "kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "wrong"}})
        self.assertEqual((status, out["reason"]), (409, "Conflict"))
        self.ok("DELETE", ES % "gc" + "/other")
        self.assertEqual(self.fake.api("GET", SECRETS % "gc" + "/two")[0], 404)
        # A dependent written after its owner was deleted is collected as well.
        self.ok("POST", SECRETS % "gc", {"metadata": {"name": "late", "ownerReferences":
                                                       [ref(owner)]}}, 201)
        self.assertEqual(self.fake.api("GET", SECRETS % "gc" + "/late")[0], 404)

    def test_namespace_delete_cascades(self):
        self.create_secret("gone", "a")
        self.ok("DELETE", "/api/v1/namespaces/gone")
        self.assertEqual(self.fake.api("GET", SECRETS % "gone" + "/a")[0], 404)
        self.assertEqual(self.fake.api("GET", "/api/v1/namespaces/gone")[0], 404)

    def test_token_request(self):
        path = "/api/v1/namespaces/tok/serviceaccounts/sa/token"
        req = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
               "spec": {"audiences": ["sts.amazonaws.com"], "expirationSeconds": 3600}}
        self.assertEqual(self.fake.api("POST", path, req)[0], 404)
        sa = self.ok("POST", "/api/v1/namespaces/tok/serviceaccounts", {"metadata": {"name": "sa"}},
                     201)
        out = self.ok("POST", path, req, 201)
        token = out["status"]["token"]
        self.assertTrue(out["status"]["expirationTimestamp"].endswith("Z"))
        head, payload, sig = token.split(".")
        want = hmac.new(self.fake.jwt_key.encode(), (head + "." + payload).encode(),
                        hashlib.sha256).digest()
        self.assertEqual(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)), want)
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        self.assertEqual(claims["sub"], "system:serviceaccount:tok:sa")
        self.assertEqual(claims["aud"], ["sts.amazonaws.com"])
        self.assertEqual(claims["kubernetes.io"]["serviceaccount"]["uid"], sa["metadata"]["uid"])
        self.assertAlmostEqual(claims["exp"] - claims["iat"], 3600)

    def test_request_log(self):
        self.fake.reset_requests()
        self.create_secret("log", "a")
        self.fake.api("PUT", SECRETS % "log" + "/a", {"metadata": {"name": "a",
                                                                   "resourceVersion": "1"}})
        self.fake.api("GET", "/api/v1/secrets?labelSelector=x")
        log = self.fake.requests()
        self.assertEqual([(e["method"], e["path"], e["status"]) for e in log], [
            ("POST", SECRETS % "log", 201), ("PUT", SECRETS % "log" + "/a", 409),
            ("GET", "/api/v1/secrets", 200)])
        self.assertEqual(log[2]["query"], "labelSelector=x")
        self.assertEqual(log[0]["content_type"], "application/json")
        self.assertEqual(self.fake.requests(since=log[1]["seq"])[0]["seq"], log[2]["seq"])


class Faults(FakeTestCase):
    def tearDown(self):
        self.fake.clear_faults()

    def test_500_for_exactly_n_requests(self):
        self.create_secret("flt", "a")
        self.fake.fault(method="GET", path_regex=r"/secrets/a$", status=500, count=2)
        codes = [self.fake.api("GET", SECRETS % "flt" + "/a")[0] for _ in range(3)]
        self.assertEqual(codes, [500, 500, 200])
        self.assertEqual(self.fake.api("GET", SECRETS % "flt")[0], 200)

    def test_429_with_retry_after(self):
        self.fake.fault(method="*", path_regex="/secrets", status=429, count=1, retry_after=3)
        status, out = self.fake.api("GET", SECRETS % "flt")
        self.assertEqual((status, out["reason"], out["code"]), (429, "TooManyRequests", 429))
        self.assertEqual(self.fake.last_headers.get("Retry-After"), "3")
        self.assertEqual(out["details"]["retryAfterSeconds"], 3)
        self.assertEqual(self.fake.api("GET", SECRETS % "flt")[0], 200)

    def test_delay_only_and_method_filter(self):
        self.fake.fault(method="POST", path_regex="/secrets", status=0, delay_ms=300, count=1)
        self.assertEqual(self.fake.api("GET", SECRETS % "flt")[0], 200)
        start = time.monotonic()
        self.create_secret("flt", "slow")
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.assertEqual(self.fake.faults(), [])


class Watches(FakeTestCase):
    def list_rv(self, ns):
        return self.ok("GET", SECRETS % ns)["metadata"]["resourceVersion"]

    def test_replay_stream_and_bookmarks(self):
        rv = self.list_rv("w1")
        self.create_secret("w1", "a", {"app": "x"})
        self.create_secret("w2", "other")
        w = self.fake.watch(SECRETS % "w1",
                            "watch=1&allowWatchBookmarks=true&resourceVersion=" + rv)
        self.assertEqual(w.status, 200)
        self.assertEqual(w.resp.getheader("Transfer-Encoding"), "chunked")
        ev = self.next_event(w)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "a"))
        self.assertEqual(ev["object"]["kind"], "Secret")
        self.ok("PATCH", SECRETS % "w1" + "/a", {"metadata": {"labels": {"app": "y"}}})
        self.assertEqual(self.next_event(w)["type"], "MODIFIED")
        self.ok("DELETE", SECRETS % "w1" + "/a")
        ev = self.next_event(w)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("DELETED", "a"))
        bm = self.next_event(w, skip_bookmarks=False)
        self.assertEqual(bm["type"], "BOOKMARK")
        self.assertEqual(set(bm["object"]["metadata"]), {"resourceVersion"})
        self.assertGreaterEqual(int(bm["object"]["metadata"]["resourceVersion"]),
                                int(ev["object"]["metadata"]["resourceVersion"]))
        w.close()

    def test_no_rv_gives_synthetic_added_and_selector_transitions(self):
        self.create_secret("w3", "in", {"app": "x"})
        self.create_secret("w3", "out", {"app": "z"})
        w = self.fake.watch(SECRETS % "w3", "watch=true&labelSelector=app%3Dx")
        ev = self.next_event(w)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "in"))
        patched = self.ok("PATCH", SECRETS % "w3" + "/in", {"metadata": {"labels": {"app": "q"}}})
        ev = self.next_event(w)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("DELETED", "in"))
        self.assertEqual(ev["object"]["metadata"]["resourceVersion"],
                         patched["metadata"]["resourceVersion"])
        self.ok("PATCH", SECRETS % "w3" + "/out", {"metadata": {"labels": {"app": "x"}}})
        ev = self.next_event(w)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "out"))
        w.close()

    def test_timeout_ends_cleanly(self):
        w = self.fake.watch(SECRETS % "w4", "watch=1&timeoutSeconds=1&resourceVersion=" +
                            self.list_rv("w4"))
        start = time.monotonic()
        self.assertIsNone(self.next_event(w, timeout=10))
        self.assertEqual(w.end, "clean")
        self.assertGreaterEqual(time.monotonic() - start, 0.8)

    def test_drop_closes_abruptly(self):
        base = self.fake.watches()["open"]
        w = self.fake.watch(SECRETS % "w5", "watch=1&resourceVersion=" + self.list_rv("w5"))
        self.assertTrue(self.fake.wait_watches(base + 1))
        self.fake.drop_watches()
        self.assertIsNone(self.next_event(w, timeout=10))
        self.assertEqual(w.end, "abrupt")
        deadline = time.monotonic() + 5
        while self.fake.watches()["open"] > base and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.fake.watches()["open"], base)

    def test_client_disconnect_is_noticed(self):
        base = self.fake.watches()["open"]
        w = self.fake.watch(SECRETS % "w8", "watch=1&resourceVersion=" + self.list_rv("w8"))
        self.assertTrue(self.fake.wait_watches(base + 1))
        w.close()
        deadline = time.monotonic() + 5
        while self.fake.watches()["open"] > base and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.fake.watches()["open"], base)

    def test_expire_gives_410_error_event_then_http_mode(self):
        old_rv = self.list_rv("w6")
        self.create_secret("w6", "a")
        w = self.fake.watch(SECRETS % "w6", "watch=1&resourceVersion=" + old_rv)
        self.assertEqual(self.next_event(w)["type"], "ADDED")
        self.fake.expire_watches()
        self.assertIsNone(self.next_event(w, timeout=10))
        self.assertEqual(w.end, "abrupt")
        w = self.fake.watch(SECRETS % "w6", "watch=1&resourceVersion=" + old_rv)
        self.assertEqual(w.status, 200)
        ev = self.next_event(w)
        self.assertEqual(ev["type"], "ERROR")
        self.assertEqual((ev["object"]["code"], ev["object"]["reason"]), (410, "Expired"))
        self.assertRegex(ev["object"]["message"],
                         r"^too old resource version: %s \(\d+\)$" % old_rv)
        self.assertIsNone(self.next_event(w))
        self.assertEqual(w.end, "clean")
        current = self.list_rv("w6")
        w = self.fake.watch(SECRETS % "w6", "watch=1&timeoutSeconds=1&resourceVersion=" + current)
        self.assertIsNone(self.next_event(w, timeout=10))
        self.assertEqual(w.end, "clean")
        self.fake.expire_watches(mode="http")
        status, out = self.fake.api("GET", SECRETS % "w6" + "?watch=1&resourceVersion=" + old_rv)
        self.assertEqual((status, out["reason"]), (410, "Expired"))
        w = self.fake.watch(SECRETS % "w6", "watch=1&resourceVersion=" + old_rv)
        self.assertEqual(self.next_event(w)["type"], "ERROR")
        w.close()

    def test_raw_chunked_framing(self):
        """Each event is its own chunk ending in a newline; read with raw http.client."""
        rv = self.list_rv("w7")
        conn = http.client.HTTPConnection("127.0.0.1", self.fake.port, timeout=10)
        conn.request("GET", SECRETS % "w7" + "?watch=1&timeoutSeconds=2&resourceVersion=" + rv,
                     headers={"Authorization": "Bearer " + self.fake.token})
        resp = conn.getresponse()
        self.create_secret("w7", "a")
        sock_file = resp.fp
        size = int(sock_file.readline().strip(), 16)
        chunk = sock_file.read(size)
        self.assertTrue(chunk.endswith(b"\n"))
        self.assertEqual(json.loads(chunk)["type"], "ADDED")
        conn.close()


class BoundedLog(unittest.TestCase):
    def test_old_rv_expires_when_log_is_trimmed(self):
        with tempfile.TemporaryDirectory() as tmp, start_fake(tmp, max_events=20) as fake:
            for i in range(40):
                fake.api("POST", SECRETS % "b", {"metadata": {"name": "s%d" % i}})
            w = fake.watch(SECRETS % "b", "watch=1&resourceVersion=3")
            ev = w.next(5)
            self.assertEqual((ev["type"], ev["object"]["code"]), ("ERROR", 410))
            w.close()
            info = fake.watches()
            w = fake.watch(SECRETS % "b", "watch=1&resourceVersion=" + info["compacted"])
            self.assertEqual(w.next(5)["type"], "ADDED")
            w.close()


class Tls(unittest.TestCase):
    def test_https_with_generated_ca(self):
        with tempfile.TemporaryDirectory() as tmp, start_fake(tmp, tls=True, token="tls") as fake:
            self.assertTrue(fake.url.startswith("https://127.0.0.1:"))
            status, out = fake.api("GET", "/api/v1/namespaces/default")
            self.assertEqual((status, out["metadata"]["name"]), (200, "default"))
            with open(fake.write_kubeconfig(os.path.join(tmp, "kubeconfig"))) as f:
                cfg = json.load(f)
            self.assertEqual(cfg["clusters"][0]["cluster"]["certificate-authority"], fake.ca_file)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary")
    parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]], verbosity=2)
