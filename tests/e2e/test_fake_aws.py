#!/usr/bin/env python3
"""Self-test of the fake AWS Secrets Manager + SSM Parameter Store + STS server
(tests/fakes/aws_server.py).

Run by ctest as `python3 tests/e2e/test_fake_aws.py --binary <extsecretd>`; the binary is not
used here (unknown arguments are ignored). Requests are signed by a small SigV4 signer written
here, independent of the fake's verifier, and checked against the get-vanilla vector of the
official suite (/work/shared/data/aws-sigv4-test-suite, falls back to the values quoted in
/work/shared/reference/protocols.md b.4).
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET
from urllib.parse import quote, urlencode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
from awsfake_client import start_aws  # noqa: E402

AKID, SECRET = "AKIDFAKETEST0001", "fake/secret+key"
ROLE = "arn:aws:iam::111122223333:role/eso-reader"
VECTOR_DIR = "/work/shared/data/aws-sigv4-test-suite/get-vanilla"
STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


def _h(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign(method, headers, body, akid, secret, region, service, amz_date):
    """Independent SigV4 signer for path "/" and no query; returns the signature parts."""
    canon = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    names = sorted(canon)
    creq = "\n".join([method, "/", "", "".join("%s:%s\n" % (n, canon[n]) for n in names),
                      ";".join(names), hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amz_date, scope,
                                            hashlib.sha256(creq.encode()).hexdigest())
    key = ("AWS4" + secret).encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = _h(key, part)
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    auth = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        akid, scope, ";".join(names), sig)
    return creq, sig, auth


def now_amz(offset=0):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + offset))


class Vector(unittest.TestCase):
    def test_signer_matches_get_vanilla(self):
        want_sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        ctx = {"credentials": {"access_key_id": "AKIDEXAMPLE",
                               "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
               "region": "us-east-1", "service": "service"}
        if os.path.isdir(VECTOR_DIR):
            with open(os.path.join(VECTOR_DIR, "context.json")) as f:
                ctx = json.load(f)
            with open(os.path.join(VECTOR_DIR, "header-signature.txt")) as f:
                want_sig = f.read().strip()
        hdrs = {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"}
        creq, sig, _ = sign("GET", hdrs, b"", ctx["credentials"]["access_key_id"],
                            ctx["credentials"]["secret_access_key"], ctx["region"],
                            ctx["service"], "20150830T123600Z")
        self.assertEqual(sig, want_sig)
        self.assertEqual(hashlib.sha256(creq.encode()).hexdigest(),
                         "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63")
        # the fake's verifier computes the same canonical request and signature
        from aws import sigv4
        fake_creq = sigv4.canonical_request("GET", "/", "", list(hdrs.items()),
                                            ["host", "x-amz-date"], b"")
        self.assertEqual(fake_creq, creq)
        self.assertEqual(sigv4.signature(ctx["credentials"]["secret_access_key"],
                                         "20150830T123600Z", "us-east-1", "service",
                                         fake_creq), want_sig)


class AwsCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.aws = start_aws(cls.tmp.name)
        cls.aws.add_credentials(AKID, SECRET)

    @classmethod
    def tearDownClass(cls):
        cls.aws.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.aws.clear_faults()

    def sm(self, op, body, akid=AKID, secret=SECRET, token=None, region="us-east-1",
           amz_date=None, tamper=False):
        payload = json.dumps(body).encode()
        hdrs = {"Host": self.aws.host, "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "secretsmanager." + op, "X-Amz-Date": amz_date or now_amz()}
        if token:
            hdrs["X-Amz-Security-Token"] = token
        _, _, hdrs["Authorization"] = sign("POST", hdrs, payload, akid, secret, region,
                                           "secretsmanager", hdrs["X-Amz-Date"])
        if tamper:
            payload = payload.replace(b"}", b' }')
        return self.aws.api("POST", "/", payload, hdrs)

    def ok(self, op, body, **kw):
        status, out = self.sm(op, body, **kw)
        self.assertEqual(status, 200, out)
        return out

    def err(self, op, body, code, status=400, **kw):
        st, out = self.sm(op, body, **kw)
        self.assertEqual((st, out.get("__type")), (status, code), out)
        self.assertIn("message", out)
        return out

    def sts(self, action, params, akid=None, secret=None, token=None):
        form = dict(Action=action, Version="2011-06-15")
        form.update(params)
        payload = urlencode(form, quote_via=quote).encode()
        hdrs = {"Host": self.aws.host,
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        if akid:
            hdrs["X-Amz-Date"] = now_amz()
            if token:
                hdrs["X-Amz-Security-Token"] = token
            _, _, hdrs["Authorization"] = sign("POST", hdrs, payload, akid, secret,
                                               "us-east-1", "sts", hdrs["X-Amz-Date"])
        status, text = self.aws.api("POST", "/", payload, hdrs)
        return status, ET.fromstring(text)

    def sts_error(self, root):
        return root.find(STS_NS + "Error/" + STS_NS + "Code").text

    def creds(self, root, action):
        c = root.find("%s%sResult/%sCredentials" % (STS_NS, action, STS_NS))
        return {e.tag[len(STS_NS):]: e.text for e in c}


class Signing(AwsCase):
    def test_signed_get_and_auth_errors(self):
        self.aws.put_secret("sig/one", string="v1")
        out = self.ok("GetSecretValue", {"SecretId": "sig/one"})
        self.assertEqual((out["SecretString"], out["VersionStages"]), ("v1", ["AWSCURRENT"]))
        self.assertEqual(self.aws.last_headers["Content-Type"], "application/x-amz-json-1.1")
        self.err("GetSecretValue", {"SecretId": "sig/one"}, "InvalidSignatureException",
                 secret="wrong")
        self.err("GetSecretValue", {"SecretId": "sig/one"}, "InvalidSignatureException",
                 tamper=True)
        out = self.err("GetSecretValue", {"SecretId": "sig/one"}, "InvalidSignatureException",
                       region="eu-west-1")
        self.assertIn("region", out["message"])
        out = self.err("GetSecretValue", {"SecretId": "sig/one"}, "InvalidSignatureException",
                       amz_date=now_amz(-600))
        self.assertIn("Signature expired", out["message"])
        self.err("GetSecretValue", {"SecretId": "sig/one"}, "UnrecognizedClientException",
                 akid="AKIDUNKNOWN")
        st, out = self.aws.api("POST", "/", b"{}", {
            "X-Amz-Target": "secretsmanager.GetSecretValue",
            "Content-Type": "application/x-amz-json-1.1"})
        self.assertEqual((st, out["__type"]), (400, "MissingAuthenticationTokenException"))
        reqs = [r for r in self.aws.requests() if r.get("secret_id") == "sig/one"]
        self.assertEqual(reqs[0]["access_key_id"], AKID)
        self.assertNotIn("v1", json.dumps(self.aws.requests()))

    def test_client_helper_signer(self):
        self.aws.put_secret("sig/helper", string="h")
        st, out = self.aws.sm("GetSecretValue", {"SecretId": "sig/helper"}, AKID, SECRET)
        self.assertEqual((st, out["SecretString"]), (200, "h"))


class Secrets(AwsCase):
    def test_versions_and_stages(self):
        v1 = self.aws.put_secret("rot/db", string="one")["version_id"]
        v2 = self.aws.put_secret("rot/db", string="two")["version_id"]
        self.assertEqual(self.ok("GetSecretValue", {"SecretId": "rot/db"})["SecretString"],
                         "two")
        prev = self.ok("GetSecretValue", {"SecretId": "rot/db", "VersionStage": "AWSPREVIOUS"})
        self.assertEqual((prev["SecretString"], prev["VersionId"]), ("one", v1))
        self.assertEqual(self.ok("GetSecretValue", {"SecretId": "rot/db", "VersionId": v1})[
            "VersionStages"], ["AWSPREVIOUS"])
        v3 = self.aws.put_secret("rot/db", string="three")["version_id"]
        desc = self.ok("DescribeSecret", {"SecretId": "rot/db"})
        self.assertEqual(desc["VersionIdsToStages"], {v3: ["AWSCURRENT"], v2: ["AWSPREVIOUS"]})
        self.err("GetSecretValue", {"SecretId": "rot/db", "VersionId": v1},
                 "ResourceNotFoundException")
        pending = self.aws.put_secret("rot/db", string="four", stage="AWSPENDING")
        self.assertEqual(self.ok("GetSecretValue", {"SecretId": "rot/db"})["SecretString"],
                         "three")
        self.assertEqual(self.ok("GetSecretValue", {"SecretId": "rot/db",
                                                    "VersionStage": "AWSPENDING"})["VersionId"],
                         pending["version_id"])
        by_arn = self.ok("GetSecretValue", {"SecretId": desc["ARN"]})
        self.assertEqual(by_arn["Name"], "rot/db")
        self.assertEqual(self.ok("GetSecretValue", {"SecretId": desc["ARN"][:-7]})["Name"],
                         "rot/db")

    def test_binary_tags_describe(self):
        self.aws.put_secret("bin/key", binary=b"\x00\xffraw", tags={"team": "blue"})
        out = self.ok("GetSecretValue", {"SecretId": "bin/key"})
        self.assertEqual(out["SecretBinary"], "AP9yYXc=")
        self.assertNotIn("SecretString", out)
        self.assertIsInstance(out["CreatedDate"], (int, float))
        desc = self.ok("DescribeSecret", {"SecretId": "bin/key"})
        self.assertEqual(desc["Tags"], [{"Key": "team", "Value": "blue"}])
        self.assertNotIn("DeletedDate", desc)
        self.err("GetSecretValue", {"SecretId": "no/such"}, "ResourceNotFoundException")

    def test_batch_get(self):
        self.aws.put_secret("batch/a", string="A", tags={"batch": "yes"})
        self.aws.put_secret("batch/b", string="B", tags={"batch": "yes"})
        out = self.ok("BatchGetSecretValue", {"SecretIdList": ["batch/a", "batch/missing",
                                                               "batch/b"]})
        self.assertEqual(sorted(v["SecretString"] for v in out["SecretValues"]), ["A", "B"])
        self.assertEqual(out["Errors"], [{"SecretId": "batch/missing",
                                          "ErrorCode": "ResourceNotFoundException",
                                          "Message": out["Errors"][0]["Message"]}])
        out = self.ok("BatchGetSecretValue", {"Filters": [{"Key": "tag-key",
                                                           "Values": ["batch"]}],
                                              "MaxResults": 1})
        self.assertEqual(len(out["SecretValues"]), 1)
        out2 = self.ok("BatchGetSecretValue", {"Filters": [{"Key": "tag-key",
                                                            "Values": ["batch"]}],
                                               "MaxResults": 1, "NextToken": out["NextToken"]})
        self.assertEqual({out["SecretValues"][0]["Name"], out2["SecretValues"][0]["Name"]},
                         {"batch/a", "batch/b"})
        self.assertNotIn("NextToken", out2)
        self.err("BatchGetSecretValue", {"SecretIdList": ["x"] * 21},
                 "InvalidParameterException")
        self.err("BatchGetSecretValue", {"SecretIdList": ["x"], "Filters": []},
                 "InvalidParameterException")

    def test_list_paging_and_filters(self):
        for i in range(5):
            self.aws.put_secret("page/s%d" % i, string=str(i),
                                tags={"env": "prod" if i % 2 else "dev"})
        names, token = [], None
        while True:
            body = {"Filters": [{"Key": "name", "Values": ["page/"]}], "MaxResults": 2}
            if token:
                body["NextToken"] = token
            out = self.ok("ListSecrets", body)
            self.assertLessEqual(len(out["SecretList"]), 2)
            names += [s["Name"] for s in out["SecretList"]]
            token = out.get("NextToken")
            if not token:
                break
        self.assertEqual(sorted(names), ["page/s%d" % i for i in range(5)])
        out = self.ok("ListSecrets", {"Filters": [{"Key": "name", "Values": ["page/"]},
                                                  {"Key": "tag-value", "Values": ["prod"]}]})
        self.assertEqual(sorted(s["Name"] for s in out["SecretList"]), ["page/s1", "page/s3"])
        self.assertIn("SecretVersionsToStages", out["SecretList"][0])
        out = self.ok("ListSecrets", {"Filters": [{"Key": "name", "Values": ["page/"]},
                                                  {"Key": "tag-value", "Values": ["!prod"]}]})
        self.assertEqual(len(out["SecretList"]), 3)
        self.err("ListSecrets", {"NextToken": "garbage"}, "InvalidNextTokenException")

    def test_marked_for_deletion(self):
        self.aws.put_secret("del/me", string="x")
        self.aws.delete_secret("del/me", recovery_window=7)
        self.err("GetSecretValue", {"SecretId": "del/me"}, "InvalidRequestException")
        self.assertIn("DeletedDate", self.ok("DescribeSecret", {"SecretId": "del/me"}))
        listed = lambda **kw: [s["Name"] for s in self.ok(  # noqa: E731
            "ListSecrets", dict({"Filters": [{"Key": "name", "Values": ["del/"]}]}, **kw))[
            "SecretList"]]
        self.assertEqual(listed(), [])
        self.assertEqual(listed(IncludePlannedDeletion=True), ["del/me"])
        out = self.ok("BatchGetSecretValue", {"SecretIdList": ["del/me"]})
        self.assertEqual(out["Errors"][0]["ErrorCode"], "InvalidRequestException")


class Sts(AwsCase):
    def test_assume_role_external_id_and_temp_creds(self):
        self.aws.role(ROLE, external_id="ext-123", allowed_tags=["team"])
        base = {"RoleArn": ROLE, "RoleSessionName": "eso"}
        st, root = self.sts("AssumeRole", base, AKID, SECRET)
        self.assertEqual((st, self.sts_error(root)), (403, "AccessDenied"))
        st, root = self.sts("AssumeRole", dict(base, ExternalId="wrong"), AKID, SECRET)
        self.assertEqual((st, self.sts_error(root)), (403, "AccessDenied"))
        st, root = self.sts("AssumeRole", dict(base, ExternalId="ext-123"), "AKIDBAD", "x")
        self.assertEqual((st, self.sts_error(root)), (403, "InvalidClientTokenId"))
        st, root = self.sts("AssumeRole", dict(base, ExternalId="ext-123"), AKID, "wrong")
        self.assertEqual((st, self.sts_error(root)), (403, "SignatureDoesNotMatch"))
        st, root = self.sts("GetCallerIdentity", {}, AKID, SECRET)
        self.assertEqual(st, 200, ET.tostring(root))
        self.assertEqual(root.find("%sGetCallerIdentityResult/%sAccount" % (STS_NS, STS_NS))
                         .text, "111122223333")
        params = dict(base, ExternalId="ext-123", DurationSeconds="900",
                      **{"Tags.member.1.Key": "team", "Tags.member.1.Value": "a",
                         "TransitiveTagKeys.member.1": "team"})
        st, root = self.sts("AssumeRole", params, AKID, SECRET)
        self.assertEqual(st, 200, ET.tostring(root))
        c = self.creds(root, "AssumeRole")
        self.assertTrue(c["AccessKeyId"].startswith("ASIA"))
        self.assertRegex(c["Expiration"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        entry = [r for r in self.aws.requests() if r.get("operation") == "AssumeRole"][-1]
        self.assertEqual(entry["session_tags"], {"team": "a"})
        self.assertEqual(entry["transitive_tag_keys"], ["team"])
        self.assertNotIn(c["SecretAccessKey"], json.dumps(self.aws.requests()))
        self.aws.put_secret("tmp/s", string="t")
        out = self.ok("GetSecretValue", {"SecretId": "tmp/s"}, akid=c["AccessKeyId"],
                      secret=c["SecretAccessKey"], token=c["SessionToken"])
        self.assertEqual(out["SecretString"], "t")
        self.err("GetSecretValue", {"SecretId": "tmp/s"}, "UnrecognizedClientException",
                 akid=c["AccessKeyId"], secret=c["SecretAccessKey"], token="bogus")
        self.aws.advance_clock(901)
        try:
            self.err("GetSecretValue", {"SecretId": "tmp/s"}, "ExpiredTokenException",
                     akid=c["AccessKeyId"], secret=c["SecretAccessKey"],
                     token=c["SessionToken"], amz_date=now_amz(901))
        finally:
            self.aws.advance_clock(-901)

    def test_web_identity(self):
        self.aws.role(ROLE)
        base = {"RoleArn": ROLE, "RoleSessionName": "irsa"}
        sub = "system:serviceaccount:es:eso"
        st, root = self.sts("AssumeRoleWithWebIdentity",
                            dict(base, WebIdentityToken=self.aws.make_jwt(sub=sub)))
        self.assertEqual(st, 200, ET.tostring(root))
        res = root.find(STS_NS + "AssumeRoleWithWebIdentityResult")
        self.assertEqual(res.find(STS_NS + "SubjectFromWebIdentityToken").text, sub)
        self.assertEqual(res.find(STS_NS + "Audience").text, "sts.amazonaws.com")
        c = self.creds(root, "AssumeRoleWithWebIdentity")
        self.aws.put_secret("irsa/s", string="i")
        self.assertEqual(self.ok("GetSecretValue", {"SecretId": "irsa/s"},
                                 akid=c["AccessKeyId"], secret=c["SecretAccessKey"],
                                 token=c["SessionToken"])["SecretString"], "i")
        for bad in (self.aws.make_jwt(key="other-key"), self.aws.make_jwt(aud="vault"),
                    "not.a.jwt"):
            st, root = self.sts("AssumeRoleWithWebIdentity", dict(base, WebIdentityToken=bad))
            self.assertEqual((st, self.sts_error(root)), (400, "InvalidIdentityToken"))
        st, root = self.sts("AssumeRoleWithWebIdentity",
                            dict(base, WebIdentityToken=self.aws.make_jwt(exp_in=-10)))
        self.assertEqual((st, self.sts_error(root)), (400, "ExpiredTokenException"))
        st, root = self.sts("AssumeRoleWithWebIdentity",
                            dict(base, RoleArn=ROLE + "-unknown",
                                 WebIdentityToken=self.aws.make_jwt()))
        self.assertEqual((st, self.sts_error(root)), (403, "AccessDenied"))


class Faults(AwsCase):
    def test_throttle_500_and_stats(self):
        self.aws.put_secret("fault/s", string="f")
        self.aws.reset_stats()
        self.aws.fault("GetSecretValue", kind="throttle", count=2)
        for _ in range(2):
            out = self.err("GetSecretValue", {"SecretId": "fault/s"}, "ThrottlingException")
            self.assertEqual(out["message"], "Rate exceeded")
        self.ok("GetSecretValue", {"SecretId": "fault/s"})
        self.aws.fault("GetSecretValue", kind="error")
        self.ok("DescribeSecret", {"SecretId": "fault/s"})
        self.err("GetSecretValue", {"SecretId": "fault/s"}, "InternalServiceError", 500)
        self.assertEqual(self.aws.stats()["calls"], {"GetSecretValue": 4, "DescribeSecret": 1})
        self.aws.role(ROLE)
        self.aws.fault("AssumeRoleWithWebIdentity", kind="throttle")
        st, root = self.sts("AssumeRoleWithWebIdentity",
                            {"RoleArn": ROLE, "RoleSessionName": "x",
                             "WebIdentityToken": self.aws.make_jwt()})
        self.assertEqual((st, self.sts_error(root)), (400, "Throttling"))
        self.assertTrue(self.aws.healthy())


class ParameterStore(AwsCase):
    """SSM (X-Amz-Target AmazonSSM.<Op>, scope service "ssm"), signed by the signer above."""

    def ssm(self, op, body, service="ssm", secret=SECRET):
        payload = json.dumps(body).encode()
        hdrs = {"Host": self.aws.host, "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "AmazonSSM." + op, "X-Amz-Date": now_amz()}
        _, _, hdrs["Authorization"] = sign("POST", hdrs, payload, AKID, secret, "us-east-1",
                                           service, hdrs["X-Amz-Date"])
        return self.aws.api("POST", "/", payload, hdrs)

    def pok(self, op, body):
        status, out = self.ssm(op, body)
        self.assertEqual(status, 200, out)
        return out

    def perr(self, op, body, code, status=400, **kw):
        st, out = self.ssm(op, body, **kw)
        self.assertEqual((st, out.get("__type")), (status, code), out)
        self.assertIn("message", out)
        return out

    def test_get_parameter_versions_and_signing(self):
        self.assertEqual(self.aws.put_parameter("/ps/v/one", "value1"), 1)
        self.assertEqual(self.aws.put_parameter("/ps/v/one", "value2", tags={"a": "b"}), 2)
        p = self.pok("GetParameter", {"Name": "/ps/v/one"})["Parameter"]
        self.assertEqual((p["Name"], p["Type"], p["Value"], p["Version"], p["DataType"]),
                         ("/ps/v/one", "String", "value2", 2, "text"))
        self.assertEqual(p["ARN"], "arn:aws:ssm:us-east-1:111122223333:parameter/ps/v/one")
        self.assertAlmostEqual(p["LastModifiedDate"], time.time(), delta=60)
        self.assertEqual(self.aws.last_headers["Content-Type"], "application/x-amz-json-1.1")
        p = self.pok("GetParameter", {"Name": "/ps/v/one:1"})["Parameter"]
        self.assertEqual((p["Name"], p["Value"], p["Version"], p["Selector"]),
                         ("/ps/v/one", "value1", 1, ":1"))
        out = self.perr("GetParameter", {"Name": "/ps/v/one:3"}, "ParameterVersionNotFound")
        self.assertIn("version 3", out["message"])
        self.perr("GetParameter", {"Name": "/ps/v/none"}, "ParameterNotFound")
        self.perr("GetParameter", {}, "ValidationException")
        self.perr("GetParameter", {"Name": "/ps/v/one"}, "InvalidSignatureException",
                  service="secretsmanager")
        self.perr("GetParameter", {"Name": "/ps/v/one"}, "InvalidSignatureException",
                  secret="wrong")
        st, out = self.aws.ssm("GetParameter", {"Name": "/ps/v/one"}, AKID, SECRET)
        self.assertEqual((st, out["Parameter"]["Value"]), (200, "value2"))
        st, out = self.aws.ssm("GetParameter", {"Name": "/ps/v/one"}, AKID, SECRET,
                               region="eu-west-1")
        self.assertEqual((st, out["__type"]), (400, "InvalidSignatureException"))
        self.assertNotIn("value2", json.dumps(self.aws.requests()))
        self.assertIn("/ps/v/one", [r.get("secret_id") for r in self.aws.requests()])

    def test_secure_string_decryption(self):
        self.aws.put_parameter("/ps/sec", "s3cr3t", type="SecureString")
        p = self.pok("GetParameter", {"Name": "/ps/sec", "WithDecryption": True})["Parameter"]
        self.assertEqual((p["Type"], p["Value"]), ("SecureString", "s3cr3t"))
        hidden = self.pok("GetParameter", {"Name": "/ps/sec"})["Parameter"]["Value"]
        self.assertNotIn("s3cr3t", hidden)
        self.assertTrue(hidden.startswith("AQICAH"), hidden)
        out = self.pok("GetParameters", {"Names": ["/ps/sec"]})
        self.assertEqual(out["Parameters"][0]["Value"], hidden)
        self.perr("GetParameter", {"Name": "/ps/sec", "WithDecryption": "yes"},
                  "ValidationException")

    def test_get_parameters_batch(self):
        self.aws.put_parameter("/ps/b/one", "1")
        self.aws.put_parameter("/ps/b/two", "2a")
        self.aws.put_parameter("/ps/b/two", "2b", type="StringList")
        out = self.pok("GetParameters", {"Names": ["/ps/b/one", "/ps/b/nope", "/ps/b/two",
                                                   "/ps/b/two:1", "/ps/b/one:9"]})
        self.assertEqual([(p["Name"], p["Value"], p["Type"]) for p in out["Parameters"]],
                         [("/ps/b/one", "1", "String"), ("/ps/b/two", "2b", "StringList"),
                          ("/ps/b/two", "2a", "StringList")])
        self.assertEqual(out["InvalidParameters"], ["/ps/b/nope", "/ps/b/one:9"])
        self.perr("GetParameters", {"Names": ["/ps/b/one"] * 11}, "ValidationException")
        self.perr("GetParameters", {"Names": []}, "ValidationException")

    def test_get_parameters_by_path_and_paging(self):
        for name in ("/ps/p/a", "/ps/p/b", "/ps/p/sub/c", "/ps/p/sub/deep/d", "/ps/px/e"):
            self.aws.put_parameter(name, "v" + name[-1], type="SecureString")
        out = self.pok("GetParametersByPath", {"Path": "/ps/p", "WithDecryption": True})
        self.assertEqual([(p["Name"], p["Value"]) for p in out["Parameters"]],
                         [("/ps/p/a", "va"), ("/ps/p/b", "vb")])
        self.assertNotIn("NextToken", out)
        names, token, pages = [], None, 0
        while True:
            body = {"Path": "/ps/p/", "Recursive": True, "MaxResults": 2}
            if token:
                body["NextToken"] = token
            out = self.pok("GetParametersByPath", body)
            names += [p["Name"] for p in out["Parameters"]]
            self.assertNotIn("va", [p["Value"] for p in out["Parameters"]])
            pages += 1
            token = out.get("NextToken")
            if not token:
                break
        self.assertEqual((names, pages), (["/ps/p/a", "/ps/p/b", "/ps/p/sub/c",
                                           "/ps/p/sub/deep/d"], 2))
        self.perr("GetParametersByPath", {"Path": "/ps/p", "MaxResults": 11},
                  "ValidationException")
        self.perr("GetParametersByPath", {"Path": "ps/p"}, "ValidationException")
        self.perr("GetParametersByPath", {"Path": "/ps/p", "NextToken": "garbage"},
                  "InvalidNextToken")
        root = self.pok("GetParametersByPath", {"Path": "/", "Recursive": True,
                                                "MaxResults": 10})
        self.assertTrue(root["Parameters"])

    def test_describe_parameters_filters_and_tags(self):
        self.aws.put_parameter("/ps/d/one", "1", tags={"team": "a", "env": "prod"})
        self.aws.put_parameter("/ps/d/two", "2", type="SecureString", tags={"team": "a"})
        self.aws.put_parameter("/ps/d/sub/three", "3", tags={"team": "b"})
        self.aws.put_parameter("/ps/d/one", "1b")

        def names(filters, **kw):
            out = self.pok("DescribeParameters", dict(ParameterFilters=filters, **kw))
            for p in out["Parameters"]:
                self.assertNotIn("Value", p)
            return [p["Name"] for p in out["Parameters"]]
        self.assertEqual(names([{"Key": "Path", "Option": "Recursive", "Values": ["/ps/d"]}]),
                         ["/ps/d/one", "/ps/d/sub/three", "/ps/d/two"])
        self.assertEqual(names([{"Key": "Path", "Values": ["/ps/d"]}]),
                         ["/ps/d/one", "/ps/d/two"])
        self.assertEqual(names([{"Key": "tag:team", "Option": "Equals", "Values": ["a"]},
                                {"Key": "Path", "Option": "Recursive", "Values": ["/ps"]}]),
                         ["/ps/d/one", "/ps/d/two"])
        self.assertEqual(names([{"Key": "tag:env", "Values": ["prod"]},
                                {"Key": "tag:team", "Values": ["a"]}]), ["/ps/d/one"])
        self.assertEqual(names([{"Key": "Name", "Option": "BeginsWith",
                                 "Values": ["/ps/d/s"]}]), ["/ps/d/sub/three"])
        self.assertEqual(names([{"Key": "Name", "Values": ["/ps/d/two"]}]), ["/ps/d/two"])
        out = self.pok("DescribeParameters", {"ParameterFilters": [
            {"Key": "Name", "Values": ["/ps/d/one"]}]})["Parameters"][0]
        self.assertEqual((out["Version"], out["Type"], out["DataType"]), (2, "String", "text"))
        first = self.pok("DescribeParameters", {"ParameterFilters": [
            {"Key": "Path", "Option": "Recursive", "Values": ["/ps/d"]}], "MaxResults": 2})
        self.assertEqual(len(first["Parameters"]), 2)
        rest = self.pok("DescribeParameters", {"ParameterFilters": [
            {"Key": "Path", "Option": "Recursive", "Values": ["/ps/d"]}], "MaxResults": 2,
            "NextToken": first["NextToken"]})
        self.assertEqual([p["Name"] for p in rest["Parameters"]], ["/ps/d/two"])
        self.perr("DescribeParameters", {"MaxResults": 51}, "ValidationException")
        self.perr("DescribeParameters", {"ParameterFilters": [{"Key": "Nope", "Values": []}]},
                  "ValidationException")
        self.perr("DescribeParameters", {"ParameterFilters": [
            {"Key": "Path", "Option": "Equals", "Values": ["/ps"]}]}, "ValidationException")
        tags = self.pok("ListTagsForResource", {"ResourceType": "Parameter",
                                                "ResourceId": "/ps/d/one"})["TagList"]
        self.assertEqual(tags, [{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "prod"}])
        self.perr("ListTagsForResource", {"ResourceType": "Parameter", "ResourceId": "/ps/x"},
                  "InvalidResourceId")
        self.perr("ListTagsForResource", {"ResourceType": "Document", "ResourceId": "/ps/d"},
                  "ValidationException")

    def test_delete_faults_denied_and_stats(self):
        self.aws.put_parameter("/ps/f/one", "f1")
        self.aws.reset_stats()
        self.aws.fault("GetParameter", kind="throttle", count=2)
        for _ in range(2):
            out = self.perr("GetParameter", {"Name": "/ps/f/one"}, "ThrottlingException")
            self.assertEqual(out["message"], "Rate exceeded")
        self.pok("GetParameter", {"Name": "/ps/f/one"})
        self.aws.fault("GetParameters$", kind="error")
        self.pok("GetParametersByPath", {"Path": "/ps/f"})
        self.perr("GetParameters", {"Names": ["/ps/f/one"]}, "InternalServerError", 500)
        self.aws.deny("GetParametersByPath", count=0)
        out = self.perr("GetParametersByPath", {"Path": "/ps/f"}, "AccessDeniedException")
        self.assertIn("is not authorized to perform: ssm:GetParametersByPath", out["message"])
        self.assertEqual(self.aws.last_headers["X-Amzn-ErrorType"], "AccessDeniedException")
        self.aws.clear_faults()
        self.assertEqual(self.aws.stats()["calls"], {"GetParameter": 3, "GetParameters": 1,
                                                     "GetParametersByPath": 2})
        self.aws.delete_parameter("/ps/f/one")
        self.perr("GetParameter", {"Name": "/ps/f/one"}, "ParameterNotFound")
        with self.assertRaises(RuntimeError):
            self.aws.delete_parameter("/ps/f/one")
        with self.assertRaises(RuntimeError):
            self.aws.put_parameter("/ps/f/bad", "x", type="Binary")
        self.assertEqual(self.aws.put_parameter("/ps/f/one", "again"), 1)


def iso_seconds(text):
    import calendar
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


class Denied(AwsCase):
    def test_denied_after_sigv4_then_consumed(self):
        self.aws.put_secret("deny/a", string="secret-deny-value")
        self.aws.reset_stats()
        self.aws.deny("BatchGetSecretValue")
        batch = {"SecretIdList": ["deny/a"]}
        # a call that fails SigV4 never reaches IAM, so it does not consume the rule
        self.err("BatchGetSecretValue", batch, "InvalidSignatureException", secret="wrong")
        self.ok("GetSecretValue", {"SecretId": "deny/a"})
        out = self.err("BatchGetSecretValue", batch, "AccessDeniedException")
        self.assertEqual(out["message"], "User: arn:aws:iam::111122223333:user/fake is not "
                         "authorized to perform: secretsmanager:BatchGetSecretValue because "
                         "no identity-based policy allows the secretsmanager:"
                         "BatchGetSecretValue action")
        self.assertEqual(self.aws.last_headers["X-Amzn-ErrorType"], "AccessDeniedException")
        self.assertEqual(self.ok("BatchGetSecretValue", batch)["SecretValues"][0][
            "SecretString"], "secret-deny-value")
        self.assertEqual(self.aws.stats()["calls"], {"BatchGetSecretValue": 3,
                                                     "GetSecretValue": 1})

    def test_persistent_switch_regex_and_resource(self):
        self.aws.put_secret("deny/b", string="b")
        rule = self.aws.fault("GetSecretValue|ListSecrets", kind="denied", count=0)
        self.assertIn(rule, [f["id"] for f in self.aws.faults()])
        for _ in range(3):
            out = self.err("GetSecretValue", {"SecretId": "deny/b"}, "AccessDeniedException")
            self.assertIn("secretsmanager:GetSecretValue on resource: deny/b because",
                          out["message"])
        self.err("ListSecrets", {}, "AccessDeniedException")
        self.ok("DescribeSecret", {"SecretId": "deny/b"})
        self.aws.clear_faults()
        self.ok("GetSecretValue", {"SecretId": "deny/b"})
        self.aws.deny(count=0)          # every API call; never the credential endpoints
        self.err("DescribeSecret", {"SecretId": "deny/b"}, "AccessDeniedException")
        self.assertEqual(self.aws.imds_token(60)[0], 200)
        self.aws.clear_faults()

    def test_sts_denied(self):
        self.aws.role(ROLE)
        self.aws.deny("AssumeRole", count=1)
        params = {"RoleArn": ROLE, "RoleSessionName": "denied"}
        st, root = self.sts("AssumeRole", params, AKID, SECRET)
        self.assertEqual((st, self.sts_error(root)), (403, "AccessDenied"))
        msg = root.find(STS_NS + "Error/" + STS_NS + "Message").text
        self.assertEqual(msg, "User: arn:aws:iam::111122223333:user/fake is not authorized to "
                         "perform: sts:AssumeRole on resource: " + ROLE)
        st, _ = self.sts("AssumeRole", params, AKID, SECRET)
        self.assertEqual(st, 200)
        self.aws.deny("AssumeRoleWithWebIdentity")
        st, root = self.sts("AssumeRoleWithWebIdentity",
                            dict(params, WebIdentityToken=self.aws.make_jwt()))
        self.assertEqual((st, self.sts_error(root)), (403, "AccessDenied"))

    def test_bad_kind_rejected(self):
        st, out = self.aws.api("POST", "/_fake/faults", {"kind": "nope"})
        self.assertEqual(st, 400, out)


class PodIdentity(AwsCase):
    ROLE = "arn:aws:iam::444455556666:role/pod-reader"

    def tearDown(self):
        self.aws.pod_identity(None)

    def test_auth_checks(self):
        st, out = self.aws.container_credentials("tok-1")
        self.assertEqual((st, out["code"]), (403, "AccessDeniedException"))
        self.aws.pod_identity("tok-1", self.ROLE)
        st, out = self.aws.container_credentials(None)
        self.assertEqual(st, 401)
        self.assertEqual(sorted(out), ["code", "message"])
        st, out = self.aws.container_credentials("tok-2")
        self.assertEqual((st, out["code"]), (403, "AccessDeniedException"))
        st, out = self.aws.container_credentials("Bearer tok-1")
        self.assertEqual(st, 403)
        st, _ = self.aws.api("POST", "/_pod_identity/credentials", b"",
                             {"Authorization": "tok-1"})
        self.assertEqual(st, 405)
        st, _ = self.aws.api("GET", "/_pod_identity/other", headers={"Authorization": "tok-1"})
        self.assertEqual(st, 404)
        self.aws.pod_identity(None)
        self.assertEqual(self.aws.container_credentials("tok-1")[0], 403)

    def test_credentials_work_and_expire(self):
        self.aws.pod_identity("tok-ok", self.ROLE, duration_s=1200)
        self.aws.put_secret("pod/s", string="pod-value")
        self.aws.reset_stats()
        st, c = self.aws.container_credentials("tok-ok")
        self.assertEqual(st, 200, c)
        self.assertEqual(self.aws.last_headers["Content-Type"], "application/json")
        self.assertEqual(sorted(c), ["AccessKeyId", "AccountId", "Expiration",
                                     "SecretAccessKey", "Token"])
        self.assertTrue(c["AccessKeyId"].startswith("ASIA"))
        self.assertEqual(c["AccountId"], "444455556666")
        self.assertLess(abs(iso_seconds(c["Expiration"]) - (time.time() + 1200)), 60)
        out = self.ok("GetSecretValue", {"SecretId": "pod/s"}, akid=c["AccessKeyId"],
                      secret=c["SecretAccessKey"], token=c["Token"])
        self.assertEqual(out["SecretString"], "pod-value")
        self.err("GetSecretValue", {"SecretId": "pod/s"}, "UnrecognizedClientException",
                 akid=c["AccessKeyId"], secret=c["SecretAccessKey"])
        st, c2 = self.aws.container_credentials("tok-ok")
        self.assertNotEqual(c2["AccessKeyId"], c["AccessKeyId"])
        self.assertEqual(self.aws.stats()["calls"], {"PodIdentity.credentials": 2,
                                                     "GetSecretValue": 2})
        log = json.dumps(self.aws.requests())
        for leak in ("tok-ok", c["SecretAccessKey"], c["Token"], c2["Token"], "pod-value"):
            self.assertNotIn(leak, log)
        entry = [r for r in self.aws.requests()
                 if r.get("operation") == "PodIdentity.credentials"][-1]
        self.assertEqual((entry["service"], entry["role_arn"], entry["access_key_id"]),
                         ("pod_identity", self.ROLE, c2["AccessKeyId"]))
        self.aws.advance_clock(1201)
        try:
            self.err("GetSecretValue", {"SecretId": "pod/s"}, "ExpiredTokenException",
                     akid=c["AccessKeyId"], secret=c["SecretAccessKey"], token=c["Token"],
                     amz_date=now_amz(1201))
        finally:
            self.aws.advance_clock(-1201)

    def test_default_duration_and_faults(self):
        self.aws.pod_identity("tok-d", self.ROLE)
        st, c = self.aws.container_credentials("tok-d")
        self.assertLess(abs(iso_seconds(c["Expiration"]) - (time.time() + 3600)), 60)
        self.aws.fault("PodIdentity.credentials", kind="unavailable")
        st, out = self.aws.container_credentials("tok-d")
        self.assertEqual((st, out["code"]), (503, "ServiceUnavailable"))
        self.assertEqual(self.aws.container_credentials("tok-d")[0], 200)


class Imds(AwsCase):
    def tearDown(self):
        self.aws.imds(None)

    def test_token_endpoint(self):
        for ttl in (None, 0, 21601, "abc"):
            st, _ = self.aws.imds_token(ttl)
            self.assertEqual(st, 400, ttl)
        st, _ = self.aws.api("GET", "/latest/api/token",
                             headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        self.assertEqual(st, 405)
        st, _ = self.aws.imds_token(60, headers={"X-Forwarded-For": "10.0.0.1"})
        self.assertEqual(st, 403)
        st, token = self.aws.imds_token(60)
        self.assertEqual(st, 200)
        self.assertIsInstance(token, str)
        self.assertGreater(len(token), 20)
        self.assertEqual(self.aws.last_headers["X-aws-ec2-metadata-token-ttl-seconds"], "60")
        self.assertTrue(self.aws.last_headers["Content-Type"].startswith("text/plain"))

    def test_role_and_credentials(self):
        _, token = self.aws.imds_token(21600)
        self.aws.reset_stats()
        self.assertEqual(self.aws.imds_get("iam/security-credentials/", token)[0], 404)
        self.aws.imds("node-role", duration_s=1800)
        self.assertEqual(self.aws.imds_get("iam/security-credentials/")[0], 401)
        self.assertEqual(self.aws.imds_get("iam/security-credentials/", "bogus")[0], 401)
        self.assertEqual(self.aws.imds_get("iam/security-credentials/", token),
                         (200, "node-role"))
        self.assertEqual(self.aws.imds_get("iam/security-credentials", token),
                         (200, "node-role"))
        self.assertEqual(self.aws.imds_get("iam/security-credentials/other", token)[0], 404)
        self.assertEqual(self.aws.imds_get("iam/security-credentials/node-role")[0], 401)
        st, doc = self.aws.imds_get("iam/security-credentials/node-role", token)
        self.assertEqual(st, 200, doc)
        self.assertEqual(sorted(doc), ["AccessKeyId", "Code", "Expiration", "LastUpdated",
                                       "SecretAccessKey", "Token", "Type"])
        self.assertEqual((doc["Code"], doc["Type"]), ("Success", "AWS-HMAC"))
        self.assertLess(abs(iso_seconds(doc["LastUpdated"]) - time.time()), 60)
        self.assertLess(abs(iso_seconds(doc["Expiration"]) - (time.time() + 1800)), 60)
        self.aws.put_secret("imds/s", string="imds-value")
        out = self.ok("GetSecretValue", {"SecretId": "imds/s"}, akid=doc["AccessKeyId"],
                      secret=doc["SecretAccessKey"], token=doc["Token"])
        self.assertEqual(out["SecretString"], "imds-value")
        log = json.dumps(self.aws.requests())
        for leak in (token, doc["SecretAccessKey"], doc["Token"], "imds-value"):
            self.assertNotIn(leak, log)
        self.assertEqual(self.aws.stats()["calls"], {"IMDS.role": 5, "IMDS.credentials": 3,
                                                     "GetSecretValue": 1})

    def test_token_expires_on_the_fake_clock(self):
        self.aws.imds("node-role")
        _, token = self.aws.imds_token(60)
        self.assertEqual(self.aws.imds_get("iam/security-credentials/", token)[0], 200)
        self.aws.advance_clock(61)
        try:
            self.assertEqual(self.aws.imds_get("iam/security-credentials/", token)[0], 401)
        finally:
            self.aws.advance_clock(-61)

    def test_faults_and_delay(self):
        self.aws.imds("node-role")
        self.aws.fault(kind="error", count=0)       # all API calls, not the metadata service
        self.assertEqual(self.aws.imds_token(60)[0], 200)
        self.aws.clear_faults()
        self.aws.fault("IMDS.token", kind="error")
        st, body = self.aws.imds_token(60)
        self.assertEqual(st, 500, body)
        self.aws.fault("IMDS.token", kind="throttle")
        self.assertEqual(self.aws.imds_token(60)[0], 429)
        self.aws.fault("IMDS.token", kind="throttle", count=1, delay_ms=300)
        started = time.monotonic()
        self.assertEqual(self.aws.imds_token(60)[0], 429)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)
        self.assertEqual(self.aws.imds_token(60)[0], 200)
        # kind "delay": a slow metadata service that still answers; a client with a short
        # timeout gives up first
        self.aws.fault("IMDS.role", kind="delay", delay_ms=2000)
        _, token = self.aws.imds_token(60)
        with self.assertRaises(OSError):
            self.aws.api("GET", "/latest/meta-data/iam/security-credentials/",
                         headers={"X-aws-ec2-metadata-token": token}, timeout=0.5)
        self.aws.fault("IMDS.role", kind="delay", delay_ms=200)
        self.assertEqual(self.aws.imds_get("iam/security-credentials/", token),
                         (200, "node-role"))
        self.assertEqual(self.aws.faults(), [])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary")
    parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]], verbosity=2)
