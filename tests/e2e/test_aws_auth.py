#!/usr/bin/env python3
"""e2e: every credential source of the AWS provider (issue 4, eso-api.md §3.1/§6.2) against the
SigV4-verifying fake: static keys through auth.secretRef (with and without a session token),
the referent ClusterSecretStore with static keys resolved in each ExternalSecret's namespace
(C01), IRSA through a referenced ServiceAccount on a ClusterSecretStore (TokenRequest with the
STS audience, AssumeRoleWithWebIdentity with ESO's session name), AssumeRole with an externalID
and with session tags / transitive tag keys (visible in the fake STS's request log), the default
chain from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and from AWS_WEB_IDENTITY_TOKEN_FILE +
AWS_ROLE_ARN, EKS Pod Identity and IMDSv2. The fake's request log names the access key id that
signed each call, so every test checks whose credentials reached Secrets Manager. Bad credentials
give Ready=False with a Warning event naming the cause; new keys in the referenced Secret are
used without a restart; one STS call per credential lifetime, not per sync. Each endpoint
override variable is used at least once (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SECRETS_MANAGER +
AWS_ENDPOINT_URL_STS, ESO's AWS_SECRETSMANAGER_ENDPOINT + AWS_STS_ENDPOINT).
"""

import uuid

import harness
from harness import external_secret, ref
from aws_support import (CALLS, DEAD_URL, IRSA_SESSION, NS, STS, AwsCase, irsa_auth, new_key_id,
                         role_arn, secret_ref_auth, subject)

APP = {"value": "app-value"}


def sts_ok(entries):
    return [r for r in entries if r.get("status") == 200]


class AuthBase(AwsCase):

    def setUp(self):
        super().setUp()
        self.put("app", "app-value")

    def es(self, name, store="store", ns=NS, kind="SecretStore", refresh="1h", **kw):
        kw.setdefault("data", [ref("value", "app")])
        self.cluster.apply(external_secret(ns, name, store=store, store_kind=kind,
                                           refresh=refresh, target={"name": name}, **kw))

    def keys_secret(self, name="aws-creds", ns=NS):
        """Fresh static keys known to the fake, kept in Secret `name`; the access key id."""
        akid, key = self.add_keys()
        self.put_keys_secret(name, ns, akid, key)
        return akid

    def sm_key_ids(self):
        return self.key_ids("secretsmanager")

    def token_requests(self, ns, sa):
        path = "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (ns, sa)
        return [r for r in self.cluster.daemon_requests()
                if r["method"] == "POST" and r["path"] == path]


