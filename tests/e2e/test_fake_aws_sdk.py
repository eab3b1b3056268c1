#!/usr/bin/env python3
"""Cross-check of the fake AWS server against AWS's own JavaScript SDK (issue 4).

The fake (tests/fakes/aws_server.py) is only useful if it accepts exactly what AWS signs and
answers in shapes AWS's clients parse. This test installs @aws-sdk/client-secrets-manager and
@aws-sdk/client-sts at the versions pinned in tests/e2e/aws_sdk/package.json (+ lock file)
with `npm ci` into a cache directory outside the repository, reused while the pins do not
change, then runs tests/e2e/aws_sdk/crosscheck.mjs against the fake and asserts the results
against what it put into the fake: GetSecretValue (string, binary, AWSPREVIOUS, VersionId,
ARN), BatchGetSecretValue (an Errors entry, Filters paging), ListSecrets (filters, MaxResults
paging), DescribeSecret, error names (InvalidSignatureException for a wrong secret key, ...),
SDK retries on the fake's throttling and 500 replies, STS AssumeRole + a session-token call,
and the SDK's default credential chain through the fake's EKS Pod Identity and IMDSv2
endpoints.

Skipped only when `node` or `npm` is not on PATH. Cache directory: $EXTSECRETD_AWS_SDK_CACHE,
else $XDG_CACHE_HOME/extsecretd-aws-sdk, else ~/.cache/extsecretd-aws-sdk, else
extsecretd-aws-sdk in the build directory (next to --binary); one subdirectory per hash of
the pins. Run by ctest as `python3 tests/e2e/test_fake_aws_sdk.py --binary <extsecretd>`
(the binary is not used). To move to another SDK version: change both pins in package.json,
then run `npm install --package-lock-only` in tests/e2e/aws_sdk to refresh the lock file.
"""

import argparse
import base64
import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SDK_SRC = os.path.join(HERE, "aws_sdk")
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
from awsfake_client import start_aws  # noqa: E402

AKID, SECRET = "AKIDSDKCROSSCHECK1", "sdk/cross+check/secret"
ROLE = "arn:aws:iam::111122223333:role/sdk-reader"
POD_ROLE = "arn:aws:iam::111122223333:role/sdk-pod"
INSTALL_TIMEOUT_S = 240
NODE_TIMEOUT_S = 120
MIN_NODE_MAJOR = 20             # the pinned SDK's "engines"
HAVE_NODE = shutil.which("node") is not None and shutil.which("npm") is not None
BUILD_DIR = None                # set from --binary


def _cache_root():
    explicit = os.environ.get("EXTSECRETD_AWS_SDK_CACHE")
    if explicit:
        os.makedirs(explicit, exist_ok=True)
        return explicit
    bases = [os.environ.get("XDG_CACHE_HOME"), os.path.join(os.path.expanduser("~"), ".cache"),
             BUILD_DIR, tempfile.gettempdir()]
    for base in bases:
        if not base:
            continue
        root = os.path.join(base, "extsecretd-aws-sdk")
        try:
            os.makedirs(root, exist_ok=True)
        except OSError:
            continue
        if os.access(root, os.W_OK):
            return root
    raise AssertionError("no writable cache directory for the AWS SDK")


