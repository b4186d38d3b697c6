import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { ConfigError, loadConfig, loadConfigWithWarnings } from "./load.js";
import type { Problem, ValidationResult } from "./problems.js";
import { formatProblem } from "./problems.js";
import { validateConfigText } from "./validate.js";

const fixturePath = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const cert = fixturePath("test-cert.pem");
const key = fixturePath("test-key.pem");
const otherKey = fixturePath("other-key.pem");

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-config-validate-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

/** A document from lines; "storage: inmemory" is added unless the lines configure storage. */
function yaml(...lines: string[]): string {
  const body = lines.join("\n");
  return `version: 0.1\n${/^storage:/m.test(body) ? "" : "storage: inmemory\n"}${body}\n`;
}

function validate(text: string, checkFiles = true): Promise<ValidationResult> {
  return validateConfigText(text, { env: {}, checkFiles, file: "config.yml" });
}

function problem(result: ValidationResult, path: string): Problem | undefined {
  return result.problems.find((p) => p.path === path);
}

function assertOk(result: ValidationResult): void {
  assert.deepEqual(result.problems.map((p) => formatProblem(p, "config.yml")), []);
  assert.equal(result.ok, true);
}

const bcrypt = (salt: string) => `$2y$05$${salt.padEnd(53, "a").slice(0, 53)}`;

describe("storage driver count", () => {
  test("none, two: problems; one: fine", async () => {
    const none = await validate("version: 0.1\nstorage:\n  delete: {enabled: true}\n");
    assert.match(problem(none, "storage")?.message ?? "", /no storage driver configured/);
    const missing = await validate("version: 0.1\nhttp: {addr: ':5000'}\n");
    assert.match(problem(missing, "storage")?.message ?? "", /is required/);
    const two = await validate(yaml("storage:", "  filesystem: {rootdirectory: /x}", "  inmemory:"));
    assert.match(problem(two, "storage")?.message ?? "", /exactly one storage driver may be configured, found 2: filesystem, inmemory/);
    assertOk(await validate(yaml("storage:", "  filesystem: {rootdirectory: /x}", "  delete: {enabled: true}", "  cache: {blobdescriptor: inmemory}")));
  });
});

