import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { load } from "js-yaml";
import { parseConfig } from "./load.js";
import { REDACTED, printConfig, redactConfig } from "./redact.js";

const secrets = {
  s3Access: "AKIAEXAMPLEACCESS01",
  s3Secret: "s3-secret-value-0123456789",
  httpSecret: "http-hmac-secret-value",
  redis: "redis-password-value",
  proxy: "proxy-password-value",
  etcd: "etcd-password-value",
  bearer: "Bearer notification-token-value",
  smtp: "smtp-password-value",
  bugsnag: "bugsnag-api-key-value",
  healthToken: "health-check-token-value",
  middleware: "cloudfront-private-key-value",
  numeric: "987654321",
};

function fullConfig() {
  return parseConfig({
    version: "0.1",
    log: {
      level: "info",
      hooks: [{ type: "mail", levels: ["error"], options: { smtp: { addr: "smtp:25", username: "u", password: secrets.smtp }, from: "r@example.com", to: ["ops@example.com"] } }],
    },
    storage: { s3: { region: "us-east-1", bucket: "b", accesskey: secrets.s3Access, secretkey: secrets.s3Secret } },
    http: {
      addr: ":5000",
      secret: secrets.httpSecret,
      headers: { "X-Content-Type-Options": ["nosniff"] },
      draintimeout: "60s",
    },
    redis: { addr: "localhost:6379", password: secrets.redis },
    proxy: { remoteurl: "https://registry-1.docker.io", username: "someone", password: secrets.proxy, ttl: "168h" },
    etcd: { endpoints: ["http://127.0.0.1:2379"], username: "root", password: secrets.etcd },
    notifications: {
      endpoints: [{ name: "l", url: "https://hooks.example.com", headers: { Authorization: [secrets.bearer] }, timeout: "500ms" }],
    },
    health: { http: [{ uri: "http://x", headers: { "X-Auth-Token": [secrets.healthToken] } }] },
    reporting: { bugsnag: { apikey: secrets.bugsnag } },
    middleware: { storage: [{ name: "cloudfront", options: { privatekey: secrets.middleware, keypairid: "K1", token: Number(secrets.numeric) } }] },
  });
}

describe("redactConfig", () => {
  test("leaves no secret value in the output", () => {
    const redacted = JSON.stringify(redactConfig(fullConfig()));
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(!redacted.includes(value), `${name} leaked: ${value}`);
    }
    const printed = printConfig(fullConfig());
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(!printed.includes(value), `${name} leaked into printConfig`);
    }
  });

  test("redacts in place of the value and keeps everything else", () => {
    const redacted = redactConfig(fullConfig()) as {
      storage: { s3: Record<string, unknown> };
      http: Record<string, unknown>;
      notifications: { endpoints: Array<{ headers: Record<string, unknown> }> };
      proxy: Record<string, unknown>;
      etcd: Record<string, unknown>;
    };
    assert.equal(redacted.storage.s3.secretkey, REDACTED);
    assert.equal(redacted.storage.s3.accesskey, REDACTED);
    assert.equal(redacted.storage.s3.bucket, "b");
    assert.equal(redacted.http.secret, REDACTED);
    assert.equal(redacted.http.addr, ":5000");
    assert.deepEqual(redacted.http.headers, { "X-Content-Type-Options": ["nosniff"] });
    assert.deepEqual(redacted.notifications.endpoints[0]?.headers, { Authorization: [REDACTED] });
    assert.equal(redacted.proxy.username, "someone");
    assert.equal(redacted.etcd.username, "root");
    assert.equal(redacted.etcd.password, REDACTED);
  });

  test("oss credentials too", () => {
    const config = parseConfig({
      version: "0.1",
      storage: { oss: { accesskeyid: "OSSKEYID0001", accesskeysecret: "oss-secret-0001", region: "oss-cn-beijing", bucket: "b" } },
    });
    const redacted = JSON.stringify(redactConfig(config));
    assert.ok(!redacted.includes("OSSKEYID0001"));
    assert.ok(!redacted.includes("oss-secret-0001"));
  });
});

describe("printConfig", () => {
  test("prints YAML that loads back to the same configuration (secrets aside), durations as Go durations", () => {
    const config = fullConfig();
    const printed = printConfig(config);
    assert.match(printed, /draintimeout: 1m\n/);
    assert.match(printed, /ttl: 168h\n/);
    assert.match(printed, /timeout: 500ms\n/);
    const reloaded = parseConfig(load(printed));
    assert.equal(reloaded.http.draintimeout, config.http.draintimeout);
    assert.equal(reloaded.proxy?.ttl, config.proxy?.ttl);
    assert.equal(reloaded.notifications?.endpoints?.[0]?.timeout, 500);
    assert.equal(reloaded.storage.s3?.bucket, "b");
    assert.equal(reloaded.http.secret, REDACTED);
  });

  test("prints the LAIN s3 example without its keys", () => {
    const text = readFileSync(new URL("./fixtures/lain-s3.yml", import.meta.url), "utf8");
    const printed = printConfig(parseConfig(load(text)));
    assert.ok(!printed.includes("AB12C3dE4fGhIvmMB4TZrpypR0rOJ2G5WhGUPn9L"));
    assert.ok(!printed.includes("ABCDEFGHIJ0123456789"));
    assert.ok(!printed.includes("asecretforlocaldevelopment"));
    assert.match(printed, /bucket: test/);
  });
});