def _pins_key():
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        with open(os.path.join(SDK_SRC, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()[:16]


def ensure_sdk():
    """-> (directory holding node_modules, seconds spent installing or 0 when reused)."""
    root = _cache_root()
    key = _pins_key()
    target = os.path.join(root, key)
    with open(target + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # concurrent runs install once
        if os.path.isdir(os.path.join(target, "node_modules")):
            return target, 0.0
        for stale in glob.glob(target + ".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        work = "%s.tmp-%d" % (target, os.getpid())
        os.makedirs(work)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(SDK_SRC, name), work)
        started = time.monotonic()
        try:
            proc = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts",
                 "--loglevel=error"], cwd=work, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                timeout=INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("npm ci did not finish in %d s:\n%s"
                                 % (INSTALL_TIMEOUT_S, e.output or "")) from None
        if proc.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            raise AssertionError("npm ci failed (exit %d) in %s:\n%s"
                                 % (proc.returncode, work, proc.stdout))
        if os.path.isdir(target):
            shutil.rmtree(target)
        os.rename(work, target)
        return target, time.monotonic() - started


def node_major():
    out = subprocess.run(["node", "--version"], stdout=subprocess.PIPE, text=True,
                         timeout=30).stdout.strip()
    return int(out.lstrip("v").split(".")[0]), out


@unittest.skipUnless(HAVE_NODE, "node and npm are not on PATH: the AWS SDK cross-check needs "
                     "them to install and run @aws-sdk/client-secrets-manager")
class SdkCrossCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        major, version = node_major()
        if major < MIN_NODE_MAJOR:
            raise AssertionError("node %s is too old: the pinned AWS SDK needs Node.js >= %d"
                                 % (version, MIN_NODE_MAJOR))
        cls.sdk_dir, spent = ensure_sdk()
        sys.stderr.write("aws sdk: %s %s\n" % (
            "installed in %.1f s into" % spent if spent else "reused", cls.sdk_dir))
        cls.tmp = tempfile.TemporaryDirectory()
        cls.aws = start_aws(cls.tmp.name)
        try:
            cls._populate()
        except Exception:
            cls.aws.stop()
            cls.tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.aws.stop()
        cls.tmp.cleanup()

    @classmethod
    def _populate(cls):
        aws = cls.aws
        aws.add_credentials(AKID, SECRET)
        cls.v1 = aws.put_secret("xc/string", string="value-one")["version_id"]
        put = aws.put_secret("xc/string", string='{"user":"sdk","password":"pw-2"}',
                             tags={"team": "xc"}, description="cross-check")
        cls.v2, cls.arn = put["version_id"], put["arn"]
        cls.blob = b"\x00\x01\xfe\xffbinary\n"
        aws.put_secret("xc/binary", binary=cls.blob, tags={"xc-batch": "1"})
        aws.put_secret("xc/batch2", string="b2", tags={"xc-batch": "2"})
        for i in range(5):
            aws.put_secret("xc/list/%d" % i, string="l%d" % i,
                           tags={"color": "blue" if i % 2 else "red"})
        aws.role(ROLE, external_id="ext-sdk-1", allowed_tags=["team"])

    # ---- running the SDK ---------------------------------------------------------------

    def node_env(self, extra=None):
        """A clean environment: no AWS_* variables or config files from the caller."""
        home = os.path.join(self.tmp.name, "home")
        os.makedirs(home, exist_ok=True)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
               "AWS_CONFIG_FILE": os.path.join(home, "no-config"),
               "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "no-credentials")}
        env.update(extra or {})
        return env

    def run_sdk(self, steps, env=None):
        plan = {"sdk_dir": self.sdk_dir, "endpoint": self.aws.url, "region": "us-east-1",
                "steps": steps}
        plan_path = os.path.join(self.tmp.name, "plan-%d.json" % time.monotonic_ns())
        with open(plan_path, "w") as f:
            json.dump(plan, f)
        proc = subprocess.run(["node", os.path.join(SDK_SRC, "crosscheck.mjs"), plan_path],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env or self.node_env(),
                              timeout=NODE_TIMEOUT_S)
        self.assertEqual(proc.returncode, 0, "crosscheck.mjs failed:\n%s\n%s"
                         % (proc.stdout, proc.stderr))
        return json.loads(proc.stdout)["results"]

    def ok(self, results, step_id):
        res = results[step_id]
        self.assertIn("ok", res, "%s: %s" % (step_id, res))
        return res["ok"]

    def error(self, results, step_id, name, status=400):
        res = results[step_id]
        self.assertIn("error", res, "%s: %s" % (step_id, res))
        self.assertEqual((res["error"]["name"], res["error"]["httpStatusCode"]), (name, status),
                         res)
        return res["error"]

    def static(self, secret=SECRET, akid=AKID):
        return {"static": {"accessKeyId": akid, "secretAccessKey": secret}}

    def sm(self, step_id, op, input_, creds=None, paginate=False):
        return {"id": step_id, "client": "sm", "op": op, "input": input_,
                "credentials": creds or self.static(), "paginate": paginate}

    def sdk_requests(self, since=0):
        return [r for r in self.aws.requests(since) if "aws-sdk-js" in r.get("user_agent", "")]

    # ---- tests -------------------------------------------------------------------------

    def test_get_secret_value(self):
        res = self.run_sdk([
            self.sm("current", "GetSecretValue", {"SecretId": "xc/string"}),
            self.sm("previous", "GetSecretValue", {"SecretId": "xc/string",
                                                   "VersionStage": "AWSPREVIOUS"}),
            self.sm("by_version", "GetSecretValue", {"SecretId": "xc/string",
                                                     "VersionId": self.v1}),
            self.sm("by_arn", "GetSecretValue", {"SecretId": self.arn}),
            self.sm("binary", "GetSecretValue", {"SecretId": "xc/binary"}),
            self.sm("missing", "GetSecretValue", {"SecretId": "xc/missing"}),
            self.sm("describe", "DescribeSecret", {"SecretId": "xc/string"}),
        ])
        cur = self.ok(res, "current")
        self.assertEqual((cur["Name"], cur["ARN"], cur["VersionId"], cur["VersionStages"]),
                         ("xc/string", self.arn, self.v2, ["AWSCURRENT"]))
        self.assertEqual(json.loads(cur["SecretString"]), {"user": "sdk", "password": "pw-2"})
        self.assertRegex(cur["CreatedDate"], r"^\d{4}-\d\d-\d\dT")     # parsed as a Date
        prev = self.ok(res, "previous")
        self.assertEqual((prev["SecretString"], prev["VersionId"], prev["VersionStages"]),
                         ("value-one", self.v1, ["AWSPREVIOUS"]))
        self.assertEqual(self.ok(res, "by_version")["SecretString"], "value-one")
        self.assertEqual(self.ok(res, "by_arn")["VersionId"], self.v2)
        binary = self.ok(res, "binary")
        self.assertEqual(base64.b64decode(binary["SecretBinary"]), self.blob)
        self.assertNotIn("SecretString", binary)
        self.error(res, "missing", "ResourceNotFoundException")
        desc = self.ok(res, "describe")
        self.assertEqual(desc["VersionIdsToStages"], {self.v2: ["AWSCURRENT"],
                                                      self.v1: ["AWSPREVIOUS"]})
        self.assertEqual((desc["Tags"], desc["Description"]),
                         ([{"Key": "team", "Value": "xc"}], "cross-check"))

    def test_batch_get_secret_value(self):
        res = self.run_sdk([
            self.sm("ids", "BatchGetSecretValue",
                    {"SecretIdList": ["xc/string", "xc/missing", "xc/binary"]}),
            self.sm("filters", "BatchGetSecretValue",
                    {"Filters": [{"Key": "tag-key", "Values": ["xc-batch"]}], "MaxResults": 1},
                    paginate=True),
        ])
        ids = self.ok(res, "ids")
        got = {v["Name"]: v for v in ids["SecretValues"]}
        self.assertEqual(sorted(got), ["xc/binary", "xc/string"])
        self.assertEqual(got["xc/string"]["VersionId"], self.v2)
        self.assertEqual(base64.b64decode(got["xc/binary"]["SecretBinary"]), self.blob)
        self.assertEqual(len(ids["Errors"]), 1)
        self.assertEqual((ids["Errors"][0]["SecretId"], ids["Errors"][0]["ErrorCode"]),
                         ("xc/missing", "ResourceNotFoundException"))
        self.assertTrue(ids["Errors"][0]["Message"])
        pages = res["filters"].get("pages")
        self.assertEqual(len(pages or []), 2, res["filters"])
        self.assertEqual(sorted(v["Name"] for p in pages for v in p["SecretValues"]),
                         ["xc/batch2", "xc/binary"])

    def test_list_secrets(self):
        name_filter = {"Key": "name", "Values": ["xc/list/"]}
        res = self.run_sdk([
            self.sm("paged", "ListSecrets", {"Filters": [name_filter], "MaxResults": 2},
                    paginate=True),
            self.sm("blue", "ListSecrets", {"Filters": [name_filter, {
                "Key": "tag-value", "Values": ["blue"]}], "SortBy": "name"}),
        ])
        pages = res["paged"].get("pages")
        self.assertEqual([len(p["SecretList"]) for p in pages or []], [2, 2, 1], res["paged"])
        entries = [s for p in pages for s in p["SecretList"]]
        self.assertEqual(sorted(s["Name"] for s in entries), ["xc/list/%d" % i for i in range(5)])
        for s in entries:
            self.assertEqual(list(s["SecretVersionsToStages"].values()), [["AWSCURRENT"]])
        self.assertEqual([s["Name"] for s in self.ok(res, "blue")["SecretList"]],
                         ["xc/list/1", "xc/list/3"])

    def test_signature_errors(self):
        res = self.run_sdk([
            self.sm("wrong_secret", "GetSecretValue", {"SecretId": "xc/string"},
                    self.static(secret="not-the-secret")),
            self.sm("unknown_key", "GetSecretValue", {"SecretId": "xc/string"},
                    self.static(akid="AKIDNOTKNOWN")),
            self.sm("good", "GetSecretValue", {"SecretId": "xc/string"}),
        ])
        wrong = self.error(res, "wrong_secret", "InvalidSignatureException")
        self.assertEqual(wrong["attempts"], 1)
        self.error(res, "unknown_key", "UnrecognizedClientException")
        self.assertEqual(self.ok(res, "good")["VersionId"], self.v2)

    def test_faults_denied_and_retries(self):
        self.aws.clear_faults()
        self.aws.deny("BatchGetSecretValue", count=1)
        self.aws.fault("GetSecretValue", kind="throttle", count=1)
        self.aws.fault("DescribeSecret", kind="error", count=1)
        since = self.aws.requests()[-1]["seq"] if self.aws.requests() else 0
        try:
            res = self.run_sdk([
                self.sm("denied", "BatchGetSecretValue", {"SecretIdList": ["xc/string"]}),
                self.sm("throttled", "GetSecretValue", {"SecretId": "xc/string"}),
                self.sm("error", "DescribeSecret", {"SecretId": "xc/string"}),
            ])
        finally:
            self.aws.clear_faults()
        denied = self.error(res, "denied", "AccessDeniedException")
        self.assertEqual(denied["attempts"], 1)
        self.assertIn("secretsmanager:BatchGetSecretValue", denied["message"])
        # the SDK recognises the fake's ThrottlingException and 500 as retryable
        self.assertEqual(self.ok(res, "throttled")["$metadata"]["attempts"], 2)
        self.assertEqual(self.ok(res, "error")["$metadata"]["attempts"], 2)
        ops = [(r["operation"], r["status"]) for r in self.sdk_requests(since)]
        self.assertEqual(ops, [("BatchGetSecretValue", 400), ("GetSecretValue", 400),
                               ("GetSecretValue", 200), ("DescribeSecret", 500),
                               ("DescribeSecret", 200)])

    def test_assume_role_session_token(self):
        assume = {"id": "assume", "client": "sts", "op": "AssumeRole", "credentials":
                  self.static(), "input": {"RoleArn": ROLE, "RoleSessionName": "sdk-check",
                                           "ExternalId": "ext-sdk-1", "DurationSeconds": 900,
                                           "Tags": [{"Key": "team", "Value": "xc"}],
                                           "TransitiveTagKeys": ["team"]}}
        temp = {"from_step": "assume"}
        res = self.run_sdk([
            assume,
            self.sm("temp_get", "GetSecretValue", {"SecretId": "xc/string"}, temp),
            {"id": "whoami", "client": "sts", "op": "GetCallerIdentity", "input": {},
             "credentials": temp},
            {"id": "bad_external_id", "client": "sts", "op": "AssumeRole",
             "credentials": self.static(), "input": dict(assume["input"], ExternalId="no")},
        ])
        out = self.ok(res, "assume")
        creds = out["Credentials"]
        self.assertTrue(creds["AccessKeyId"].startswith("ASIA"))
        self.assertRegex(creds["Expiration"], r"^\d{4}-\d\d-\d\dT")
        self.assertEqual(out["AssumedRoleUser"]["Arn"],
                         "arn:aws:sts::111122223333:assumed-role/sdk-reader/sdk-check")
        self.assertEqual(self.ok(res, "temp_get")["VersionId"], self.v2)
        who = self.ok(res, "whoami")
        self.assertEqual((who["Arn"], who["Account"]),
                         (out["AssumedRoleUser"]["Arn"], "111122223333"))
        self.error(res, "bad_external_id", "AccessDenied", 403)
        entries = self.sdk_requests()
        sts_entry = [r for r in entries if r["operation"] == "AssumeRole"
                     and r["status"] == 200][-1]
        self.assertEqual((sts_entry["session_tags"], sts_entry["transitive_tag_keys"],
                          sts_entry["external_id_sent"]), ({"team": "xc"}, ["team"], True))
        used = [r["access_key_id"] for r in entries if r["operation"] == "GetSecretValue"]
        self.assertIn(creds["AccessKeyId"], used)
        self.assertNotIn(creds["SecretAccessKey"], json.dumps(self.aws.requests()))

    def test_default_chain_pod_identity(self):
        token_file = os.path.join(self.tmp.name, "eks-pod-identity-token")
        with open(token_file, "w") as f:
            f.write("pod-identity-token-sdk")
        self.aws.pod_identity("pod-identity-token-sdk", POD_ROLE)
        self.aws.reset_stats()
        env = self.node_env({"AWS_CONTAINER_CREDENTIALS_FULL_URI": self.aws.pod_identity_url,
                             "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token_file})
        res = self.run_sdk([self.sm("via_pod", "GetSecretValue", {"SecretId": "xc/string"},
                                    "default")], env)
        self.assertEqual(self.ok(res, "via_pod")["VersionId"], self.v2)
        self.assertEqual(self.aws.stats()["calls"], {"PodIdentity.credentials": 1,
                                                     "GetSecretValue": 1})
        log = self.aws.requests()
        pod = [r for r in log if r["operation"] == "PodIdentity.credentials"][-1]
        get = [r for r in log if r["operation"] == "GetSecretValue"][-1]
        self.assertEqual((pod["status"], get["status"]), (200, 200))
        self.assertEqual(get["access_key_id"], pod["access_key_id"])
        self.assertNotIn("pod-identity-token-sdk", json.dumps(log))

    def test_default_chain_imds(self):
        self.aws.imds("sdk-node-role")
        self.aws.reset_stats()
        env = self.node_env({"AWS_EC2_METADATA_SERVICE_ENDPOINT": self.aws.imds_endpoint})
        try:
            res = self.run_sdk([self.sm("via_imds", "GetSecretValue",
                                        {"SecretId": "xc/string"}, "default")], env)
        finally:
            self.aws.imds(None)
        self.assertEqual(self.ok(res, "via_imds")["VersionId"], self.v2)
        self.assertEqual(self.aws.stats()["calls"], {"IMDS.token": 1, "IMDS.role": 1,
                                                     "IMDS.credentials": 1,
                                                     "GetSecretValue": 1})
        log = self.aws.requests()
        creds = [r for r in log if r["operation"] == "IMDS.credentials"][-1]
        self.assertEqual((creds["status"], creds["role_name"]), (200, "sdk-node-role"))
        get = [r for r in log if r["operation"] == "GetSecretValue"][-1]
        self.assertEqual(get["access_key_id"], creds["access_key_id"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary")
    args, _ = parser.parse_known_args()
    if args.binary:
        BUILD_DIR = os.path.dirname(os.path.abspath(args.binary))
    unittest.main(argv=[sys.argv[0]], verbosity=2)
