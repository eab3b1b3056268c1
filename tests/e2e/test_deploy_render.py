#!/usr/bin/env python3
"""Static checks of the deployment artefacts: deploy/ (CRDs, RBAC, Deployment, kustomization),
systemd/extsecretd.service and examples/*.yaml.

Run by ctest as `python3 tests/e2e/test_deploy_render.py --binary <path>` (other arguments are
ignored). Python 3 standard library only: a small YAML reader below covers the subset these files
(and `kubectl kustomize` output) use. The kustomize test is skipped when kubectl is missing or
cannot run; the systemd-analyze test when systemd-analyze is missing. Exits non-zero on failure.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(ROOT, "deploy")
EXAMPLES = os.path.join(ROOT, "examples")
UNIT = os.path.join(ROOT, "systemd", "extsecretd.service")
BINARY = None  # set from --binary


# ---------------------------------------------------------------------------------------------
# Minimal YAML reader: block mappings and sequences, plain/quoted scalars (also multi-line),
# block scalars (| > with chomping), one-line flow collections, comments, `---` documents.
# No anchors, tags or complex keys: it raises on what it does not understand.

class YamlError(Exception):
    pass


def _strip_comment(line):
    quote = None
    i = -1
    while i + 1 < len(line):
        i += 1
        c = line[i]
        if quote:
            if c == "'" and quote == "'" and line[i + 1:i + 2] == "'":
                i += 1  # '' inside a single-quoted scalar
            elif c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"" and (i == 0 or line[i - 1] in " \t:-[{,"):
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _split_flow(text):
    parts, depth, quote, cur = [], 0, None, ""
    for c in text:
        if quote:
            cur += c
            if c == quote:
                quote = None
            continue
        if c in "'\"":
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += c
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _find_colon(text):
    """Index of the mapping colon in `text` (outside quotes), or -1."""
    quote = None
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"" and i == 0:
            quote = c
        elif c == ":" and (i + 1 == len(text) or text[i + 1] == " "):
            return i
    return -1


def _scalar(text):
    text = text.strip()
    if text.startswith("'"):
        if not text.endswith("'") or len(text) < 2:
            raise YamlError("unterminated quote: " + text)
        return text[1:-1].replace("''", "'")
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("[") and text.endswith("]"):
        return [_scalar(p) for p in _split_flow(text[1:-1])]
    if text.startswith("{") and text.endswith("}"):
        out = {}
        for p in _split_flow(text[1:-1]):
            i = _find_colon(p)
            if i < 0:
                raise YamlError("bad flow mapping entry: " + p)
            out[_scalar(p[:i])] = _scalar(p[i + 1:])
        return out
    if text[:1] in "&*!|>%@`":
        raise YamlError("unsupported YAML: " + text)
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if re.fullmatch(r"[-+]?(0|[1-9][0-9]*)", text):
        return int(text)
    if re.fullmatch(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?", text):
        return float(text)
    return text


class _Reader:
    def __init__(self, lines):
        self.lines = lines  # [(indent, text)]
        self.pos = 0

    def peek(self):
        return self.lines[self.pos] if self.pos < len(self.lines) else None

    def block(self, indent):
        line = self.peek()
        if line is None or line[0] < indent:
            return None
        ind, text = line
        if text == "-" or text.startswith("- "):
            return self.seq(ind)
        return self.mapping(ind)

    def value(self, rest, parent_indent, seq_ok_at_same_indent):
        """The value after `key:` or `- ` whose own line has indent `parent_indent`."""
        if rest == "":
            nxt = self.peek()
            if nxt is None:
                return None
            if nxt[0] > parent_indent:
                return self.block(nxt[0])
            if seq_ok_at_same_indent and nxt[0] == parent_indent and (
                    nxt[1] == "-" or nxt[1].startswith("- ")):
                return self.seq(parent_indent)
            return None
        if rest[0] in "|>" and re.fullmatch(r"[|>][-+]?", rest):
            return self.block_scalar(rest, parent_indent)
        # Plain or quoted scalar, possibly continued on more-indented lines.
        parts = [rest]
        while self.peek() is not None and self.peek()[0] > parent_indent:
            parts.append(self.peek()[1])
            self.pos += 1
        return _scalar(" ".join(p.strip() for p in parts))

    def block_scalar(self, head, parent_indent):
        body = []
        while self.peek() is not None and self.peek()[0] > parent_indent:
            body.append(self.peek())
            self.pos += 1
        if not body:
            return ""
        base = min(i for i, _ in body)
        lines = [" " * (i - base) + t for i, t in body]
        text = "\n".join(lines) if head[0] == "|" else " ".join(lines)
        return text if head.endswith("-") else text + "\n"

    def seq(self, indent):
        out = []
        while True:
            line = self.peek()
            if line is None or line[0] != indent or not (line[1] == "-" or line[1].startswith("- ")):
                return out
            self.pos += 1
            rest = line[1][1:].lstrip()
            if rest == "":
                out.append(self.value("", indent, False))
                continue
            inner = indent + (len(line[1]) - len(rest))
            if not rest.startswith(("[", "{")) and _find_colon(rest) > 0:
                # "- key: value": a mapping whose first line starts after the dash.
                self.pos -= 1
                self.lines[self.pos] = (inner, rest)
                out.append(self.mapping(inner))
            elif rest == "-" or rest.startswith("- "):
                self.pos -= 1
                self.lines[self.pos] = (inner, rest)
                out.append(self.seq(inner))
            else:
                out.append(self.value(rest, indent, False))

    def mapping(self, indent):
        out = {}
        while True:
            line = self.peek()
            if line is None or line[0] != indent:
                return out
            text = line[1]
            if text == "-" or text.startswith("- "):
                return out
            i = _find_colon(text)
            if i < 0:
                raise YamlError("expected 'key: value', got: " + text)
            key = _scalar(text[:i])
            if key in out:
                raise YamlError("duplicate key: %s" % key)
            self.pos += 1
            out[key] = self.value(text[i + 1:].strip(), indent, True)


def yaml_load_all(text):
    docs, cur = [], []
    for raw in text.split("\n") + ["---"]:
        if raw.rstrip() == "---" or raw.startswith("--- "):
            lines = []
            for r in cur:
                if "\t" in r[:len(r) - len(r.lstrip())]:
                    raise YamlError("tab in indentation")
                s = _strip_comment(r)
                if s.strip():
                    lines.append((len(s) - len(s.lstrip(" ")), s.strip()))
            if lines:
                rd = _Reader(lines)
                doc = rd.block(lines[0][0])
                if rd.pos != len(lines):
                    raise YamlError("unparsed line: %r" % (lines[rd.pos],))
                docs.append(doc)
            cur = []
        else:
            cur.append(raw)
    return docs


def load_file(path):
    with open(path, encoding="utf-8") as f:
        return yaml_load_all(f.read())


# ---------------------------------------------------------------------------------------------
# Helpers: a structural-schema check and a small validator (enough to catch an example that a
# real API server would reject or prune).

def structural_errors(node, path):
    errs = []
    if "type" not in node and not node.get("x-kubernetes-int-or-string") and not node.get(
            "x-kubernetes-preserve-unknown-fields"):
        errs.append(path + ": no type")
    if "properties" in node and "additionalProperties" in node:
        errs.append(path + ": properties and additionalProperties")
    if "default" in node and "enum" in node and node["default"] not in node["enum"]:
        errs.append(path + ": default not in enum")
    for r in node.get("required", []):
        if r not in node.get("properties", {}):
            errs.append(path + ": required %s is not a property" % r)
    for k, v in node.get("properties", {}).items():
        errs += structural_errors(v, path + "." + k)
    if isinstance(node.get("items"), dict):
        errs += structural_errors(node["items"], path + "[]")
    if isinstance(node.get("additionalProperties"), dict):
        errs += structural_errors(node["additionalProperties"], path + "{}")
    return errs


def validate(schema, obj, path="$"):
    errs = []
    t = schema.get("type")
    if obj is None:
        return [] if schema.get("nullable") else [path + ": null"]
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t in types and not isinstance(obj, types[t]):
        return [path + ": expected " + t]
    if t == "integer" and (not isinstance(obj, int) or isinstance(obj, bool)):
        return [path + ": expected integer"]
    if "enum" in schema and obj not in schema["enum"]:
        errs.append(path + ": %r not in %r" % (obj, schema["enum"]))
    if isinstance(obj, str):
        if "pattern" in schema and not re.search(schema["pattern"], obj):
            errs.append(path + ": does not match " + schema["pattern"])
        if len(obj) < schema.get("minLength", 0) or len(obj) > schema.get("maxLength", 1 << 30):
            errs.append(path + ": bad length")
    if isinstance(obj, dict):
        for r in schema.get("required", []):
            if r not in obj:
                errs.append(path + ": missing " + r)
        if not schema.get("minProperties", 0) <= len(obj) <= schema.get("maxProperties", 1 << 30):
            errs.append(path + ": property count")
        props = schema.get("properties", {})
        for k, v in obj.items():
            if k in props:
                errs += validate(props[k], v, path + "." + k)
            elif isinstance(schema.get("additionalProperties"), dict):
                errs += validate(schema["additionalProperties"], v, path + "." + k)
            elif not schema.get("x-kubernetes-preserve-unknown-fields") and path != "$.metadata":
                errs.append(path + ": unknown field %s (would be pruned)" % k)
    if isinstance(obj, list):
        if len(obj) < schema.get("minItems", 0):
            errs.append(path + ": too few items")
        for i, v in enumerate(obj):
            errs += validate(schema.get("items", {}), v, "%s[%d]" % (path, i))
    return errs


def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def crd_schemas():
    out = {}
    for d in load_file(os.path.join(DEPLOY, "crds", "externalsecrets.yaml")) + load_file(
            os.path.join(DEPLOY, "crds", "secretstores.yaml")) + load_file(
            os.path.join(DEPLOY, "crds", "clustersecretstores.yaml")):
        for v in d["spec"]["versions"]:
            out[(d["spec"]["names"]["kind"], v["name"])] = v["schema"]["openAPIV3Schema"]
    return out


def kubectl_usable():
    exe = shutil.which("kubectl")
    if not exe:
        return False
    try:
        r = subprocess.run([exe, "version", "--client"], capture_output=True, text=True,
                           timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0 and "Client Version" in r.stdout


# ---------------------------------------------------------------------------------------------
# Checks shared by the source files and the kustomize output.

class ManifestChecks:
    def check_crds(self, docs):
        crds = by_kind(docs, "CustomResourceDefinition")
        names = sorted(c["metadata"]["name"] for c in crds)
        self.assertEqual(names, ["clustersecretstores.external-secrets.io",
                                 "externalsecrets.external-secrets.io",
                                 "secretstores.external-secrets.io"])
        short = {"ExternalSecret": "es", "SecretStore": "ss", "ClusterSecretStore": "css"}
        for c in crds:
            spec = c["spec"]
            kind = spec["names"]["kind"]
            self.assertEqual(c["apiVersion"], "apiextensions.k8s.io/v1")
            self.assertEqual(c["metadata"]["labels"]["external-secrets.io/component"], "controller")
            self.assertEqual(spec["group"], "external-secrets.io")
            self.assertEqual(spec["scope"], "Cluster" if kind == "ClusterSecretStore" else "Namespaced")
            self.assertEqual(spec["names"]["shortNames"], [short[kind]])
            self.assertIn("external-secrets", spec["names"]["categories"])
            self.assertEqual(spec["conversion"]["strategy"], "None")
            versions = {v["name"]: v for v in spec["versions"]}
            self.assertEqual(sorted(versions), ["v1", "v1beta1"])
            self.assertTrue(versions["v1"]["served"])
            self.assertTrue(versions["v1"]["storage"])
            self.assertTrue(versions["v1beta1"]["served"])
            self.assertFalse(versions["v1beta1"]["storage"])
            for name, v in versions.items():
                self.assertEqual(v["subresources"], {"status": {}}, kind + " " + name)
                schema = v["schema"]["openAPIV3Schema"]
                self.assertEqual(structural_errors(schema, kind + "/" + name), [])
                self.assertIn("spec", schema["properties"])
                self.assertIn("status", schema["properties"])
                cols = [col["name"] for col in v["additionalPrinterColumns"]]
                self.assertIn("Ready", cols)
                self.assertIn("Status", cols)
                spec_schema = schema["properties"]["spec"]["properties"]
                if kind == "ExternalSecret":
                    self.assertEqual(cols, ["StoreType", "Store", "Refresh Interval", "Status",
                                            "Ready", "Last Sync"])
                    self.assertEqual(spec_schema["refreshInterval"]["default"], "1h0m0s")
                    target = spec_schema["target"]
                    self.assertEqual(target["properties"]["creationPolicy"]["default"], "Owner")
                    self.assertEqual(target["properties"]["deletionPolicy"]["default"], "Retain")
                    self.assertTrue(target["properties"]["template"][
                        "x-kubernetes-preserve-unknown-fields"])
                else:
                    self.assertEqual(cols, ["AGE", "Status", "Capabilities", "Ready"])
                    provider = spec_schema["provider"]
                    self.assertTrue(provider["x-kubernetes-preserve-unknown-fields"])
                    self.assertEqual(provider["maxProperties"], 1)
                    for p, s in provider["properties"].items():
                        self.assertTrue(s["x-kubernetes-preserve-unknown-fields"], p)

    def check_deployment(self, docs):
        deps = by_kind(docs, "Deployment")
        self.assertEqual(len(deps), 1)
        d = deps[0]
        self.assertEqual(d["spec"]["replicas"], 1)
        self.assertEqual(d["spec"]["strategy"]["type"], "Recreate")
        pod = d["spec"]["template"]["spec"]
        self.assertEqual(pod["serviceAccountName"], "extsecretd")
        self.assertTrue(pod["securityContext"]["runAsNonRoot"])
        self.assertEqual(pod["securityContext"]["runAsUser"], 65532)
        self.assertIn("fsGroup", pod["securityContext"])
        self.assertEqual(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault")
        self.assertEqual(len(pod["containers"]), 1)
        c = pod["containers"][0]
        sc = c["securityContext"]
        self.assertTrue(sc["runAsNonRoot"])
        self.assertTrue(sc["readOnlyRootFilesystem"])
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertNotIn("add", sc["capabilities"])
        self.assertEqual(c["args"][0], "run")
        args = dict(zip(c["args"][1::2], c["args"][2::2]))
        self.assertEqual(args["--state"], "/var/lib/extsecretd/state.db")
        self.assertEqual(args["--metrics-addr"], "0.0.0.0:8080")
        self.assertEqual(args["--hmac-key-file"], "/etc/extsecretd/hmac/key")
        self.assertEqual(c["livenessProbe"]["httpGet"]["path"], "/healthz")
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/readyz")
        self.assertEqual(c["resources"]["limits"]["memory"], "128Mi")
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        vols = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(vols[mounts["/var/lib/extsecretd"]]["persistentVolumeClaim"]["claimName"],
                         "extsecretd-state")
        hmac = vols[mounts["/etc/extsecretd/hmac"]]["secret"]
        self.assertEqual(hmac["secretName"], "extsecretd-hmac")
        self.assertTrue(hmac["optional"])
        pvcs = by_kind(docs, "PersistentVolumeClaim")
        self.assertEqual([p["metadata"]["name"] for p in pvcs], ["extsecretd-state"])
        self.assertEqual(pvcs[0]["spec"]["accessModes"], ["ReadWriteOnce"])
        svc = by_kind(docs, "Service")
        self.assertEqual(len(svc), 1)
        self.assertEqual(svc[0]["spec"]["ports"][0]["name"], "metrics")
        self.assertEqual(svc[0]["spec"]["ports"][0]["port"], 8080)

    def check_rbac(self, docs):
        roles = by_kind(docs, "ClusterRole") + by_kind(docs, "Role")
        self.assertEqual(len(by_kind(docs, "ClusterRole")), 1)
        for role in roles:
            for rule in role["rules"]:
                for field in ("apiGroups", "resources", "verbs"):
                    self.assertNotIn("*", rule[field], role["metadata"]["name"])
                for bad in ("escalate", "bind", "impersonate"):
                    self.assertNotIn(bad, rule["verbs"])
                self.assertNotIn("nonResourceURLs", rule)
        rules = {}
        for rule in by_kind(docs, "ClusterRole")[0]["rules"]:
            for g in rule["apiGroups"]:
                for r in rule["resources"]:
                    rules.setdefault((g, r), set()).update(rule["verbs"])
        self.assertEqual(rules[("external-secrets.io", "externalsecrets")], {"get", "list", "watch"})
        self.assertEqual(rules[("external-secrets.io", "externalsecrets/status")], {"update", "patch"})
        self.assertEqual(rules[("", "secrets")],
                         {"get", "list", "watch", "create", "update", "patch", "delete"})
        self.assertEqual(rules[("", "configmaps")], {"get"})
        self.assertEqual(rules[("", "serviceaccounts/token")], {"create"})
        self.assertEqual(rules[("events.k8s.io", "events")], {"create", "patch"})
        leases = by_kind(docs, "Role")[0]["rules"]
        self.assertEqual(leases[0]["resources"], ["leases"])
        subjects = [s for b in by_kind(docs, "ClusterRoleBinding") + by_kind(docs, "RoleBinding")
                    for s in b["subjects"]]
        self.assertTrue(subjects)
        for s in subjects:
            self.assertEqual((s["kind"], s["name"], s["namespace"]),
                             ("ServiceAccount", "extsecretd", "extsecretd"))


class TestDeploySources(ManifestChecks, unittest.TestCase):
    def setUp(self):
        with open(os.path.join(DEPLOY, "kustomization.yaml"), encoding="utf-8") as f:
            self.kust = yaml_load_all(f.read())[0]
        self.docs = []
        for r in self.kust["resources"]:
            self.docs += load_file(os.path.join(DEPLOY, r))

    def test_kustomization_lists_every_manifest(self):
        self.assertEqual(self.kust["namespace"], "extsecretd")
        listed = set(self.kust["resources"])
        on_disk = set()
        for dirpath, _, files in os.walk(DEPLOY):
            for f in files:
                if f.endswith(".yaml") and f != "kustomization.yaml":
                    on_disk.add(os.path.relpath(os.path.join(dirpath, f), DEPLOY))
        self.assertEqual(listed, on_disk)

    def test_crds(self):
        self.check_crds(self.docs)

    def test_deployment(self):
        self.check_deployment(self.docs)

    def test_rbac(self):
        self.check_rbac(self.docs)

    def test_dockerfile(self):
        with open(os.path.join(DEPLOY, "Dockerfile"), encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(len(re.findall(r"(?m)^FROM debian:bookworm-slim", text)), 2)
        self.assertIn("COPY --from=build /src/build/extsecretd", text)
        self.assertRegex(text, r"(?m)^USER 65532")


@unittest.skipUnless(kubectl_usable(), "kubectl missing or not runnable")
class TestKustomize(ManifestChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        r = subprocess.run(["kubectl", "kustomize", DEPLOY], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise AssertionError("kubectl kustomize failed: " + r.stderr)
        cls.docs = yaml_load_all(r.stdout)

    def test_crds(self):
        self.check_crds(self.docs)

    def test_deployment(self):
        self.check_deployment(self.docs)

    def test_rbac(self):
        self.check_rbac(self.docs)

    def test_namespaces(self):
        cluster_scoped = {"Namespace", "CustomResourceDefinition", "ClusterRole",
                          "ClusterRoleBinding"}
        for d in self.docs:
            if d["kind"] in cluster_scoped:
                self.assertNotIn("namespace", d["metadata"], d["kind"])
            else:
                self.assertEqual(d["metadata"].get("namespace"), "extsecretd", d["kind"])
        self.assertEqual([d["metadata"]["name"] for d in by_kind(self.docs, "Namespace")],
                         ["extsecretd"])


def read_unit(path):
    """[(section, key, value)] of a systemd unit file, in order."""
    out, section = [], None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            k, _, v = line.partition("=")
            out.append((section, k.strip(), v.strip()))
    return out


class TestSystemd(unittest.TestCase):
    def setUp(self):
        self.entries = read_unit(UNIT)
        self.svc = {}
        for sec, k, v in self.entries:
            if sec == "Service":
                self.svc.setdefault(k, []).append(v)

    def test_required_settings(self):
        self.assertEqual(self.svc["StateDirectory"], ["extsecretd"])
        self.assertEqual(self.svc["StateDirectoryMode"], ["0700"])
        self.assertEqual(self.svc["NoNewPrivileges"], ["yes"])
        self.assertEqual(self.svc["ProtectSystem"], ["strict"])
        self.assertEqual(self.svc["CapabilityBoundingSet"], [""])
        self.assertEqual(self.svc["Restart"], ["on-failure"])
        self.assertEqual(self.svc["UMask"], ["0077"])
        exec_start = self.svc["ExecStart"][0].split()
        self.assertEqual(exec_start[:2], ["/usr/local/bin/extsecretd", "run"])
        self.assertIn("/etc/rancher/k3s/k3s.yaml", exec_start)
        self.assertIn("127.0.0.1:8080", exec_start)
        self.assertNotIn("--state", exec_start)  # $STATE_DIRECTORY/state.db is the default
        for k in ("ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
                  "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
                  "ProtectClock", "ProtectHostname", "RestrictNamespaces", "LockPersonality",
                  "MemoryDenyWriteExecute", "RestrictRealtime", "RestrictSUIDSGID"):
            self.assertEqual(self.svc.get(k), ["yes"], k)
        units = dict(((s, k), v) for s, k, v in self.entries)
        self.assertIn("k3s.service", units[("Unit", "After")])

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze missing")
    def test_systemd_analyze_verify(self):
        # Verify a copy whose ExecStart names an executable that exists here.
        exe = BINARY if BINARY and os.access(BINARY, os.X_OK) else shutil.which("true")
        with open(UNIT, encoding="utf-8") as f:
            text = f.read().replace("/usr/local/bin/extsecretd", os.path.abspath(exe))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "extsecretd.service")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True,
                               text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("extsecretd.service", r.stderr)


class TestExamples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.schemas = crd_schemas()

    def load(self, name):
        docs = load_file(os.path.join(EXAMPLES, name))
        for d in docs:
            api, version = d["apiVersion"].split("/")
            self.assertEqual(api, "external-secrets.io")
            schema = self.schemas[(d["kind"], version)]
            self.assertEqual(validate(schema, d), [], name)
        return docs

    def test_fake_store(self):
        (store,) = self.load("fake-store.yaml")
        self.assertEqual((store["kind"], store["apiVersion"]), ("SecretStore", "external-secrets.io/v1"))
        self.assertEqual((store["metadata"]["name"], store["metadata"]["namespace"]),
                         ("demo-store", "default"))
        entries = store["spec"]["provider"]["fake"]["data"]
        plain = {e["key"]: e["value"] for e in entries if "version" not in e}
        self.assertEqual(plain["/demo/db-password"], "s3cr3t-v1")
        self.assertEqual(json.loads(plain["/demo/config"]), {"username": "app", "port": 5432})
        self.assertTrue(any(e.get("version") for e in entries))

    def test_external_secret(self):
        (es,) = self.load("external-secret.yaml")
        self.assertEqual((es["kind"], es["apiVersion"]), ("ExternalSecret", "external-secrets.io/v1"))
        self.assertEqual((es["metadata"]["name"], es["metadata"]["namespace"]),
                         ("demo-secret", "default"))
        spec = es["spec"]
        self.assertEqual(spec["refreshInterval"], "2s")
        self.assertEqual(spec["secretStoreRef"], {"name": "demo-store", "kind": "SecretStore"})
        self.assertEqual(spec["target"]["name"], "demo-app-secret")
        self.assertEqual(spec["data"], [{"secretKey": "db-password",
                                         "remoteRef": {"key": "/demo/db-password"}}])
        self.assertEqual(spec["dataFrom"], [{"extract": {"key": "/demo/config"}}])

    def test_seed_article(self):
        store, es = self.load("seed-article.yaml")
        self.assertEqual(store, {
            "apiVersion": "external-secrets.io/v1beta1", "kind": "SecretStore",
            "metadata": {"name": "azure-store"},
            "spec": {"provider": {"azurekv": {"vaultUrl": "https://myvault.vault.azure.net/"}}}})
        self.assertEqual(es, {
            "apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret",
            "metadata": {"name": "database-secret"},
            "spec": {"refreshInterval": "1h",
                     "secretStoreRef": {"name": "azure-store", "kind": "SecretStore"},
                     "target": {"name": "app-secret"},
                     "data": [{"secretKey": "db-password",
                               "remoteRef": {"key": "DatabasePassword"}}]}})

    def test_seed_article_fake(self):
        store, es = self.load("seed-article-fake.yaml")
        self.assertEqual(es, self.load("seed-article.yaml")[1])
        self.assertEqual(store["apiVersion"], "external-secrets.io/v1beta1")
        self.assertEqual(store["metadata"]["name"], "azure-store")
        entries = store["spec"]["provider"]["fake"]["data"]
        self.assertEqual([e["key"] for e in entries], ["DatabasePassword"])
        self.assertTrue(entries[0]["value"])

    def test_cluster_store(self):
        (css,) = self.load("cluster-store.yaml")
        self.assertEqual(css["kind"], "ClusterSecretStore")
        self.assertNotIn("namespace", css["metadata"])
        conds = css["spec"]["conditions"]
        self.assertTrue(any("namespaces" in c for c in conds))
        self.assertTrue(any("namespaceRegexes" in c for c in conds))
        self.assertTrue(any("namespaceSelector" in c for c in conds))
        for c in conds:
            for rx in c.get("namespaceRegexes", []):
                re.compile(rx)
        self.assertIn("fake", css["spec"]["provider"])


class TestYamlReader(unittest.TestCase):
    """The reader must be right for the checks above to mean anything."""

    def test_subset(self):
        text = (
            "a: 1\n"
            "b: 'it''s # not a comment'  # a comment\n"
            "c:\n"
            "- x\n"
            "- k: v\n"
            "  l: [p, 'q r', 3]\n"
            "d: >-\n"
            "  folded\n"
            "  text\n"
            "e: a plain\n"
            "  continued line\n"
            "f: {}\n"
            "g: \"q\\u00e9\"\n"
            "h:\n"
            "  - - nested\n"
            "---\n"
            "second: true\n")
        docs = yaml_load_all(text)
        self.assertEqual(docs, [
            {"a": 1, "b": "it's # not a comment", "c": ["x", {"k": "v", "l": ["p", "q r", 3]}],
             "d": "folded text", "e": "a plain continued line", "f": {}, "g": "q\u00e9",
             "h": [["nested"]]},
            {"second": True}])

    def test_rejects_unsupported(self):
        for bad in ("a: &x 1\n", "a: 1\nd\n", "a: 1\na: 2\n", "a: 'open\n"):
            with self.assertRaises(YamlError, msg=bad):
                yaml_load_all(bad)


def main():
    global BINARY
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--binary")
    args, _ = parser.parse_known_args()
    BINARY = args.binary
    unittest.main(argv=[sys.argv[0], "-v"])


if __name__ == "__main__":
    main()