class StaticKeys(AuthBase):

    def test_secret_ref_with_and_without_session_token_and_bad_keys(self):
        akid = self.static_store()
        base_akid, base_key = self.add_keys()
        temp = self.temporary_credentials(base_akid, base_key)
        self.put_keys_secret("aws-temp", akid=temp["AccessKeyId"],
                             secret=temp["SecretAccessKey"], token=temp["SessionToken"])
        self.store("temp", secret_ref_auth("aws-temp", session_token=True))
        wrong_akid, _ = self.add_keys()
        self.put_keys_secret("aws-wrong", akid=wrong_akid, secret="not-the-secret-key")
        self.store("wrong", secret_ref_auth("aws-wrong"))
        self.put_keys_secret("aws-unknown", akid=new_key_id("UNKN"), secret="whatever")
        self.store("unknown", secret_ref_auth("aws-unknown"))
        self.put_secret("aws-partial", {"access-key": akid})
        self.store("missing-key", secret_ref_auth("aws-partial"))
        for name in ("store", "temp", "wrong", "unknown", "missing-key"):
            self.es(name, store=name)
        self.start_daemon()
        self.wait_data("store", APP)
        self.wait_data("temp", APP)
        self.wait_condition("store", "True", "SecretSynced")
        self.assert_refused("wrong", "InvalidSignatureException")
        self.assert_refused("unknown", "UnrecognizedClientException")
        self.assert_refused("missing-key", "aws-partial")
        used = self.sm_key_ids()
        self.assertEqual(used, {akid, temp["AccessKeyId"]})
        self.assertNotIn(base_akid, used)

    def test_referent_cluster_store_static_keys_c01(self):
        akids = {ns: self.keys_secret(ns=ns) for ns in ("team-a", "team-b")}
        self.put("e2e-one", "bar")
        self.put("e2e-other", "bar")
        self.store("css", secret_ref_auth(), kind="ClusterSecretStore")
        for ns in ("team-a", "team-b", "team-c"):
            self.es("c01", store="css", ns=ns, kind="ClusterSecretStore",
                    data=[ref("e2e-one", "e2e-one"), ref("e2e-other", "e2e-other")])
        self.start_daemon()
        for ns in ("team-a", "team-b"):
            self.wait_data("c01", {"e2e-one": "bar", "e2e-other": "bar"}, ns=ns)
        self.assert_refused("c01", "aws-creds", ns="team-c")
        self.assertEqual(self.sm_key_ids(), set(akids.values()))

    def test_new_keys_in_the_secret_are_used_without_restart(self):
        old = self.static_store()
        self.es("app", refresh="1s")
        d = self.start_daemon()
        self.wait_data("app", APP)
        new_akid, new_key = self.add_keys()
        self.put_keys_secret(akid=new_akid, secret=new_key)
        self.wait_until(lambda: new_akid in self.sm_key_ids(), timeout=45,
                        what="a Secrets Manager call signed with the new key")
        self.put("app", "rotated")
        self.wait_data("app", {"value": "rotated"})
        self.assertIn(old, self.sm_key_ids(), "the old key was used first")
        self.assertIsNone(d.proc.poll(), "the same daemon, no restart")
        self.assertEqual(len(self.daemons), 1)


class Irsa(AuthBase):

    def test_irsa_through_a_referenced_service_account_on_a_cluster_store(self):
        sa_ns = "irsa-system"
        arn = self.irsa_service_account("eso-sa", ns=sa_ns)
        self.service_account("no-role", ns=sa_ns)
        self.service_account("stranger", ns=sa_ns, role=arn)   # the role does not trust it
        self.put("e2e-one", "bar")
        self.put("c08", '{"name":"great-name","surname":"great-surname"}')
        self.store("irsa", irsa_auth("eso-sa", ns=sa_ns), kind="ClusterSecretStore")
        self.store("no-role", irsa_auth("no-role", ns=sa_ns), kind="ClusterSecretStore")
        self.store("stranger", irsa_auth("stranger", ns=sa_ns), kind="ClusterSecretStore")
        for ns in (NS, "team-b"):
            self.es("irsa", store="irsa", ns=ns, kind="ClusterSecretStore",
                    data=[ref("e2e-one", "e2e-one")], data_from=[{"extract": {"key": "c08"}}])
        self.es("no-role", store="no-role", kind="ClusterSecretStore")
        self.es("stranger", store="stranger", kind="ClusterSecretStore")
        d = self.start_daemon()
        expected = {"e2e-one": "bar", "name": "great-name", "surname": "great-surname"}
        for ns in (NS, "team-b"):
            self.wait_data("irsa", expected, ns=ns)
        self.assert_refused("no-role", "eks.amazonaws.com/role-arn")
        self.assert_refused("stranger", "AssumeRoleWithWebIdentity")
        web = sts_ok(self.aws_requests(operation="AssumeRoleWithWebIdentity"))
        self.assertTrue(web)
        self.assertEqual({(r["role_arn"], r["subject"], r["session_name"]) for r in web},
                         {(arn, subject(sa_ns, "eso-sa"), IRSA_SESSION)})
        self.assertLessEqual(len(web), 2, "at most one per client (ES namespace)")
        self.assertTrue(1 <= len(self.token_requests(sa_ns, "eso-sa")) <= 2)
        used = self.sm_key_ids()
        self.assertTrue(used and all(k.startswith("ASIA") for k in used),
                        "Secrets Manager sees only the assumed role's credentials: %r" % used)
        self.wait_metric(d, "AssumeRoleWithWebIdentity", provider=STS)


