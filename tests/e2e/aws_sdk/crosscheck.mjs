// Runs AWS's JavaScript SDK (v3) against the fake AWS server and prints what it got, as JSON.
//
// Driven by tests/e2e/test_fake_aws_sdk.py, which installs the SDK (package.json here) into a
// cache directory and asserts the results against what it put into the fake.
//   node crosscheck.mjs PLAN.json      (prints one JSON object on stdout)
// PLAN: {"sdk_dir": dir holding node_modules, "endpoint": "http://127.0.0.1:PORT",
//        "region": "us-east-1", "steps": [STEP, ...]}
// STEP: {"id", "client": "sm" | "sts", "op": "GetSecretValue" | ..., "input": {...},
//        "credentials": {"static": {accessKeyId, secretAccessKey, sessionToken?}}
//                     | {"from_step": id of an AssumeRole step} | "default" (SDK chain),
//        "paginate": true (follow NextToken, ListSecrets / BatchGetSecretValue only)}
// Output: {"node": version, "sdk": version, "results": {id: {"ok": output} |
//          {"pages": [output, ...]} | {"error": {name, message, httpStatusCode?, attempts?}}}}
// Blobs (SecretBinary) are printed as base64 strings, dates as ISO strings.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const require = createRequire(join(plan.sdk_dir, "package.json"));
const sm = require("@aws-sdk/client-secrets-manager");
const sts = require("@aws-sdk/client-sts");
const sdkVersion = JSON.parse(readFileSync(
  join(plan.sdk_dir, "node_modules", "@aws-sdk", "client-secrets-manager", "package.json"),
  "utf8")).version;

function plain(value) {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

function credentialsFor(step, results) {
  const spec = step.credentials;
  if (spec === "default") return undefined;  // SDK default chain: env, container, IMDS
  if (spec.static) return spec.static;
  const c = results[spec.from_step].ok.Credentials;
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey,
           sessionToken: c.SessionToken };
}

function makeClient(step, results) {
  const config = { endpoint: plan.endpoint, region: plan.region };
  const credentials = credentialsFor(step, results);
  if (credentials) config.credentials = credentials;
  if (step.client === "sts") return [new sts.STSClient(config), sts];
  return [new sm.SecretsManagerClient(config), sm];
}

async function runStep(step, results) {
  const [client, mod] = makeClient(step, results);
  const Command = mod[`${step.op}Command`];
  if (!Command) throw new Error(`unknown operation ${step.op}`);
  try {
    if (!step.paginate) return { ok: plain(await client.send(new Command(step.input))) };
    const pages = [];
    let input = { ...step.input };
    for (let i = 0; i < 100; i++) {
      const out = await client.send(new Command(input));
      pages.push(plain(out));
      if (!out.NextToken) return { pages };
      input = { ...step.input, NextToken: out.NextToken };
    }
    throw new Error("more than 100 pages");
  } catch (err) {
    // Service errors carry $metadata; credential-provider errors do not.
    const meta = err.$metadata || {};
    return { error: { name: err.name, message: err.message,
                      httpStatusCode: meta.httpStatusCode, attempts: meta.attempts } };
  } finally {
    client.destroy();
  }
}

const results = {};
for (const step of plan.steps) {
  results[step.id] = await runStep(step, results);
}
process.stdout.write(JSON.stringify({ node: process.version, sdk: sdkVersion, results }));
