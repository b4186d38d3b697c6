import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { dump, load } from "js-yaml";
import { unsupportedKeys } from "./unsupported.js";
import { validateConfigText } from "./validate.js";

// Issue 21's bar: a distribution config, 2.8 or 3.x, with any driver Berth has, validates with no
// "not implemented" or "unknown key" warning; only the keys unsupported on purpose are reported,
// each with its reason.
const fixture = (name: string) => load(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as Record<string, unknown>;

const drivers: Record<string, Record<string, unknown>> = {
  filesystem: { rootdirectory: "/var/lib/registry", maxthreads: 100 },
  s3: { accesskey: "AKIAEXAMPLE", secretkey: "not-a-real-secret", region: "us-east-1", regionendpoint: "http://s3.lain.local", forcepathstyle: true, bucket: "registry", chunksize: 10485760, rootdirectory: "/registry" },
  oss: { accesskeyid: "LTAIEXAMPLE", accesskeysecret: "not-a-real-secret", region: "oss-cn-hangzhou", bucket: "registry", endpoint: "oss-cn-hangzhou.aliyuncs.com", secure: true },
  azure: { accountname: "lainregistry", accountkey: Buffer.from("not-a-real-key").toString("base64"), container: "registry", realm: "core.windows.net" },
  swift: { username: "registry", password: "not-a-real-password", authurl: "https://keystone.lain.local/v3", tenant: "lain", domain: "default", region: "RegionOne", container: "registry" },
};

async function warningsOf(doc: Record<string, unknown>, driver: string) {
  const storage = { ...(doc.storage as Record<string, unknown>) };
  delete storage.filesystem;
  storage[driver] = drivers[driver];
  const result = await validateConfigText(dump({ ...doc, storage }), { env: {}, checkFiles: false, file: "config.yml" });
  assert.deepEqual(result.problems, [], `${driver}: ${JSON.stringify(result.problems)}`);
  return result.warnings;
}

for (const [name, expectedUnsupported] of [
  ["distribution-3-full.yml", ["http.tls.letsencrypt", "middleware", "reporting"]],
  ["distribution-2.8-full.yml", []],
] as const) {
  describe(`drop-in: ${name}`, () => {
    for (const driver of Object.keys(drivers)) {
      test(`with the ${driver} driver: nothing unimplemented or unknown`, async () => {
        const warnings = await warningsOf(fixture(name), driver);
        const gaps = warnings.filter((w) => /not implemented|unknown key/.test(w.message));
        assert.deepEqual(gaps, []);
        const unsupported = warnings.filter((w) => w.message.startsWith("not supported on purpose"));
        assert.deepEqual(unsupported.map((w) => w.path).sort(), [...expectedUnsupported]);
        for (const warning of unsupported) assert.equal(warning.message, unsupportedKeys.get(warning.path));
      });
    }
  });
}

test("redis.addrs with several addresses (a Redis Cluster) is reported: only the first is used", async () => {
  const doc = { ...fixture("distribution-3-full.yml"), redis: { addrs: ["10.0.0.1:6379", "10.0.0.2:6379"] } };
  const warnings = await warningsOf(doc, "filesystem");
  const warning = warnings.find((w) => w.path === "redis.addrs");
  assert.match(warning?.message ?? "", /connects to the first \(10\.0\.0\.1:6379\) only; Redis Cluster is not implemented yet/);
});