class AssumeRole(AuthBase):

    def test_external_id_with_eso_endpoint_variables(self):
        base = self.keys_secret()
        arn = self.role("ext-reader", external_id="ext-123")
        for n in ("one", "other"):
            self.put("tagged-" + n, "bar", tags={"namespace": "e2e-test"})
        self.store("role", secret_ref_auth(), role=arn, externalID="ext-123")
        self.store("wrong-ext", secret_ref_auth(), role=arn, externalID="ext-999")
        self.es("role", store="role", data=[ref("one", "tagged-one"), ref("other", "tagged-other")])
        self.es("wrong-ext", store="wrong-ext")
        d = self.start_daemon(endpoints="eso")
        self.wait_data("role", {"one": "bar", "other": "bar"})
        text = self.assert_refused("wrong-ext", "AssumeRole")
        self.assertNotIn("ext-999", text, "the message names the role, not the external id")
        ok = sts_ok(self.aws_requests(operation="AssumeRole"))
        self.assertEqual(len(ok), 1, "one AssumeRole for the working store")
        self.assertEqual((ok[0]["role_arn"], ok[0]["access_key_id"], ok[0]["external_id_sent"]),
                         (arn, base, True))
        used = self.sm_key_ids()
        self.assertNotIn(base, used, "reads use the assumed role, not the base keys")
        self.assertTrue(used and all(k.startswith("ASIA") for k in used), used)
        self.wait_metric(d, "AssumeRole", provider=STS)
        self.wait_metric(d, "AssumeRole", status="error", provider=STS)

    def test_session_tags_with_aws_endpoint_variables(self):
        base = self.keys_secret()
        arn = self.role("tag-reader", allowed_tags=["namespace", "team"])
        for n in ("one", "other"):
            self.put("tagged-" + n, "bar", tags={"namespace": "e2e-test"})
        self.store("tags", secret_ref_auth(), role=arn,
                   sessionTags=[{"key": "namespace", "value": "e2e-test"},
                                {"key": "team", "value": "blue"}],
                   transitiveTagKeys=["namespace"])
        self.store("bad-tag", secret_ref_auth(), role=arn,
                   sessionTags=[{"key": "forbidden", "value": "x"}])
        self.es("tags", store="tags", data=[ref("one", "tagged-one"), ref("other", "tagged-other")])
        self.es("bad-tag", store="bad-tag")
        self.start_daemon(endpoints="aws")
        self.wait_data("tags", {"one": "bar", "other": "bar"})
        self.assert_refused("bad-tag", "AssumeRole")
        ok = sts_ok(self.aws_requests(operation="AssumeRole"))
        self.assertEqual(len(ok), 1)
        self.assertEqual(ok[0]["session_tags"], {"namespace": "e2e-test", "team": "blue"})
        self.assertEqual(ok[0]["transitive_tag_keys"], ["namespace"])
        self.assertEqual(ok[0]["access_key_id"], base)

    def test_sts_calls_stay_at_one_over_many_syncs(self):
        self.keys_secret()
        arn = self.role("counted")
        self.irsa_service_account("eso-sa")
        self.store("role", secret_ref_auth(), role=arn)
        self.store("irsa", irsa_auth("eso-sa"))
        names = []
        for store in ("role", "irsa"):
            for i in range(5):
                self.put("%s-%d" % (store, i), "v%d" % i)
                names.append("%s-%d" % (store, i))
                self.es(names[-1], store=store, refresh="1s",
                        data=[ref("value", "%s-%d" % (store, i))])
        d = self.start_daemon()

        def synced_often():
            rows = self.sql("SELECT name, count(*) AS n FROM sync_history WHERE outcome IN "
                            "('written', 'unchanged') GROUP BY name")
            return len([r for r in rows if r["n"] >= 12]) == len(names)
        self.wait_until(synced_often, timeout=60, what="12 syncs of every ExternalSecret")
        self.assertEqual(self.calls("AssumeRole"), 1, "one AssumeRole per credential lifetime")
        self.assertEqual(self.calls("AssumeRoleWithWebIdentity"), 1)
        self.assertEqual(len(self.token_requests(NS, "eso-sa")), 1, "one TokenRequest")
        for call in ("AssumeRole", "AssumeRoleWithWebIdentity"):
            self.assertEqual(d.metric(CALLS, provider=STS, call=call, status="success"), 1.0)
        self.assertEqual(self.sql("SELECT count(*) AS n FROM sync_history WHERE outcome = "
                                  "'failed'")[0]["n"], 0)