describe("token auth", () => {
  test("needs realm, service, issuer and a certificate bundle", async () => {
    const result = await validate(yaml("auth:", "  token:", "    autoredirect: false"));
    assert.deepEqual(result.problems.map((p) => p.path).sort(), ["auth.token.issuer", "auth.token.realm", "auth.token.rootcertbundle", "auth.token.service"]);
    assert.match(problem(result, "auth.token.realm")?.message ?? "", /is required/);
  });

  test("the bundle must be readable PEM certificates", async () => {
    const token = (bundle: string) => yaml("auth:", "  token:", "    realm: https://auth/token", "    service: registry", "    issuer: berth", `    rootcertbundle: ${bundle}`);
    const unreadable = await validate(token(join(dir, "absent.pem")));
    assert.match(problem(unreadable, "auth.token.rootcertbundle")?.message ?? "", /cannot read .*absent\.pem: no such file/);
    const notPem = await validate(token(await file("not-pem.pem", "hello\n")));
    assert.match(problem(notPem, "auth.token.rootcertbundle")?.message ?? "", /holds no PEM certificate/);
    const broken = await validate(token(await file("broken.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")));
    assert.match(problem(broken, "auth.token.rootcertbundle")?.message ?? "", /certificate #1 is not a valid X\.509 certificate/);
    const keyOnly = await validate(token(key));
    assert.match(problem(keyOnly, "auth.token.rootcertbundle")?.message ?? "", /holds no PEM certificate/);
    assertOk(await validate(token(cert)));
  });

  test("a JWKS file may stand in for the bundle", async () => {
    const jwks = await file("keys.jwks", JSON.stringify({ keys: [] }));
    assertOk(await validate(yaml("auth:", "  token: {realm: r, service: s, issuer: i, jwks: " + jwks + "}")));
    const bad = await validate(yaml("auth:", "  token: {realm: r, service: s, issuer: i, jwks: " + (await file("bad.jwks", "{}")) + "}"));
    assert.match(problem(bad, "auth.token.jwks")?.message ?? "", /not a JSON Web Key Set \(no "keys" list\)/);
    // JSON.parse's own message would quote the file ("root:x:0:0"... is not valid JSON).
    const passwd = await validate(yaml("auth:", "  token: {realm: r, service: s, issuer: i, jwks: " + (await file("passwd", "root:x:0:0:root:/root:/bin/bash\n")) + "}"));
    assert.match(problem(passwd, "auth.token.jwks")?.message ?? "", /is not a JSON Web Key Set \(not valid JSON\)$/);
    assert.ok(!JSON.stringify(passwd.problems).includes("root:x"), JSON.stringify(passwd.problems));
  });

  test("only one auth method at a time", async () => {
    const result = await validate(yaml("auth:", "  silly: {realm: r, service: s}", "  token: {realm: r, service: s, issuer: i, rootcertbundle: " + cert + "}"));
    assert.match(problem(result, "auth")?.message ?? "", /exactly one auth method may be configured, found 2: silly, token/);
  });

  test("silly auth needs realm and service", async () => {
    const result = await validate(yaml("auth:", "  silly:"));
    assert.deepEqual(result.problems.map((p) => p.path).sort(), ["auth.silly.realm", "auth.silly.service"]);
    assertOk(await validate(yaml("auth: {silly: {realm: r, service: s}}")));
  });
});

describe("TLS", () => {
  test("certificate and key go together", async () => {
    const certOnly = await validate(yaml("http:", "  tls:", `    certificate: ${cert}`));
    assert.match(problem(certOnly, "http.tls.key")?.message ?? "", /is required with http\.tls\.certificate/);
    const keyOnly = await validate(yaml("http:", "  tls:", `    key: ${key}`));
    assert.match(problem(keyOnly, "http.tls.certificate")?.message ?? "", /is required with http\.tls\.key/);
    assertOk(await validate(yaml("http:", "  tls:", `    certificate: ${cert}`, `    key: ${key}`, "    minimumtls: tls1.2")));
  });

  test("both must be readable, valid and belong together", async () => {
    const unreadable = await validate(yaml("http:", "  tls:", `    certificate: ${join(dir, "nope.crt")}`, `    key: ${join(dir, "nope.key")}`));
    assert.match(problem(unreadable, "http.tls.certificate")?.message ?? "", /cannot read/);
    assert.match(problem(unreadable, "http.tls.key")?.message ?? "", /cannot read/);
    const mismatch = await validate(yaml("http:", "  tls:", `    certificate: ${cert}`, `    key: ${otherKey}`));
    assert.match(problem(mismatch, "http.tls.key")?.message ?? "", /does not belong to the certificate/);
    const notKey = await validate(yaml("http:", "  tls:", `    certificate: ${cert}`, `    key: ${await file("garbage.key", "garbage")}`));
    assert.match(problem(notKey, "http.tls.key")?.message ?? "", /not a usable unencrypted PEM private key/);
    const badVersion = await validate(yaml("http:", "  tls:", "    minimumtls: ssl3"));
    assert.match(problem(badVersion, "http.tls.minimumtls")?.message ?? "", /expected one of tls1\.0, tls1\.1, tls1\.2, tls1\.3/);
  });

  test("client CAs must be readable certificates", async () => {
    const bad = await validate(yaml("http:", "  tls:", `    certificate: ${cert}`, `    key: ${key}`, "    clientcas:", `      - ${cert}`, `      - ${join(dir, "missing-ca.pem")}`));
    assert.deepEqual(bad.problems.map((p) => p.path), ["http.tls.clientcas[1]"]);
    assert.equal(problem(bad, "http.tls.clientcas[1]")?.line, 9);
    assertOk(await validate(yaml("http:", "  tls:", `    certificate: ${cert}`, `    key: ${key}`, "    clientcas:", `      - ${cert}`)));
  });

  test("Let's Encrypt needs a cache file and an email", async () => {
    const result = await validate(yaml("http:", "  tls:", "    letsencrypt:", "      hosts: [registry.example.com]"));
    assert.deepEqual(result.problems.map((p) => p.path).sort(), ["http.tls.letsencrypt.cachefile", "http.tls.letsencrypt.email"]);
    assertOk(await validate(yaml("http:", "  tls:", "    letsencrypt: {cachefile: /tmp/le, email: ops@example.com}")));
  });
});

describe("durations and sizes", () => {
  test("durations must parse", async () => {
    const bad = await validate(yaml("storage:", "  inmemory:", "  maintenance:", "    uploadpurging: {enabled: true, age: 7d, interval: -1h}", "http: {draintimeout: soon}"));
    assert.match(problem(bad, "storage.maintenance.uploadpurging.age")?.message ?? "", /invalid duration "7d"/);
    assert.match(problem(bad, "storage.maintenance.uploadpurging.interval")?.message ?? "", /must not be negative/);
    assert.match(problem(bad, "http.draintimeout")?.message ?? "", /invalid duration "soon"/);
    const good = await validate(yaml("storage:", "  inmemory:", "  maintenance:", "    uploadpurging: {enabled: true, age: 168h, interval: 24h0m0s}", "http: {draintimeout: 60s}"));
    assertOk(good);
    assert.equal(good.config!.http.draintimeout, 60_000);
    assert.equal(good.config!.storage.maintenance?.uploadpurging?.interval, 86_400_000);
  });

  test("sizes must parse and respect the driver's limits", async () => {
    const s3 = (chunk: string) => yaml("storage:", "  s3:", "    region: us-east-1", "    bucket: b", `    chunksize: ${chunk}`);
    assert.match(problem(await validate(s3("abc")), "storage.s3.chunksize")?.message ?? "", /invalid size "abc"/);
    assert.match(problem(await validate(s3("1024")), "storage.s3.chunksize")?.message ?? "", /must be at least 5242880 bytes/);
    const good = await validate(s3("10MiB"));
    assertOk(good);
    assert.equal(good.config!.storage.s3?.chunksize, 10 * 1024 * 1024);
  });
});

describe("addresses", () => {
  test("tcp addresses are [host]:port", async () => {
    for (const addr of ["5000", "':99999'", "'localhost'", "'[::1:5000'"]) {
      const result = await validate(yaml(`http: {addr: ${addr}}`));
      assert.match(problem(result, "http.addr")?.message ?? "", /is not a listen address: expected \[host\]:port/, addr);
    }
    for (const addr of ["':5000'", "0.0.0.0:5000", "'[::1]:5000'", "localhost:0"]) {
      assertOk(await validate(yaml(`http: {addr: ${addr}}`)));
    }
  });

  test("unix sockets need net: unix", async () => {
    const tcp = await validate(yaml("http: {addr: /run/berth.sock}"));
    assert.match(problem(tcp, "http.addr")?.message ?? "", /for a unix socket set http\.net: unix/);
    assertOk(await validate(yaml("http: {net: unix, addr: /run/berth.sock}")));
    const empty = await validate(yaml("http: {net: unix, addr: ''}"));
    assert.match(problem(empty, "http.addr")?.message ?? "", /must be the path of a unix socket/);
    const long = await validate(yaml(`http: {net: unix, addr: /${"x".repeat(200)}}`));
    assert.match(problem(long, "http.addr")?.message ?? "", /the limit is 107/);
    const net = await validate(yaml("http: {net: udp}"));
    assert.match(problem(net, "http.net")?.message ?? "", /expected one of tcp, tcp4, tcp6, unix/);
  });

  test("the debug server address too", async () => {
    const bad = await validate(yaml("http: {debug: {addr: 5001}}"));
    assert.ok(problem(bad, "http.debug.addr"));
    assertOk(await validate(yaml("http: {debug: {addr: 'localhost:5001', prometheus: {enabled: true, path: /metrics}}}")));
  });
});

describe("htpasswd", () => {
  const htpasswd = (path: string) => yaml("auth:", "  htpasswd:", "    realm: basic-realm", `    path: ${path}`);

  test("the file must exist", async () => {
    const result = await validate(htpasswd(join(dir, "no-such.htpasswd")));
    assert.match(problem(result, "auth.htpasswd.path")?.message ?? "", /cannot read .*no-such\.htpasswd: no such file/);
  });

  test("every entry must be bcrypt", async () => {
    const path = await file(
      "mixed.htpasswd",
      [`alice:${bcrypt("alice")}`, "bob:$apr1$abc$0123456789abcdefghijkl", "# a comment", "", "carol:{SHA}qvTGHdzF6KLavt4PO0gs2a6pQ00=", "broken-line"].join("\n"),
    );
    const result = await validate(htpasswd(path));
    const messages = result.problems.map((p) => p.message);
    assert.equal(messages.length, 3);
    assert.match(messages[0] ?? "", /line 2 is not a valid htpasswd entry: expected user:bcrypt-hash/);
    assert.match(messages[1] ?? "", /line 5 is not a valid htpasswd entry/);
    assert.match(messages[2] ?? "", /line 6 is not a valid htpasswd entry/);
    assert.ok(result.problems.every((p) => p.path === "auth.htpasswd.path"));
  });

  test("a path pointing at another kind of file: line numbers, never its content", async () => {
    const shadow = ["root:$6$Zq9vX1sAltSalt$hashedSecretValue0123456789:19700:0:99999:7:::", "daemon:*:19700:0:99999:7:::", "operator:!:19700::::::"];
    const path = await file("shadow", shadow.join("\n") + "\n");
    const result = await validate(htpasswd(path));
    const shown = JSON.stringify([...result.problems, ...result.warnings]);
    assert.deepEqual(
      result.problems.map((p) => p.message),
      [1, 2, 3].map((n) => `${path} line ${n} is not a valid htpasswd entry: expected user:bcrypt-hash ($2a$, $2b$ or $2y$; create entries with \`htpasswd -B\`)`),
    );
    for (const fragment of ["root", "daemon", "operator", "$6$", "hashedSecretValue", "19700", "99999"]) assert.ok(!shown.includes(fragment), `${fragment} echoed: ${shown}`);
  });

  test("all-bcrypt files pass ($2a$, $2b$, $2y$); an empty one is a warning", async () => {
    const path = await file("good.htpasswd", [`alice:${bcrypt("x").replace("$2y$", "$2a$")}`, `bob:${bcrypt("y").replace("$2y$", "$2b$")}`, `carol:${bcrypt("z")}`, ""].join("\n"));
    assertOk(await validate(htpasswd(path)));
    const empty = await validate(htpasswd(await file("empty.htpasswd", "")));
    assertOk(empty);
    assert.match(empty.warnings.find((w) => w.path === "auth.htpasswd.path")?.message ?? "", /has no entries/);
  });

  test("realm and path are required", async () => {
    const result = await validate(yaml("auth:", "  htpasswd: {}"));
    assert.deepEqual(result.problems.map((p) => p.path).sort(), ["auth.htpasswd.path", "auth.htpasswd.realm"]);
  });
});

describe("http.prefix and http.host", () => {
  test("prefix starts and ends with /", async () => {
    for (const prefix of ["v2", "/v2", "v2/"]) {
      assert.match(problem(await validate(yaml(`http: {prefix: ${prefix}}`)), "http.prefix")?.message ?? "", /must start and end with "\/"/);
    }
    assertOk(await validate(yaml("http: {prefix: /my/nested/registry/}")));
    assertOk(await validate(yaml("http: {prefix: /}")));
  });

  test("host is an absolute URL", async () => {
    for (const host of ["registry.example.com", "/relative", "ftp://registry.example.com"]) {
      assert.ok(problem(await validate(yaml(`http: {host: '${host}'}`)), "http.host"), host);
    }
    assertOk(await validate(yaml("http: {host: 'https://myregistryaddress.org:5000'}")));
  });

  test("clientaddressheader is a header name, and a key Berth acts on", async () => {
    assert.match(problem(await validate(yaml("http: {clientaddressheader: 'X Forwarded For'}")), "http.clientaddressheader")?.message ?? "", /must be an HTTP header name/);
    const ok = await validate(yaml("http: {clientaddressheader: X-Forwarded-For}"));
    assertOk(ok);
    assert.deepEqual(ok.warnings.filter((w) => w.path.startsWith("http")), []);
  });
});

describe("other sections", () => {
  test("notification endpoints, proxy, redis, health", async () => {
    const bad = await validate(
      yaml(
        "notifications:",
        "  endpoints:",
        "    - name: alistener",
        "      url: not a url",
        "      timeout: 1000",
        "      threshold: many",
        "      headers: {Authorization: [Bearer x]}",
        "proxy: {username: u}",
        "redis: {addr: 'localhost:6379', db: -1, dialtimeout: 10ms}",
        "health: {storagedriver: {enabled: true, interval: 10s, threshold: 3}, http: [{uri: 'http://x', statuscode: 99}]}",
      ),
    );
    assert.deepEqual(bad.problems.map((p) => p.path).sort(), [
      "health.http[0].statuscode",
      "notifications.endpoints[0].threshold",
      "notifications.endpoints[0].url",
      "proxy.remoteurl",
      "redis.db",
    ]);
    const good = await validate(
      yaml(
        "notifications:",
        "  events: {includereferences: true}",
        "  endpoints:",
        "    - {name: l, url: 'https://hooks.example.com/event', timeout: 500ms, threshold: 5, backoff: 1s, ignoredmediatypes: [application/octet-stream], ignore: {actions: [pull]}}",
        "proxy: {remoteurl: 'https://registry-1.docker.io', username: u, password: p, ttl: 168h}",
        "redis: {addr: 'localhost:6379', password: secret, db: 0, dialtimeout: 10ms, pool: {maxidle: 16, maxactive: 64, idletimeout: 300s}, tls: {enabled: false}}",
        "middleware: {registry: [{name: cloudfront, options: {baseurl: 'https://x'}}]}",
        "reporting: {bugsnag: {apikey: k}}",
        "validation: {disabled: false, manifests: {urls: {allow: ['^https?://([^/]+\\.)*example\\.com/'], deny: ['^https?://www\\.example\\.com/']}}}",
        "catalog: {maxentries: 500}",
        "compatibility: {schema1: {enabled: false, signingkeyfile: /etc/registry/key.json}}",
      ),
    );
    assertOk(good);
    assert.equal(good.config!.proxy?.ttl, 168 * 3_600_000);
    assert.equal(good.config!.notifications?.endpoints?.[0]?.timeout, 500);
  });
});

describe("reporting", () => {
  test("every problem is listed, in file order", async () => {
    const text = [
      "version: 0.1",
      "storage:",
      "  filesystem: {rootdirectory: /x}",
      "  inmemory:",
      "  maintenance:",
      "    uploadpurging: {age: 7d}",
      "http:",
      "  addr: nowhere",
      "  prefix: v2",
      "  host: example.com",
      "  relativeurls: maybe",
      "auth:",
      "  token: {realm: r}",
      "",
    ].join("\n");
    const result = await validate(text, false);
    assert.deepEqual(
      result.problems.map((p) => `${p.line}:${p.column} ${p.path}`),
      [
        "2:1 storage",
        "6:26 storage.maintenance.uploadpurging.age",
        "8:9 http.addr",
        "9:11 http.prefix",
        "10:9 http.host",
        "11:17 http.relativeurls",
        "13:3 auth.token.rootcertbundle",
        "13:3 auth.token.service",
        "13:3 auth.token.issuer",
      ],
    );
  });

  test("a schema error points at the line and column of the value", async () => {
    const text = "version: 0.1\nstorage:\n  s3:\n    region: us-east-1\n    bucket: b\n    secure: sometimes\n";
    const result = await validate(text, false);
    assert.deepEqual(result.problems, [
      {
        path: "storage.s3.secure",
        message: 'expected a boolean (true or false), got the string "sometimes"',
        line: 6,
        column: 13,
        source: "file",
      },
    ]);
    assert.equal(formatProblem(result.problems[0]!, "config.yml"), 'config.yml:6:13: storage.s3.secure: expected a boolean (true or false), got the string "sometimes"');
  });

  test("a missing key points at its parent", async () => {
    const result = await validate("version: 0.1\nstorage:\n  s3:\n    region: us-east-1\n", false);
    assert.deepEqual([problem(result, "storage.s3.bucket")?.line, problem(result, "storage.s3.bucket")?.column], [3, 3]);
  });

  test("a YAML syntax error gives js-yaml's line and column", async () => {
    const result = await validate("version: 0.1\nstorage:\n  filesystem: {rootdirectory: /x\nhttp:\n  addr: :5000\n");
    assert.equal(result.ok, false);
    assert.equal(result.problems.length, 1);
    const [syntax] = result.problems;
    assert.equal(syntax?.path, "");
    assert.match(syntax?.message ?? "", /^YAML syntax error: /);
    assert.equal(syntax?.source, "file");
    assert.equal(syntax?.line, 4);
    assert.equal(typeof syntax?.column, "number");
    const tabs = await validate("version: 0.1\nstorage:\n\tinmemory: {}\n");
    assert.equal(tabs.problems[0]?.line, 3);
    const duplicate = await validate("version: 0.1\nstorage: inmemory\nstorage: inmemory\n");
    assert.match(duplicate.problems[0]?.message ?? "", /duplicated mapping key/);
    assert.equal(duplicate.problems[0]?.line, 3);
  });

  test("empty files and non-mappings are refused plainly", async () => {
    assert.match((await validate("")).problems[0]?.message ?? "", /the file is empty/);
    assert.match((await validate("# nothing here\n")).problems[0]?.message ?? "", /the file is empty/);
    assert.match((await validate("- a\n- b\n")).problems[0]?.message ?? "", /expected a YAML mapping/);
  });
});

describe("loadConfig", () => {
  test("throws a ConfigError listing every problem with file, line and column", async () => {
    const path = await file("bad.yml", "version: 0.1\nstorage:\n  filesystem: {}\n  inmemory: {}\nhttp:\n  addr: nowhere\n");
    await assert.rejects(loadConfig(path), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        `${path}:2:1: storage: exactly one storage driver may be configured, found 2: filesystem, inmemory`,
        `${path}:6:9: http.addr: "nowhere" is not a listen address: expected [host]:port such as ":5000", "0.0.0.0:5000" or "[::1]:5000"`,
      ]);
      assert.equal(error.details.length, 2);
      assert.match(error.message, /2 problems in/);
      return true;
    });
  });

  test("returns the config and its warnings", async () => {
    const path = await file("good.yml", "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /tmp/x\nfrobnicate: 1\nnotifications:\n  endpoints: []\n");
    const loaded = await loadConfigWithWarnings(path, { env: { REGISTRY_HTTP_ADDR: "127.0.0.1:5005" } });
    assert.equal(loaded.config.http.addr, "127.0.0.1:5005");
    assert.deepEqual(loaded.warningLines, [`${path}:5:1: frobnicate: unknown key: Berth ignores it`]);
  });

  test("a missing file is a ConfigError; no file means the built-in default", async () => {
    await assert.rejects(loadConfig(join(dir, "absent.yml")), (error: unknown) => error instanceof ConfigError && /no such file/.test(error.message));
    const loaded = await loadConfigWithWarnings(undefined, { env: {} });
    assert.equal(loaded.config.http.addr, ":5000");
    assert.deepEqual(loaded.warnings, []);
  });
});
