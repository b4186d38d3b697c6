import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import { unimplementedKeys } from "./features.js";
import { ConfigError, defaultConfigDocument, parseConfig, storageDriver, storageDriverNames } from "./load.js";
import type { Problem } from "./problems.js";
import { redactConfig } from "./redact.js";
import { validateConfigText } from "./validate.js";

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");
const noEnv = { env: {}, checkFiles: false } as const;
const paths = (list: Problem[]) => list.map((p) => p.path);
const find = (list: Problem[], path: string) => list.find((p) => p.path === path);

describe("LAIN and distribution example configs", () => {
  test("LAIN's s3 example parses with its values typed", async () => {
    const result = await validateConfigText(fixture("lain-s3.yml"), noEnv);
    assert.deepEqual(result.problems, []);
    assert.ok(result.ok);
    const config = result.config!;
    assert.equal(config.version, "0.1");
    assert.equal(config.log.level, "debug");
    assert.deepEqual(config.log.fields, { service: "registry", environment: "development" });
    assert.equal(config.storage.s3?.chunksize, 5242880);
    assert.equal(config.storage.s3?.secure, true);
    assert.equal(config.storage.s3?.regionendpoint, "http://s3.domain.svc");
    assert.equal(config.storage.cache?.layerinfo, "inmemory");
    assert.equal(config.storage.maintenance?.uploadpurging?.enabled, false);
    assert.equal(config.http.addr, ":5000");
    assert.equal(config.auth?.token?.issuer, "auth server");
    assert.deepEqual(storageDriverNames(config), ["s3"]);
    // The s3 driver, token auth and the cache (layerinfo, blobdescriptor's older name) are implemented: nothing to warn about.
    assert.equal(find(result.warnings, "storage.s3"), undefined);
    assert.equal(find(result.warnings, "auth.token"), undefined, "token auth is implemented");
    assert.equal(find(result.warnings, "storage.cache.layerinfo"), undefined);
    // uploadpurging is switched off: nothing to warn about.
    assert.equal(find(result.warnings, "storage.maintenance.uploadpurging"), undefined);
    assert.equal(result.warnings.filter((w) => /unknown key/.test(w.message)).length, 0);
  });

  test("with file checks, the only problem of the s3 example is its absent certificate bundle", async () => {
    const result = await validateConfigText(fixture("lain-s3.yml"), { env: {} });
    assert.deepEqual(paths(result.problems), ["auth.token.rootcertbundle"]);
    assert.match(result.problems[0]?.message ?? "", /cannot read \/lain\/app\/auth\/server\.pem: no such file/);
  });

  test("LAIN's oss example parses (internal may be an endpoint); a missing version is a warning", async () => {
    const result = await validateConfigText(fixture("lain-oss.yml"), noEnv);
    assert.deepEqual(result.problems, []);
    const oss = result.config!.storage.oss!;
    assert.equal(oss.internal, "optional internal endpoint");
    assert.equal(oss.encrypt, false);
    assert.equal(oss.chunksize, 5242880);
    assert.match(find(result.warnings, "")?.message ?? "", /version is missing/);
  });

  test("LAIN's delete/compatibility snippet is accepted as part of a config", async () => {
    // The snippet adds storage.delete and compatibility.schema1; merge it the way an operator would.
    const snippet = fixture("lain-delete.yml");
    const merged =
      fixture("lain-s3.yml").replace("storage:\n", "storage:\n    delete:\n        enabled: true\n") + snippet.slice(snippet.indexOf("compatibility:"));
    const result = await validateConfigText(merged, noEnv);
    assert.deepEqual(result.problems, []);
    assert.equal(result.config!.storage.delete?.enabled, true);
    assert.equal(result.config!.compatibility?.schema1?.disablesignaturestore, true);
    assert.equal(result.warnings.filter((w) => /unknown key/.test(w.message)).length, 0);
    assert.ok(find(result.warnings, "compatibility"));
  });

  test("the delete snippet alone lacks a storage driver, as in distribution", async () => {
    const result = await validateConfigText(fixture("lain-delete.yml"), noEnv);
    assert.deepEqual(paths(result.problems), ["storage"]);
    assert.match(result.problems[0]!.message, /no storage driver configured/);
  });

  test("the course reference reduced to one driver parses, durations included", async () => {
    const result = await validateConfigText(fixture("reference-single.yml"), noEnv);
    assert.deepEqual(result.problems, []);
    const config = result.config!;
    assert.equal(config.storage.maintenance?.uploadpurging?.age, 168 * 3_600_000);
    assert.equal(config.storage.maintenance?.uploadpurging?.interval, 24 * 3_600_000);
    assert.deepEqual(config.http.headers, { "X-Content-Type-Options": ["nosniff"] });
    assert.deepEqual(config.http.tls?.clientcas, ["/path/to/ca.pem", "/path/to/another/ca.pem"]);
    assert.equal(config.http.prefix, "/my/nested/registry/");
    assert.equal(config.log.hooks?.[0]?.type, "mail");
    assert.equal(result.warnings.filter((w) => /unknown key/.test(w.message)).length, 0);
    for (const key of ["http.tls", "http.prefix", "http.host", "http.headers", "http.debug", "storage.maintenance.uploadpurging", "auth.token", "log.hooks"]) {
      assert.equal(find(result.warnings, key), undefined, `${key} is implemented and must not be warned about`);
    }
  });

  test("the full storage reference (every driver, placeholders) lists every problem", async () => {
    const result = await validateConfigText(fixture("reference-storage.yml"), noEnv);
    assert.equal(result.ok, false);
    const storage = find(result.problems, "storage");
    assert.match(storage?.message ?? "", /exactly one storage driver may be configured, found 8: filesystem, azure, gcs, s3, rados, swift, oss, inmemory/);
    assert.deepEqual(paths(result.problems), ["storage", "storage.oss.encrypt", "storage.oss.secure", "storage.oss.chunksize"]);
    assert.deepEqual([find(result.problems, "storage.oss.encrypt")?.line, find(result.problems, "storage.oss.encrypt")?.column], [48, 14]);
  });

  test("LAIN's registry.md snippets (filesystem; token auth with placeholders) parse", async () => {
    const filesystem = await validateConfigText("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n", noEnv);
    assert.deepEqual(filesystem.problems, []);
    assert.deepEqual(filesystem.warnings, []);
    const token = await validateConfigText(
      'version: 0.1\nstorage: inmemory\nauth:\n  token:\n    realm: authorization server address\n    issuer: "auth server"\n    service: "domain"\n    rootcertbundle: public certificate\n',
      noEnv,
    );
    assert.deepEqual(token.problems, []);
    assert.equal(token.config!.auth?.token?.rootcertbundle, "public certificate");
  });
});

