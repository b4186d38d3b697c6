import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { applyEnvOverrides } from "./env.js";
import { validateConfigText } from "./validate.js";

const base = () => ({
  version: "0.1",
  storage: { filesystem: { rootdirectory: "/var/lib/registry" } },
  http: { addr: ":5000" },
  log: { fields: { service_name: "registry" } },
});

describe("applyEnvOverrides", () => {
  test("maps REGISTRY_<PATH> onto the key path, parsing the value as YAML", () => {
    const { doc, applied, warnings } = applyEnvOverrides(base(), {
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: "/srv/registry",
      REGISTRY_HTTP_ADDR: ":5001",
      REGISTRY_STORAGE_DELETE_ENABLED: "true",
      REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS: "50",
      REGISTRY_ETCD_ENDPOINTS: "[http://127.0.0.1:2379, http://127.0.0.2:2379]",
      REGISTRY_HTTP_HEADERS: "{X-Content-Type-Options: [nosniff]}",
      PATH: "/usr/bin",
      registry_http_secret: "lower-case names are not distribution's",
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(applied, [
      "REGISTRY_ETCD_ENDPOINTS",
      "REGISTRY_HTTP_ADDR",
      "REGISTRY_HTTP_HEADERS",
      "REGISTRY_STORAGE_DELETE_ENABLED",
      "REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS",
      "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY",
    ]);
    assert.deepEqual(doc.storage, { filesystem: { rootdirectory: "/srv/registry", maxthreads: 50 }, delete: { enabled: true } });
    assert.equal((doc.http as Record<string, unknown>).addr, ":5001");
    assert.deepEqual((doc.http as Record<string, unknown>).headers, { "X-Content-Type-Options": ["nosniff"] });
    assert.deepEqual(doc.etcd, { endpoints: ["http://127.0.0.1:2379", "http://127.0.0.2:2379"] });
  });

  test("applies parents before children whatever the environment's order", () => {
    const env = {
      REGISTRY_STORAGE_S3_BUCKET: "refined",
      REGISTRY_STORAGE: "{s3: {region: us-east-1, bucket: replaced, secure: false}}",
      REGISTRY_STORAGE_S3_SECURE: "true",
    };
    const { doc, applied } = applyEnvOverrides(base(), env);
    assert.deepEqual(applied, ["REGISTRY_STORAGE", "REGISTRY_STORAGE_S3_BUCKET", "REGISTRY_STORAGE_S3_SECURE"]);
    assert.deepEqual(doc.storage, { s3: { region: "us-east-1", bucket: "refined", secure: true } });
  });

  test("a bare driver name set by a parent can be refined by a child", () => {
    const { doc } = applyEnvOverrides(base(), { REGISTRY_STORAGE: "s3", REGISTRY_STORAGE_S3_BUCKET: "b" });
    assert.deepEqual(doc.storage, { s3: { bucket: "b" } });
  });

  test("does not modify its input", () => {
    const input = base();
    const before = structuredClone(input);
    applyEnvOverrides(input, { REGISTRY_HTTP_ADDR: ":1", REGISTRY_STORAGE: "inmemory" });
    assert.deepEqual(input, before);
  });

  test("matches existing keys with underscores, Go field names, list indexes and open maps", () => {
    const doc0 = { ...base(), notifications: { endpoints: [{ name: "a", url: "http://a" }] } };
    const { doc, warnings } = applyEnvOverrides(doc0, {
      REGISTRY_LOG_FIELDS_SERVICE_NAME: "berth",
      REGISTRY_LOG_FIELDS_CLUSTER_ID: "c1",
      REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL: "http://b",
      REGISTRY_NOTIFICATIONS_ENDPOINTS_1_NAME: "second",
      REGISTRY_HTTP_TLS_CLIENTCAS_0: "/ca.pem",
      REGISTRY_COMPATIBILITY_SCHEMA1_TRUSTKEY: "/key.json",
      REGISTRY_STORAGE_FILESYSTEM_NEWPARAM: "x",
      REGISTRY_AUTH_TOKEN_REALM: "https://auth/token",
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual((doc.log as Record<string, unknown>).fields, { service_name: "berth", cluster_id: "c1" });
    assert.deepEqual((doc.notifications as { endpoints: unknown[] }).endpoints, [{ name: "a", url: "http://b" }, { name: "second" }]);
    assert.deepEqual((doc.http as Record<string, unknown>).tls, { clientcas: ["/ca.pem"] });
    assert.deepEqual(doc.compatibility, { schema1: { signingkeyfile: "/key.json" } });
    assert.equal((doc.storage as { filesystem: Record<string, unknown> }).filesystem.newparam, "x");
    assert.deepEqual(doc.auth, { token: { realm: "https://auth/token" } });
  });

  test("warns about variables that match nothing known, and ignores them", () => {
    const { doc, applied, warnings } = applyEnvOverrides(base(), {
      REGISTRY_PORT: "5000",
      REGISTRY_HTTP_ADRESS: ":1",
      REGISTRY_HTTP_ADDR_PORT: "1",
      REGISTRY_NOTIFICATIONS_ENDPOINTS_3_URL: "http://x",
      REGISTRY_VERSION: "0.2",
      REGISTRY_HTTP__ADDR: ":2",
    });
    assert.deepEqual(applied, []);
    assert.equal(warnings.length, 6);
    assert.match(warnings.join("\n"), /REGISTRY_PORT: ignored: matches no known key under the top level/);
    assert.match(warnings.join("\n"), /REGISTRY_HTTP_ADRESS: ignored: matches no known key under http/);
    assert.match(warnings.join("\n"), /REGISTRY_HTTP_ADDR_PORT: ignored: http\.addr is a single value/);
    assert.match(warnings.join("\n"), /REGISTRY_NOTIFICATIONS_ENDPOINTS_3_URL: ignored: .*index 3 would leave a gap/);
    assert.match(warnings.join("\n"), /REGISTRY_VERSION: ignored/);
    assert.match(warnings.join("\n"), /REGISTRY_HTTP__ADDR: ignored/);
    assert.deepEqual(doc, base());
  });

  test("a value that is not valid YAML is used as a plain string, with a warning", () => {
    const { doc, warnings } = applyEnvOverrides(base(), { REGISTRY_HTTP_SECRET: "a: b: c" });
    assert.equal((doc.http as Record<string, unknown>).secret, "a: b: c");
    assert.match(warnings[0] ?? "", /REGISTRY_HTTP_SECRET: value is not valid YAML/);
  });

  test("validation says which variable a bad value came from", async () => {
    const text = "version: 0.1\nstorage:\n  s3:\n    region: r\n    bucket: b\n";
    const result = await validateConfigText(text, {
      env: { REGISTRY_STORAGE_S3_CHUNKSIZE: "1024", REGISTRY_HTTP_ADDR: "nowhere", REGISTRY_BOGUS: "1" },
      checkFiles: false,
    });
    const chunk = result.problems.find((p) => p.path === "storage.s3.chunksize");
    assert.equal(chunk?.source, "env");
    assert.equal(chunk?.env, "REGISTRY_STORAGE_S3_CHUNKSIZE");
    assert.match(chunk?.message ?? "", /must be at least 5242880 bytes .*\(from REGISTRY_STORAGE_S3_CHUNKSIZE\)/);
    assert.equal(chunk?.line, undefined);
    const addr = result.problems.find((p) => p.path === "http.addr");
    assert.match(addr?.message ?? "", /\(from REGISTRY_HTTP_ADDR\)/);
    const bogus = result.warnings.find((w) => w.env === "REGISTRY_BOGUS");
    assert.match(bogus?.message ?? "", /matches no known key/);
    assert.equal(bogus?.source, "env");
  });

  test("a second driver added from the environment is named in the problem", async () => {
    const result = await validateConfigText("version: 0.1\nstorage:\n  filesystem: {}\n", {
      env: { REGISTRY_STORAGE_INMEMORY: "" },
      checkFiles: false,
    });
    const storage = result.problems.find((p) => p.path === "storage");
    assert.match(storage?.message ?? "", /found 2: filesystem, inmemory \(REGISTRY_STORAGE_INMEMORY set keys here\)/);
    assert.equal(storage?.line, 2);
  });
});
