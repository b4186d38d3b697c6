/**
 * silly and htpasswd auth through the real engine over HTTP, the htpasswd file's rules (bcrypt
 * only, reload on change), and its login limits.
 */
import assert from "node:assert/strict";
import { utimes, writeFile } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createHtpasswdController } from "../../server/auth/basic.js";
import { HtpasswdError, HtpasswdFile } from "../../server/auth/htpasswd.js";
import { parseHtpasswd } from "../../server/auth/htpasswd-entries.js";
import { createSillyController } from "../../server/auth/silly.js";
import { clientAddress } from "../../server/client-address.js";
import { LoginRateLimit } from "../../server/login-rate-limit.js";
import type { AccessController } from "../../server/registry/access.js";
import { basicHeader, capturingLogger, htpasswdText, removeDir, startTestRegistry, tempDir, type TestRegistry } from "./harness.js";
import { eventually } from "../support/eventually.js";

async function call(registry: TestRegistry, path: string, init: { method?: string; authorization?: string; forwardedFor?: string } = {}) {
  const res = await fetch(`${registry.url}${path}`, {
    method: init.method ?? "GET",
    headers: { ...(init.authorization ? { Authorization: init.authorization } : {}), ...(init.forwardedFor ? { "X-Forwarded-For": init.forwardedFor } : {}) },
  });
  const text = await res.text();
  return {
    status: res.status,
    challenge: res.headers.get("www-authenticate"),
    retryAfter: res.headers.get("retry-after"),
    body: text ? (JSON.parse(text) as { errors?: { code: string }[] }) : {},
  };
}

describe("silly auth", () => {
  let registry: TestRegistry;
  before(async () => {
    const controller = createSillyController({ realm: "https://silly.test/token", service: "silly-registry" });
    registry = await startTestRegistry({ access: () => controller });
  });
  after(() => registry.close());

  test("no Authorization header: 401 with a Bearer challenge", async () => {
    const res = await call(registry, "/v2/");
    assert.equal(res.status, 401);
    assert.equal(res.body.errors?.[0]?.code, "UNAUTHORIZED");
    assert.equal(res.challenge, 'Bearer realm="https://silly.test/token",service="silly-registry"');
  });
  test("the challenge names the scopes the request needs", async () => {
    const res = await call(registry, "/v2/team/app/blobs/uploads/", { method: "POST" });
    assert.equal(res.status, 401);
    assert.equal(res.challenge, 'Bearer realm="https://silly.test/token",service="silly-registry",scope="repository:team/app:pull,push"');
  });
  test("any Authorization header passes, whatever it holds", async () => {
    assert.equal((await call(registry, "/v2/", { authorization: "Bearer whatever" })).status, 200);
    assert.equal((await call(registry, "/v2/team/app/blobs/uploads/", { method: "POST", authorization: "Basic Zm9vOmJhcg==" })).status, 202);
  });
});

