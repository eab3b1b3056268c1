"""Shared helpers for the AWS Secrets Manager end-to-end tests (test_aws_*.py).

AwsCase extends harness.E2ETestCase with a fake AWS (Secrets Manager + STS, SigV4-verifying:
tests/fakes/aws_server.py through awsfake_client.start_aws) per test, store builders for ESO's
spec.provider.aws (eso-api.md §3.1: static keys through auth.secretRef, IRSA through a referenced
ServiceAccount, role + externalID, session tags) and the daemon's environment. The daemon reaches
the fake through the endpoint override variables (daemon_env); it never sees the runner's own
AWS_* variables or shared config files. Everything goes through the fake's documented control
API (tests/fakes/AWS_FAKE_API.md), so the tests depend only on that contract.
"""

import os
import sys
import uuid
import xml.etree.ElementTree as ET

import harness
from harness import b64

import awsfake_client  # noqa: E402  (tests/fakes, on sys.path through harness)

NS = "e2e"
REGION = "us-east-1"
ACCOUNT = "111122223333"
SM = "AWS/SecretsManager"          # provider label of the Secrets Manager call metrics
STS = "AWS/STS"                    # provider label of the STS call metrics
CALLS = "externalsecret_provider_api_calls_count"
IRSA_SESSION = "external-secrets-provider-aws"   # ESO's session name for IRSA
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
DEAD_URL = "http://127.0.0.1:1"    # nothing listens there: a variable the daemon must not use
STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
SM_OPS = ("GetSecretValue", "BatchGetSecretValue", "DescribeSecret", "ListSecrets")
STS_OPS = ("AssumeRole", "AssumeRoleWithWebIdentity", "GetCallerIdentity")


def role_arn(name):
    return "arn:aws:iam::%s:role/%s" % (ACCOUNT, name)


def subject(ns, sa):
    return "system:serviceaccount:%s:%s" % (ns, sa)


def new_key_id(tag="E2E"):
    """A fresh AKIA-style access key id (not a secret: AWS logs it too)."""
    return ("AKIA" + tag + uuid.uuid4().hex.upper())[:20]


def sel(name, key, ns=None):
    out = {"name": name, "key": key}
    if ns is not None:
        out["namespace"] = ns
    return out


def secret_ref_auth(secret="aws-creds", ns=None, session_token=False):
    """auth.secretRef with keys `access-key`, `secret-access-key` (and `session-token`)."""
    ref = {"accessKeyIDSecretRef": sel(secret, "access-key", ns),
           "secretAccessKeySecretRef": sel(secret, "secret-access-key", ns)}
    if session_token:
        ref["sessionTokenSecretRef"] = sel(secret, "session-token", ns)
    return {"secretRef": ref}


def irsa_auth(sa, ns=None, audiences=None):
    """auth.jwt.serviceAccountRef (IRSA through a referenced ServiceAccount)."""
    ref = {"name": sa}
    if ns is not None:
        ref["namespace"] = ns
    if audiences is not None:
        ref["audiences"] = list(audiences)
    return {"jwt": {"serviceAccountRef": ref}}


def aws_store(name, auth=None, ns=NS, kind="SecretStore", region=REGION,
              service="SecretsManager", **extra):
    """A SecretStore/ClusterSecretStore for spec.provider.aws (auth=None: the default chain).
    extra: role, externalID, sessionTags, transitiveTagKeys, prefix, additionalRoles, ..."""
    provider = {"service": service, "region": region}
    if auth is not None:
        provider["auth"] = auth
    provider.update(extra)
    meta = {"name": name}
    if kind == "SecretStore":
        meta["namespace"] = ns
    return {"apiVersion": "external-secrets.io/v1", "kind": kind, "metadata": meta,
            "spec": {"provider": {"aws": provider}}}


def k8s_secret(ns, name, data):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "type": "Opaque", "data": {k: b64(v) for k, v in data.items()}}


def sts_credentials(xml_text, action):
    """{AccessKeyId, SecretAccessKey, SessionToken, Expiration} from an STS XML reply."""
    root = ET.fromstring(xml_text)
    creds = root.find("%s%sResult/%sCredentials" % (STS_NS, action, STS_NS))
    if creds is None:
        raise AssertionError("no credentials in the STS reply: %s" % xml_text[:300])
    return {e.tag[len(STS_NS):]: e.text for e in creds}


