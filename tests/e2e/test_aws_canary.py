#!/usr/bin/env python3
"""e2e: AWS values and AWS credentials never leak. Canary values in Secrets Manager (a string, a
JSON property, a SecretBinary), static secret access keys (a Secret's and the environment's), a
session token handed in through sessionTokenSecretRef, the session tokens and secret keys of the
fake STS (unknown to the test, but all of its tokens start with a fixed marker), the IRSA and
web identity JWTs, and a wrong secret key on a failing path are used by the daemon, including on
failing paths (a wrong key, a wrong externalID, a missing property, a missing key); afterwards
none of them appears in the daemon's stderr/stdout, ExternalSecret status or metadata, Events,
the SQLite files (db, -wal, -shm), /metrics, or the `status`/`history` output. The values do
reach the Secrets (positive control).
"""

import json

import harness
from canary_support import CanaryChecks, canary
from harness import b64, external_secret, ref
from aws_support import NS, AwsCase, irsa_auth, secret_ref_auth, subject

# Every session token the fake STS issues starts with this (tests/fakes/aws/state.py); JWT
# headers of both fakes encode {"alg":"HS256",... and start with this base64url text.
STS_TOKEN_MARKER = "FQoGZXIvYXdzE"
JWT_HEADER_MARKER = "eyJhbGciOiJIUzI1NiIs"


class AwsCanary(CanaryChecks, AwsCase):

    markers = (STS_TOKEN_MARKER, JWT_HEADER_MARKER)

    def es(self, name, store, data=None, **kw):
        self.cluster.apply(external_secret(NS, name, store=store, refresh="1s",
                                           target={"name": name}, data=data, **kw))

    def test_values_and_credentials_only_reach_the_secret(self):
        value, prop, binary = canary("value"), canary("prop"), canary("binary")
        key, wrong, env_key = canary("secretkey"), canary("wrongkey"), canary("envkey")
        self.put("app", value)
        self.put("json", json.dumps({"p": prop, "nested": {"q": prop}}))
        self.put("bin", binary=binary.encode())
        akid, _ = self.add_keys(secret=key)
        wrong_akid, _ = self.add_keys()
        env_akid, _ = self.add_keys(secret=env_key)
        base_akid, base_key = self.add_keys(secret=canary("basekey"))
        temp = self.temporary_credentials(base_akid, base_key)
        self.put_keys_secret("creds", akid=akid, secret=key)
        self.put_keys_secret("wrong", akid=wrong_akid, secret=wrong)
        self.put_keys_secret("temp", akid=temp["AccessKeyId"], secret=temp["SecretAccessKey"],
                             token=temp["SessionToken"])
        self.canaries = [value, prop, binary, key, wrong, env_key, base_key,
                         temp["SecretAccessKey"], temp["SessionToken"]]

        role = self.role("canary-role", external_id="ext-good")
        self.irsa_service_account("eso-sa")
        self.store("static", secret_ref_auth("creds"))
        self.store("temp", secret_ref_auth("temp", session_token=True))
        self.store("role", secret_ref_auth("creds"), role=role, externalID="ext-good",
                   sessionTags=[{"key": "team", "value": "blue"}])
        self.store("irsa", irsa_auth("eso-sa"))
        self.store("env")
        self.store("wrong", secret_ref_auth("wrong"))
        self.store("wrong-ext", secret_ref_auth("creds"), role=role, externalID="ext-bad")
        good = ("static", "temp", "role", "irsa", "env")
        for store in good:
            self.es(store, store, [ref("v", "app"), ref("p", "json", property="p"),
                                   ref("b", "bin")], data_from=[{"extract": {"key": "json"}}])
        self.es("wrong", "wrong", [ref("v", "app")])
        self.es("wrong-ext", "wrong-ext", [ref("v", "app")])
        self.es("no-property", "static", [ref("v", "json", property="nested.missing")])
        self.es("no-key", "static", [ref("v", "no/such/key")])

        d = self.start_daemon(aws_env={"AWS_ACCESS_KEY_ID": env_akid,
                                       "AWS_SECRET_ACCESS_KEY": env_key})
        expected = {"v": value, "p": prop, "b": binary, "nested": json.dumps({"q": prop},
                                                                             separators=(",", ":"))}
        for store in good:
            s = self.wait_secret(store, lambda s: set(s.get("data") or {}) ==
                                 {"v", "p", "b", "nested"})
            self.assertEqual(s["data"]["v"], b64(value), "positive control: the value arrives")
            self.assertEqual(harness.decode_data(s)["p"], prop)
            self.assertEqual(harness.decode_data(s)["b"], binary)
            self.assertEqual(set(expected), set(harness.decode_data(s)))
        for name in ("wrong", "wrong-ext", "no-property", "no-key"):
            self.wait_condition(name, "False", "SecretSyncedError")
            self.wait_until(lambda: [e for e in self.cluster.events(NS, name)
                                     if e.get("type") == "Warning"],
                            what="a Warning event for %s" % name)
        self.wait_until(lambda: "unchanged" in self.outcomes("static")[-1:],
                        what="a refresh after the first sync")
        self.assertTrue([r for r in self.aws_requests(operation="AssumeRoleWithWebIdentity")
                         if r.get("subject") == subject(NS, "eso-sa")], "IRSA was used")

        self.check_everything(d, NS, ("static", "temp", "role", "irsa", "env"), "no-key")
        self.stop_daemon(d)
        self.check_after_stop(d)

    def test_web_identity_token_file_jwt(self):
        sub = subject("kube-system", "extsecretd")
        arn = self.role("pod-role", subjects=[sub])
        value = canary("value")
        jwt = self.aws.make_jwt(sub=sub, claims={"jti": canary("jti")})
        token_file = self.tmp / "web-identity-token"
        token_file.write_text(jwt)
        self.canaries = [value, jwt, jwt.split(".")[1], jwt.split(".")[2]]
        self.put("app", value)
        self.store("wi")
        self.es("wi", "wi", [ref("v", "app")])
        self.es("no-key", "wi", [ref("v", "no/such/key")])
        d = self.start_daemon(aws_env={"AWS_WEB_IDENTITY_TOKEN_FILE": token_file,
                                       "AWS_ROLE_ARN": arn})
        self.wait_data("wi", {"v": value})
        self.wait_condition("no-key", "False", "SecretSyncedError")
        self.wait_until(lambda: "unchanged" in self.outcomes("wi")[-1:],
                        what="a refresh after the first sync")
        self.check_everything(d, NS, ("wi",), "no-key")
        self.stop_daemon(d)
        self.check_after_stop(d)


if __name__ == "__main__":
    harness.main()