describe("htpasswd auth", () => {
  let dir: string;
  let file: string;
  let registry: TestRegistry;
  let controller: AccessController;
  const logger = capturingLogger();

  before(async () => {
    dir = await tempDir("htpasswd");
    file = join(dir, "users.htpasswd");
    await writeFile(file, `# Berth test users\n${htpasswdText({ alice: "wonderland", bob: "builder" })}`);
    controller = createHtpasswdController({ realm: "Berth Registry", path: file, logger });
    registry = await startTestRegistry({ access: () => controller, logger });
  });
  after(async () => {
    await registry.close();
    await removeDir(dir);
  });

  test("no credentials: 401 with a Basic challenge naming the realm", async () => {
    const res = await call(registry, "/v2/");
    assert.equal(res.status, 401);
    assert.equal(res.body.errors?.[0]?.code, "UNAUTHORIZED");
    assert.equal(res.challenge, 'Basic realm="Berth Registry"');
  });
  test("right password: everything is allowed (as distribution)", async () => {
    const auth = basicHeader("alice", "wonderland");
    assert.equal((await call(registry, "/v2/", { authorization: auth })).status, 200);
    assert.equal((await call(registry, "/v2/_catalog", { authorization: auth })).status, 200);
    assert.equal((await call(registry, "/v2/team/app/blobs/uploads/", { method: "POST", authorization: auth })).status, 202);
  });
  test("wrong password, unknown user, Bearer instead of Basic: 401", async () => {
    for (const authorization of [basicHeader("alice", "wrong"), basicHeader("mallory", "wonderland"), "Bearer abc", "Basic !!!"]) {
      const res = await call(registry, "/v2/", { authorization });
      assert.equal(res.status, 401, authorization);
      assert.equal(res.challenge, 'Basic realm="Berth Registry"');
    }
  });
  test("a password containing ':' (only the first ':' separates the user)", async () => {
    await writeFile(file, htpasswdText({ alice: "wonderland", carol: "a:b:c" }));
    await utimes(file, new Date(), new Date(Date.now() + 5_000));
    assert.equal((await call(registry, "/v2/", { authorization: basicHeader("carol", "a:b:c") })).status, 200);
  });
  test("the file is re-read when it changes: a removed user is refused, a new one accepted", async () => {
    await writeFile(file, htpasswdText({ alice: "wonderland", dave: "new" }));
    await utimes(file, new Date(), new Date(Date.now() + 10_000));
    assert.equal((await call(registry, "/v2/", { authorization: basicHeader("dave", "new") })).status, 200);
    assert.equal((await call(registry, "/v2/", { authorization: basicHeader("bob", "builder") })).status, 401);
  });
  test("a changed password takes effect (no stale cache)", async () => {
    assert.equal((await call(registry, "/v2/", { authorization: basicHeader("alice", "wonderland") })).status, 200);
    await writeFile(file, htpasswdText({ alice: "looking-glass" }));
    await utimes(file, new Date(), new Date(Date.now() + 15_000));
    assert.equal((await call(registry, "/v2/", { authorization: basicHeader("alice", "wonderland") })).status, 401);
    assert.equal((await call(registry, "/v2/", { authorization: basicHeader("alice", "looking-glass") })).status, 200);
  });
  test("on reload, a non-bcrypt entry is refused and logged; the other users keep working", async () => {
    await writeFile(file, `${htpasswdText({ alice: "looking-glass" })}eve:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n`);
    await utimes(file, new Date(), new Date(Date.now() + 20_000));
    assert.equal((await call(registry, "/v2/", { authorization: basicHeader("eve", "password") })).status, 401);
    assert.equal((await call(registry, "/v2/", { authorization: basicHeader("alice", "looking-glass") })).status, 200);
    await eventually(() => logger.lines.some((l) => l.includes("htpasswd entry refused") && l.includes("line 2 is not a valid htpasswd entry")), 1_000, "the log line");
    assert.ok(!logger.lines.some((l) => l.includes("eve:") || l.includes("{SHA}")), "the refused line is not logged");
  });
});

describe("htpasswd file", () => {
  let dir: string;
  before(async () => {
    dir = await tempDir("htpasswd-file");
  });
  after(() => removeDir(dir));

  test("$2y$ (htpasswd -B), $2a$ and $2b$ entries verify", async () => {
    const path = join(dir, "variants");
    const y = htpasswdText({ y: "pw" });
    await writeFile(path, y + y.replace("y:", "a:").replace("$2y$", "$2a$") + y.replace("y:", "b:").replace("$2y$", "$2b$"));
    const users = new HtpasswdFile(path, capturingLogger());
    assert.deepEqual(users.names().sort(), ["a", "b", "y"]);
    for (const name of ["a", "b", "y"]) {
      assert.equal(await users.verify(name, "pw"), true, name);
      assert.equal(await users.verify(name, "PW"), false, name);
    }
  });

  test("a non-bcrypt entry (MD5, SHA1, crypt, plain) refuses the file at load, naming user and line", async () => {
    const path = join(dir, "mixed");
    const entries = [
      "md5:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/",
      "sha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
      "crypt:rl0uYBvCmA2Yw",
      "plain:secret",
    ];
    await writeFile(path, htpasswdText({ ok: "pw" }) + entries.join("\n"));
    assert.throws(
      () => new HtpasswdFile(path, capturingLogger()),
      (error: unknown) => {
        assert.ok(error instanceof HtpasswdError);
        assert.equal(error.problems.length, 4);
        assert.match(error.message, /line 2 is not a valid htpasswd entry/);
        assert.match(error.message, /line 5 is not a valid htpasswd entry/);
        assert.ok(!/md5|plain|secret|apr1/.test(error.message), error.message);
        assert.match(error.message, /htpasswd -B/);
        return true;
      },
    );
  });

  test("a missing file refuses at load", () => {
    assert.throws(() => new HtpasswdFile(join(dir, "absent"), capturingLogger()), /cannot read the htpasswd file/);
  });

  test("a file that vanishes later keeps the users loaded before, and says so once", async () => {
    const path = join(dir, "vanishing");
    await writeFile(path, htpasswdText({ alice: "pw" }));
    const logger = capturingLogger();
    const users = new HtpasswdFile(path, logger);
    await removeDir(path);
    assert.equal(await users.verify("alice", "pw"), true);
    assert.equal(await users.verify("alice", "pw"), true);
    assert.equal(logger.lines.filter((l) => l.includes("cannot read the htpasswd file")).length, 1);
  });

  test("parseHtpasswd: comments, blank lines, malformed lines, duplicates", () => {
    const parsed = parseHtpasswd(`# comment\n\nnocolon\n${htpasswdText({ x: "1" })}${htpasswdText({ x: "2" })}`, "f");
    assert.deepEqual([...parsed.users.keys()], ["x"]);
    assert.deepEqual(parsed.problems, ["f line 3 is not a valid htpasswd entry: expected user:bcrypt-hash ($2a$, $2b$ or $2y$; create entries with `htpasswd -B`)"]);
    assert.deepEqual(parsed.warnings, ["f line 5 names the user of line 4 again; the later entry wins"]);
  });
});