class DefaultChain(AuthBase):

    def test_environment_keys_with_and_without_a_role(self):
        akid, key = self.add_keys()
        arn = self.role("env-role")
        self.store("env")
        self.store("env-role", role=arn)
        self.es("env", store="env")
        self.es("env-role", store="env-role")
        self.start_daemon(aws_env={"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": key})
        self.wait_data("env", APP)
        self.wait_data("env-role", APP)
        ok = sts_ok(self.aws_requests(operation="AssumeRole"))
        self.assertEqual([(r["role_arn"], r["access_key_id"]) for r in ok], [(arn, akid)])
        used = self.sm_key_ids()
        self.assertIn(akid, used)
        self.assertEqual(len(used), 2, "the env keys and the assumed role: %r" % used)

    def test_web_identity_token_file(self):
        sub = subject("kube-system", "extsecretd")
        arn = self.role("pod-role", subjects=[sub])
        token_file = self.tmp / "web-identity-token"
        token_file.write_text(self.aws.make_jwt(sub=sub))
        self.store("wi")
        self.es("wi", store="wi")
        self.start_daemon(aws_env={"AWS_WEB_IDENTITY_TOKEN_FILE": token_file,
                                   "AWS_ROLE_ARN": arn, "AWS_ROLE_SESSION_NAME": "e2e-session"})
        self.wait_data("wi", APP)
        web = sts_ok(self.aws_requests(operation="AssumeRoleWithWebIdentity"))
        self.assertEqual([(r["role_arn"], r["subject"], r["session_name"]) for r in web],
                         [(arn, sub, "e2e-session")])
        used = self.sm_key_ids()
        self.assertTrue(used and all(k.startswith("ASIA") for k in used), used)

    def test_eks_pod_identity(self):
        token = "pod-identity-" + uuid.uuid4().hex
        token_file = self.tmp / "pod-identity-token"
        token_file.write_text(token)
        self.aws.pod_identity(token, role_arn("pod-identity"))
        self.store("pi")
        self.es("pi", store="pi", refresh="1s")
        self.start_daemon(aws_env={
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.aws.pod_identity_url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token_file})
        self.wait_data("pi", APP)
        self.wait_until(lambda: self.outcomes("pi").count("unchanged") >= 3,
                        what="three refreshes")
        used = self.sm_key_ids()
        self.assertTrue(used and all(k.startswith("ASIA") for k in used), used)
        self.assertEqual(self.calls("PodIdentity.credentials"), 1,
                         "credentials cached for their lifetime: %r" % self.calls())

    def test_imds_v2(self):
        self.aws.imds("instance-role")
        self.store("imds")
        self.es("imds", store="imds", refresh="1s")
        self.start_daemon(aws_env={"AWS_EC2_METADATA_DISABLED": None,
                                   "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.aws.imds_endpoint})
        self.wait_data("imds", APP)
        self.wait_until(lambda: self.outcomes("imds").count("unchanged") >= 3,
                        what="three refreshes")
        used = self.sm_key_ids()
        self.assertTrue(used and all(k.startswith("ASIA") for k in used), used)
        calls = self.calls()
        self.assertGreaterEqual(calls.get("IMDS.token", 0), 1, "IMDSv2: a session token first")
        self.assertEqual(calls.get("IMDS.credentials", 0), 1,
                         "credentials cached for their lifetime: %r" % calls)

    def test_nothing_configured_is_a_clear_error_without_a_hang(self):
        """No keys, no web identity, no Pod Identity, and IMDS unreachable."""
        self.store("none")
        self.es("none", store="none")
        self.start_daemon(aws_env={"AWS_EC2_METADATA_DISABLED": None,
                                   "AWS_EC2_METADATA_SERVICE_ENDPOINT": DEAD_URL})
        self.assert_refused("none", "credentials")
        self.assertEqual(self.sm_calls(), 0)


if __name__ == "__main__":
    harness.main()