describe("schema coercion", () => {
  test("booleans, numbers and strings are coerced the way distribution reads them", async () => {
    const text = [
      "version: 0.1",
      "storage:",
      "  s3: {region: r, bucket: b, secure: 'yes', encrypt: Off, v4auth: 'TRUE', chunksize: '10485760', multipartcopymaxconcurrency: '4'}",
      "  delete: {enabled: 'true'}",
      "http: {secret: 12345, addr: ':5000', relativeurls: 'false'}",
    ].join("\n");
    const result = await validateConfigText(text, noEnv);
    assert.deepEqual(result.problems, []);
    const { s3 } = result.config!.storage;
    assert.deepEqual([s3?.secure, s3?.encrypt, s3?.v4auth, s3?.chunksize, s3?.multipartcopymaxconcurrency], [true, false, true, 10485760, 4]);
    assert.equal(result.config!.storage.delete?.enabled, true);
    assert.equal(result.config!.http.secret, "12345");
    assert.equal(result.config!.http.relativeurls, false);
  });

  test("bare names select a driver or auth method without parameters", () => {
    const config = parseConfig({ version: "0.1", storage: "inmemory", auth: { silly: { realm: "r", service: "s" } } });
    assert.deepEqual(storageDriver(config), { name: "inmemory", params: {} });
    assert.equal(config.auth?.silly?.realm, "r");
    const empty = parseConfig({ version: 0.1, storage: { inmemory: null } });
    assert.deepEqual(storageDriver(empty), { name: "inmemory", params: {} });
  });

  test("gc.grace: 10m by default, a Go duration, never negative, from REGISTRY_GC_GRACE too", async () => {
    assert.equal(parseConfig({ version: "0.1", storage: { inmemory: null } }).gc.grace, 10 * 60_000);
    assert.equal(parseConfig({ version: "0.1", storage: { inmemory: null }, gc: { grace: "1h30m" } }).gc.grace, 90 * 60_000);
    assert.equal(parseConfig({ version: "0.1", storage: { inmemory: null }, gc: { grace: "0s" } }).gc.grace, 0);
    const negative = await validateConfigText("version: 0.1\nstorage: inmemory\ngc:\n  grace: -5m\n", noEnv);
    assert.deepEqual(paths(negative.problems), ["gc.grace"]);
    const fromEnv = await validateConfigText("version: 0.1\nstorage: inmemory\n", { ...noEnv, env: { REGISTRY_GC_GRACE: "2h" } });
    assert.deepEqual(fromEnv.problems, []);
    assert.equal(fromEnv.config?.gc.grace, 2 * 60 * 60_000);
    assert.deepEqual(fromEnv.warnings, [], "an implemented key, not an unknown one");
  });

  test("defaults: filesystem root, http addr, log level, console", () => {
    const config = parseConfig({ version: "0.1", storage: { filesystem: null } });
    assert.equal(storageDriver(config).params.rootdirectory, "/var/lib/registry");
    assert.equal(config.http.addr, ":5000");
    assert.equal(config.http.net, "tcp");
    assert.equal(config.log.level, "info");
    assert.equal(config.log.formatter, "text");
    assert.equal(config.console.enabled, true);
    assert.equal(config.etcd, undefined);
  });

  test("the built-in default document is valid", () => {
    const config = parseConfig(defaultConfigDocument());
    assert.deepEqual(storageDriver(config), { name: "filesystem", params: { rootdirectory: resolve("./data") } });
    assert.equal(config.storage.delete?.enabled, true);
  });

  test("log levels: case-insensitive; panic/fatal map to error and trace to debug, with a warning", async () => {
    for (const [written, level] of [["DEBUG", "debug"], ["panic", "error"], ["fatal", "error"], ["trace", "debug"]] as const) {
      const result = await validateConfigText(`version: 0.1\nstorage: inmemory\nlog:\n  level: ${written}\n`, noEnv);
      assert.deepEqual(result.problems, []);
      assert.equal(result.config!.log.level, level);
      assert.equal(result.warnings.some((w) => w.path === "log.level"), written !== "DEBUG");
    }
    const bad = await validateConfigText("version: 0.1\nstorage: inmemory\nlog:\n  level: loud\n", noEnv);
    assert.match(find(bad.problems, "log.level")?.message ?? "", /expected one of error, warn, info, debug/);
  });

  test("the deprecated top-level loglevel is accepted and becomes log.level", async () => {
    const result = await validateConfigText("version: 0.1\nloglevel: warn\nstorage: inmemory\n", noEnv);
    assert.deepEqual(result.problems, []);
    assert.equal(result.config!.log.level, "warn");
    assert.match(find(result.warnings, "loglevel")?.message ?? "", /deprecated; use log\.level/);
  });

  test("only version 0.1 is read", async () => {
    const result = await validateConfigText("version: 0.2\nstorage: inmemory\n", noEnv);
    assert.match(find(result.problems, "version")?.message ?? "", /unsupported version "0.2"/);
  });

  test("Berth's etcd and console sections", async () => {
    const result = await validateConfigText(
      "version: 0.1\nstorage: inmemory\netcd:\n  endpoints: http://10.0.0.1:2379, http://10.0.0.2:2379\n  dialtimeout: 2s\nconsole:\n  enabled: false\n",
      noEnv,
    );
    assert.deepEqual(result.problems, []);
    const etcd = result.config!.etcd!;
    assert.deepEqual(etcd.endpoints, ["http://10.0.0.1:2379", "http://10.0.0.2:2379"]);
    assert.equal(etcd.authkey, "/lain/config/auth/registry");
    assert.equal(etcd.dialtimeout, 2000);
    assert.equal(result.config!.console.enabled, false);
    const bad = await validateConfigText("version: 0.1\nstorage: inmemory\netcd:\n  endpoints: []\n", noEnv);
    assert.match(find(bad.problems, "etcd.endpoints")?.message ?? "", /at least one endpoint/);
    const notUrl = await validateConfigText("version: 0.1\nstorage: inmemory\netcd:\n  endpoints: [10.0.0.1:2379]\n", noEnv);
    assert.ok(find(notUrl.problems, "etcd.endpoints[0]"));
  });

  test("unknown keys are kept but warned about, with a hint for case mistakes", async () => {
    const result = await validateConfigText("version: 0.1\nstorage:\n  filesystem:\n    rootDirectory: /x\nhttp:\n  adress: ':5000'\nfrobnicate: true\n", noEnv);
    assert.deepEqual(result.problems, []);
    const hint = find(result.warnings, "storage.filesystem.rootDirectory");
    assert.match(hint?.message ?? "", /did you mean "rootdirectory"/);
    assert.deepEqual([hint?.line, hint?.column], [4, 5]);
    assert.match(find(result.warnings, "http.adress")?.message ?? "", /unknown key/);
    assert.match(find(result.warnings, "frobnicate")?.message ?? "", /unknown key/);
    assert.equal((result.config as Record<string, unknown>).frobnicate, true);
  });

  test("unknown storage drivers and auth methods are problems; gcs/rados are accepted with a warning saying why", async () => {
    const unknown = await validateConfigText("version: 0.1\nstorage:\n  scs: {accesskey: a}\nauth:\n  ldap: {}\n", noEnv);
    assert.match(find(unknown.problems, "storage.scs")?.message ?? "", /unknown storage driver "scs"/);
    assert.match(find(unknown.problems, "auth.ldap")?.message ?? "", /unknown auth method "ldap"/);
    for (const [driver, why] of [["gcs", /no Google Cloud Storage server/], ["rados", /removed its rados driver/]] as const) {
      const result = await validateConfigText(`version: 0.1\nstorage:\n  ${driver}:\n    bucket: b\n`, noEnv);
      assert.deepEqual(result.problems, [], driver);
      assert.match(find(result.warnings, `storage.${driver}`)?.message ?? "", /not implemented by Berth yet/);
      assert.match(find(result.warnings, `storage.${driver}`)?.message ?? "", why);
    }
    const bare = await validateConfigText("version: 0.1\nstorage: gcs\n", noEnv);
    assert.ok(find(bare.warnings, "storage.gcs"));
  });

  test("azure is typed: its required parameters are problems, REGISTRY_STORAGE_AZURE_* fill them, the key is redacted", async () => {
    const missing = await validateConfigText("version: 0.1\nstorage:\n  azure:\n    accountname: a\n", noEnv);
    assert.deepEqual(paths(missing.problems), ["storage.azure.accountkey", "storage.azure.container"]);
    const env = { REGISTRY_STORAGE_AZURE_ACCOUNTKEY: "a2V5", REGISTRY_STORAGE_AZURE_CONTAINER: "registry" };
    const filled = await validateConfigText("version: 0.1\nstorage:\n  azure:\n    accountname: a\n", { env, checkFiles: false });
    assert.deepEqual(filled.problems, []);
    assert.equal(find(filled.warnings, "storage.azure"), undefined, "azure is implemented");
    const redacted = redactConfig(filled.config!) as { storage: { azure: { accountkey: string; container: string } } };
    assert.deepEqual([redacted.storage.azure.accountkey, redacted.storage.azure.container], ["[redacted]", "registry"]);
  });

  test("swift is typed: REGISTRY_STORAGE_SWIFT_* fill its parameters, the password is redacted, a bad chunksize is a problem", async () => {
    const text = "version: 0.1\nstorage:\n  swift:\n    authurl: http://rgw:7480/auth/v1.0\n    username: u\n";
    const missing = await validateConfigText(text, noEnv);
    assert.deepEqual(paths(missing.problems), ["storage.swift.password", "storage.swift.container"]);
    const env = { REGISTRY_STORAGE_SWIFT_PASSWORD: "pw", REGISTRY_STORAGE_SWIFT_CONTAINER: "registry", REGISTRY_STORAGE_SWIFT_CHUNKSIZE: "8MiB" };
    const filled = await validateConfigText(text, { env, checkFiles: false });
    assert.deepEqual(filled.problems, []);
    assert.equal(find(filled.warnings, "storage.swift"), undefined, "swift is implemented");
    const redacted = redactConfig(filled.config!) as { storage: { swift: { password: string; container: string; chunksize: number } } };
    assert.deepEqual([redacted.storage.swift.password, redacted.storage.swift.container, redacted.storage.swift.chunksize], ["[redacted]", "registry", 8 * 1024 * 1024]);
    const small = await validateConfigText(`${text}    password: p\n    container: c\n    chunksize: 1024\n`, noEnv);
    assert.deepEqual(paths(small.problems), ["storage.swift.chunksize"]);
  });

  test("parseConfig keeps working for in-memory documents and lists every problem", () => {
    const config = parseConfig({
      version: "0.1",
      log: { level: "error" },
      storage: { filesystem: { rootdirectory: "/tmp/x" }, delete: { enabled: true } },
      http: { addr: "127.0.0.1:0", secret: "interop" },
    });
    assert.equal(config.http.addr, "127.0.0.1:0");
    assert.throws(
      () => parseConfig({ version: "0.1", storage: { filesystem: {}, inmemory: {} }, http: { addr: "nope", prefix: "x" } }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.problems.length, 3);
        assert.match(error.problems.join("\n"), /storage: exactly one storage driver/);
        assert.match(error.problems.join("\n"), /http\.addr: "nope" is not a listen address/);
        assert.match(error.problems.join("\n"), /http\.prefix: must start and end with "\/"/);
        return true;
      },
    );
  });

  test("unimplementedKeys names what Berth does not do yet, and nothing switched off", () => {
    const config = parseConfig({
      version: "0.1",
      storage: { s3: { region: "r", bucket: "b" }, maintenance: { uploadpurging: { enabled: false }, readonly: { enabled: true } } },
      http: { addr: ":5000", net: "unix", tls: { certificate: "/c", key: "/k" } },
      auth: { htpasswd: { realm: "r", path: "/p" } },
      notifications: { endpoints: [{ name: "n", url: "http://x" }] },
      validation: { disabled: true },
      log: { accesslog: { disabled: true } },
      etcd: { endpoints: ["http://127.0.0.1:2379"] },
    });
    assert.deepEqual(unimplementedKeys(config).sort(), ["http.net"]);
    assert.deepEqual(unimplementedKeys(config, { drivers: ["filesystem", "inmemory"] }).includes("storage.s3"), true, "a driver not available is named");
  });
});