describe("htpasswd login limits", () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await tempDir("htpasswd-limits");
    file = join(dir, "users.htpasswd");
    await writeFile(file, htpasswdText({ alice: "wonderland", bob: "builder" }));
  });
  after(() => removeDir(dir));

  /** A registry whose controller counts the password checks that really ran (bcrypt). */
  async function start(clientAddressHeader?: string) {
    const logins = {
      limits: { perUser: new LoginRateLimit(3, 60_000), perAddress: new LoginRateLimit(5, 60_000) },
      clientAddress: (req: IncomingMessage) => clientAddress(req, clientAddressHeader),
    };
    const controller = createHtpasswdController({ realm: "Berth Registry", path: file, logger: capturingLogger(), logins });
    const verify = controller.file.verify.bind(controller.file);
    const checks = { count: 0 };
    controller.file.verify = (user, password) => {
      checks.count++;
      return verify(user, password);
    };
    const registry = await startTestRegistry({ access: () => controller });
    return { registry, checks };
  }

  test("repeated wrong passwords: 429 TOOMANYREQUESTS with Retry-After, without checking the password; other users and a spoofed X-Forwarded-For change nothing", async () => {
    const { registry, checks } = await start();
    try {
      for (let i = 0; i < 3; i++) assert.equal((await call(registry, "/v2/", { authorization: basicHeader("alice", "guess") })).status, 401);
      assert.equal(checks.count, 3);
      const limited = await call(registry, "/v2/", { authorization: basicHeader("alice", "wonderland") });
      assert.equal(limited.status, 429);
      assert.equal(limited.body.errors?.[0]?.code, "TOOMANYREQUESTS");
      const wait = Number(limited.retryAfter);
      assert.ok(wait > 0 && wait <= 60, `Retry-After ${limited.retryAfter}`);
      assert.equal(checks.count, 3, "no bcrypt while limited");
      // Without http.clientaddressheader the header is the client's own word.
      assert.equal((await call(registry, "/v2/", { authorization: basicHeader("alice", "wonderland"), forwardedFor: "203.0.113.7" })).status, 429);
      // bob's account from the same address is not locked by alice's failures…
      assert.equal((await call(registry, "/v2/", { authorization: basicHeader("bob", "builder") })).status, 200);
      // …until the address itself has failed 5 times, whatever the names.
      assert.equal((await call(registry, "/v2/", { authorization: basicHeader("carol", "x") })).status, 401);
      assert.equal((await call(registry, "/v2/", { authorization: basicHeader("dave", "x") })).status, 401);
      assert.equal((await call(registry, "/v2/", { authorization: basicHeader("bob", "builder") })).status, 429);
      // No credentials at all is no login attempt: still the challenge.
      assert.equal((await call(registry, "/v2/")).status, 401);
    } finally {
      await registry.close();
    }
  });

  test("behind a proxy (http.clientaddressheader): clients are told apart by the last address the proxy added", async () => {
    const { registry } = await start("X-Forwarded-For");
    try {
      for (let i = 0; i < 3; i++) assert.equal((await call(registry, "/v2/", { authorization: basicHeader("alice", "guess"), forwardedFor: "198.51.100.1" })).status, 401);
      assert.equal((await call(registry, "/v2/", { authorization: basicHeader("alice", "wonderland"), forwardedFor: "198.51.100.1" })).status, 429);
      assert.equal((await call(registry, "/v2/", { authorization: basicHeader("alice", "wonderland"), forwardedFor: "198.51.100.2" })).status, 200);
      // An address the client wrote before the proxy's own entry does not help it.
      assert.equal((await call(registry, "/v2/", { authorization: basicHeader("alice", "wonderland"), forwardedFor: "198.51.100.9, 198.51.100.1" })).status, 429);
    } finally {
      await registry.close();
    }
  });
});