class AwsCase(harness.E2ETestCase):
    """A fake AWS per test plus fixture, store and daemon helpers."""

    def setUp(self):
        super().setUp()
        (self.tmp / "aws").mkdir()
        self.aws = awsfake_client.start_aws(str(self.tmp / "aws"), region=REGION)
        self.addCleanup(self.aws.stop)
        self.addCleanup(self._keep_aws_log)   # runs before stop (cleanups are LIFO)
        self.aws_log = []
        self.keys = {}                        # access key id -> secret access key

    def _keep_aws_log(self):
        try:
            self.aws_log = self.aws.requests()[-40:]
        except Exception:  # diagnostics only
            pass

    def run(self, result=None):
        """On a failure, also prints the tail of the fake AWS request log."""
        bad = (lambda r: len(r.failures) + len(r.errors)) if result is not None else None
        before = bad(result) if bad else 0
        out = super().run(result)
        if bad and bad(result) > before:
            for r in getattr(self, "aws_log", []):
                sys.stderr.write("  aws %s %s %s akid=%s id=%s -> %s %s\n" % (
                    r.get("seq"), r.get("service"), r.get("operation"), r.get("access_key_id"),
                    r.get("secret_id") or r.get("role_arn") or "", r.get("status"),
                    r.get("error") or ""))
        return out

    # --- fake AWS fixture -------------------------------------------------------------------
    def put(self, name, string=None, binary=None, tags=None, stage=None, description=None):
        """Creates the remote secret or adds a version: {"arn", "version_id"}."""
        return self.aws.put_secret(name, string=string, binary=binary, tags=tags, stage=stage,
                                   description=description)

    def add_keys(self, akid=None, secret=None):
        """Registers static keys with the fake; returns (access key id, secret access key)."""
        akid = akid or new_key_id()
        secret = secret or "e2e/" + uuid.uuid4().hex + "+key"
        self.aws.add_credentials(akid, secret)
        self.keys[akid] = secret
        return akid, secret

    def role(self, name, **kw):
        """Configures a role in the fake STS; returns its ARN."""
        arn = role_arn(name)
        self.aws.role(arn, **kw)
        return arn

    def temporary_credentials(self, akid, secret, role="e2e-temp"):
        """Temporary credentials from the fake STS (AssumeRole signed with akid/secret)."""
        arn = self.role(role)
        status, text = self.aws.sts("AssumeRole", {"RoleArn": arn, "RoleSessionName": "e2e"},
                                    akid, secret)
        self.assertEqual(status, 200, text)
        return sts_credentials(text, "AssumeRole")

    # --- Kubernetes side --------------------------------------------------------------------
    def put_secret(self, name, data, ns=NS):
        return self.cluster.apply(k8s_secret(ns, name, data))

    def put_keys_secret(self, name="aws-creds", ns=NS, akid=None, secret=None, token=None):
        data = {"access-key": akid, "secret-access-key": secret}
        if token is not None:
            data["session-token"] = token
        return self.put_secret(name, data, ns)

    def service_account(self, name, ns=NS, role=None, annotations=None):
        ann = dict(annotations or {})
        if role is not None:
            ann[ROLE_ARN_ANNOTATION] = role
        body = {"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": ns, "annotations": ann}}
        status, out = self.cluster.api("POST", "/api/v1/namespaces/%s/serviceaccounts" % ns,
                                       body)
        self.assertIn(status, (200, 201), out)

    def store(self, name="store", auth=None, **kw):
        return self.cluster.apply(aws_store(name, auth, **kw))

    def static_store(self, name="store", secret="aws-creds", ns=NS, kind="SecretStore",
                     secret_ns=None, **kw):
        """Fresh static keys, known to the fake, kept in Secret `secret` (in secret_ns or ns)
        and referenced by a store through auth.secretRef; returns the access key id."""
        akid, key = self.add_keys()
        self.put_keys_secret(secret, secret_ns or ns, akid, key)
        self.store(name, secret_ref_auth(secret, secret_ns), ns=ns, kind=kind, **kw)
        return akid

    def irsa_service_account(self, sa="eso-sa", ns=NS, role_name="irsa-reader"):
        """A role trusting the ServiceAccount's token subject, and the annotated SA."""
        arn = self.role(role_name, subjects=[subject(ns, sa)])
        self.service_account(sa, ns, role=arn)
        return arn

    # --- daemon -------------------------------------------------------------------------------
    def daemon_env(self, endpoints="url", **extra):
        """The daemon's environment: the runner's without AWS_* variables, no shared config
        files, IMDS disabled, and the fake's URL in the override variables of `endpoints`:
        "url" (AWS_ENDPOINT_URL), "aws" (AWS_ENDPOINT_URL_SECRETS_MANAGER + _STS, with
        AWS_ENDPOINT_URL pointing nowhere), "eso" (AWS_SECRETSMANAGER_ENDPOINT +
        AWS_STS_ENDPOINT, same), or None. extra overrides (a None value removes a variable)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["AWS_CONFIG_FILE"] = str(self.tmp / "no-aws-config")
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(self.tmp / "no-aws-credentials")
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        url = self.aws.url
        if endpoints == "url":
            env["AWS_ENDPOINT_URL"] = url
        elif endpoints == "aws":
            env.update(AWS_ENDPOINT_URL=DEAD_URL, AWS_ENDPOINT_URL_SECRETS_MANAGER=url,
                       AWS_ENDPOINT_URL_STS=url)
        elif endpoints == "eso":
            env.update(AWS_ENDPOINT_URL=DEAD_URL, AWS_SECRETSMANAGER_ENDPOINT=url,
                       AWS_STS_ENDPOINT=url)
        elif endpoints is not None:
            raise ValueError("endpoints: url, aws, eso or None")
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def start_daemon(self, *extra, ready=True, args=None, env=None, endpoints="url",
                     aws_env=None):
        """harness.start_daemon with daemon_env(endpoints, **aws_env) unless env is given."""
        if env is None:
            env = self.daemon_env(endpoints, **(aws_env or {}))
        return super().start_daemon(*extra, ready=ready, args=args, env=env)

    # --- observing the fake -------------------------------------------------------------------
    def aws_requests(self, since=0, operation=None, service=None):
        """The fake AWS's request log (AWS API calls only; the control API is not logged)."""
        return [r for r in self.aws.requests(since)
                if (operation is None or r.get("operation") == operation) and
                (service is None or r.get("service") == service)]

    def calls(self, op=None):
        """The fake's call counts (every routed call, failed ones too): {op: n}, or one op."""
        counts = self.aws.stats().get("calls") or {}
        return counts if op is None else counts.get(op, 0)

    def sm_calls(self):
        return sum(self.calls(op) for op in SM_OPS)

    def key_ids(self, service="secretsmanager", status=200):
        """Access key ids that signed successful calls of `service`."""
        return {r.get("access_key_id") for r in self.aws_requests(service=service)
                if r.get("status") == status}

    def wait_metric(self, d, call, status="success", provider=SM, at_least=1.0):
        return self.wait_until(
            lambda: (d.metric(CALLS, provider=provider, call=call, status=status) or 0.0)
            >= at_least, what="%s{provider=%s,call=%s,status=%s} >= %s"
            % (CALLS, provider, call, status, at_least))

    def warning_event(self, name, *words, ns=NS):
        """Waits for a Warning event about `name` whose text contains every word
        (case-insensitive); returns its text."""
        seen = []

        def find():
            seen[:] = [harness.event_text(e) for e in self.cluster.events(ns, name)
                       if e.get("type") == "Warning"]
            for text in seen:
                if all(w.lower() in text.lower() for w in words):
                    return text
            return None
        try:
            return self.wait_until(find, what="a Warning event for %s/%s with %r"
                                   % (ns, name, words))
        except AssertionError as e:
            raise AssertionError("%s; Warning events seen: %r" % (e, sorted(set(seen))))

    def assert_refused(self, name, *words, ns=NS):
        """Ready=False SecretSyncedError, no Secret, and a Warning event naming the reason."""
        self.wait_condition(name, "False", "SecretSyncedError", ns=ns)
        self.assertIsNone(self.cluster.get(harness.secret_path(ns, name)))
        return self.warning_event(name, *words, ns=ns)

    def synced_count(self, names=None, ns=None):
        rows = self.sql("SELECT namespace, name FROM sync_status WHERE last_success_at "
                        "IS NOT NULL")
        if names is None:
            return len(rows)
        return len([r for r in rows if r["name"] in names and (ns is None or
                                                                r["namespace"] == ns)])
