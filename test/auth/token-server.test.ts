/**
 * The built-in token server: its rules, its signing key on disk, and its HTTP endpoint — tokens
 * are checked with jose's decoder and with the registry's token controller (what a registry
 * trusting the server's certificate would do).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { parseConfig } from "../../server/config/load.js";
import { loadOrCreateSigningKey, loadSigningKey } from "../../server/auth/keys.js";
import { libtrustKeyId } from "../../server/auth/libtrust.js";
import { allowedActions, grantAccess, parseScope, parseScopes, type AccessPolicy } from "../../server/auth/rules.js";
import { createTokenController } from "../../server/auth/token.js";
import { createTokenServer, isTokenServerPath, type TokenServer } from "../../server/auth/token-server.js";
import { clientAddress } from "../../server/client-address.js";
import { LoginRateLimit } from "../../server/login-rate-limit.js";
import { requireCommands } from "../support/commands.js";
import { basicHeader, capturingLogger, htpasswdText, removeDir, startTestRegistry, tempDir, type TestRegistry } from "./harness.js";

const run = promisify(execFile);

describe("token server rules", () => {
  test("parseScope: type, name (which may hold ':'), actions; class dropped; junk refused", () => {
    assert.deepEqual(parseScope("repository:team/app:pull,push"), { type: "repository", name: "team/app", actions: ["pull", "push"] });
    assert.deepEqual(parseScope("repository:localhost:5000/app:pull"), { type: "repository", name: "localhost:5000/app", actions: ["pull"] });
    assert.deepEqual(parseScope("repository(plugin):team/app:pull"), { type: "repository", name: "team/app", actions: ["pull"] });
    assert.deepEqual(parseScope("registry:catalog:*"), { type: "registry", name: "catalog", actions: ["*"] });
    for (const bad of ["", "repository", "repository:app", "repository::pull", ":app:pull", "repository:app:", "repo sitory:app:pull"]) {
      assert.equal(parseScope(bad), undefined, bad);
    }
    assert.deepEqual(
      parseScopes(["repository:a:pull repository:b:push", "registry:catalog:*", "junk"]).map((s) => s.name),
      ["a", "b", "catalog"],
    );
  });

  const defaults: AccessPolicy = { admins: ["alice"] };
  const repo = (actions: string[], name = "team/app") => ({ type: "repository", name, actions });

  test("defaults: anonymous nothing, users pull everything, admins everything incl. delete and catalog", () => {
    const scopes = [repo(["pull", "push", "delete", "*"]), { type: "registry", name: "catalog", actions: ["*"] }];
    assert.deepEqual(grantAccess(defaults, undefined, scopes), []);
    assert.deepEqual(grantAccess(defaults, "bob", scopes), [repo(["pull"])]);
    assert.deepEqual(grantAccess(defaults, "alice", scopes), [repo(["pull", "push", "delete", "*"]), { type: "registry", name: "catalog", actions: ["*"] }]);
  });

  test("custom rules: users, groups, anonymous, patterns, union of matching rules", () => {
    const policy: AccessPolicy = {
      admins: ["root"],
      groups: { ci: ["builder", "deployer"] },
      rules: [
        { anonymous: true, repositories: ["public/**"], actions: ["pull"] },
        { groups: ["ci"], repositories: ["team/*"], actions: ["pull", "push"] },
        { users: ["deployer"], repositories: ["team/*"], actions: ["delete"] },
        { users: ["auditor"], actions: ["catalog"] },
        { users: ["*"], repositories: ["shared"], actions: ["pull"] },
      ],
    };
    const actions = (account: string | undefined, name: string) => [...allowedActions(policy, account, "repository", name)].sort();
    assert.deepEqual(actions(undefined, "public/x/y"), ["pull"]);
    assert.deepEqual(actions(undefined, "team/app"), []);
    assert.deepEqual(actions(undefined, "shared"), [], "users: [*] means authenticated users only");
    assert.deepEqual(actions("stranger", "public/x"), ["pull"], "what anonymous may, everyone may");
    assert.deepEqual(actions("stranger", "shared"), ["pull"]);
    assert.deepEqual(actions("stranger", "team/app"), []);
    assert.deepEqual(actions("builder", "team/app"), ["pull", "push"]);
    assert.deepEqual(actions("builder", "team/a/b"), [], "team/* stops at one component");
    assert.deepEqual(actions("deployer", "team/app"), ["*", "delete", "pull", "push"], "pull+push+delete earn *");
    assert.deepEqual([...allowedActions(policy, "auditor", "registry", "catalog")], ["*"]);
    assert.deepEqual([...allowedActions(policy, "builder", "registry", "catalog")], []);
    assert.deepEqual(actions("root", "anything/at/all"), ["*", "delete", "pull", "push"]);
    assert.deepEqual([...allowedActions(policy, "root", "registry", "catalog")], ["*"]);
    assert.deepEqual([...allowedActions(policy, "root", "unknowntype", "x")], []);
  });

  test("rules replace the default: no rule, no pull", () => {
    const policy: AccessPolicy = { admins: [], rules: [{ users: ["carol"], repositories: ["carol/*"], actions: ["*"] }] };
    assert.deepEqual(grantAccess(policy, "bob", [repo(["pull"])]), []);
    assert.deepEqual(grantAccess(policy, "carol", [repo(["pull", "push"], "carol/x")]), [repo(["pull", "push"], "carol/x")]);
  });

  test("the same resource asked twice is merged; what cannot be had is left out", () => {
    const policy: AccessPolicy = { admins: [], rules: [{ repositories: ["**"], actions: ["pull", "push"] }] };
    assert.deepEqual(grantAccess(policy, "bob", [repo(["pull"]), repo(["push", "delete"]), repo(["bogus"], "other")]), [repo(["pull", "push"])]);
  });
});

describe("token server signing key", () => {
  let dir: string;
  before(async () => {
    dir = await tempDir("keys");
  });
  after(() => removeDir(dir));

  test("created once (P-256, self-signed, private key 0600), then reused", async () => {
    const keydir = join(dir, "nested", "token");
    const first = await loadOrCreateSigningKey(keydir, capturingLogger());
    assert.equal(first.generated, true);
    assert.equal(first.algorithm, "ES256");
    assert.equal(first.kid, libtrustKeyId(first.certificate.publicKey));
    assert.equal((await stat(first.keyPath)).mode & 0o777, 0o600);
    assert.equal((await stat(keydir)).mode & 0o777, 0o700);
    const second = await loadOrCreateSigningKey(keydir, capturingLogger());
    assert.equal(second.generated, false);
    assert.equal(second.kid, first.kid);
    assert.equal(second.certificate.fingerprint256, first.certificate.fingerprint256);
  });

  test("instances starting together agree on one key", async () => {
    const keydir = join(dir, "race");
    const keys = await Promise.all(Array.from({ length: 6 }, () => loadOrCreateSigningKey(keydir, capturingLogger())));
    assert.equal(new Set(keys.map((k) => k.kid)).size, 1);
    assert.equal(new Set(keys.map((k) => k.certificate.fingerprint256)).size, 1);
    assert.equal(keys.filter((k) => k.generated).length, 1);
  });

  test("a certificate that does not belong to the key is refused", async () => {
    const a = await loadOrCreateSigningKey(join(dir, "a"), capturingLogger());
    const b = await loadOrCreateSigningKey(join(dir, "b"), capturingLogger());
    await assert.rejects(loadSigningKey(a.keyPath, b.certificatePath), /does not belong/);
  });

  test("a configured RSA key + certificate made by openssl", async () => {
    requireCommands("openssl");
    const key = join(dir, "rsa.key");
    const cert = join(dir, "rsa.pem");
    await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=rsa signer"]);
    const signing = await loadSigningKey(key, cert);
    assert.equal(signing.algorithm, "RS256");
    assert.equal(signing.generated, false);
  });
});

describe("token server endpoint", () => {
  let dir: string;
  let server: TokenServer;
  let registry: TestRegistry;
  const logger = capturingLogger();

  before(async () => {
    dir = await tempDir("token-server");
    const users = join(dir, "users.htpasswd");
    await writeFile(users, htpasswdText({ alice: "alice-pw", bob: "bob-pw", carol: "carol-pw" }));
    const config = parseConfig({
      version: "0.1",
      storage: "inmemory",
      tokenserver: {
        enabled: true,
        service: "berth.test",
        users,
        admins: ["alice"],
        groups: { team: ["carol"] },
        expiration: "2m",
        rules: [
          { users: ["*"], repositories: ["**"], actions: ["pull"] },
          { groups: ["team"], repositories: ["team/*"], actions: ["push"] },
          { anonymous: true, repositories: ["public/*"], actions: ["pull"] },
        ],
      },
    });
    server = await createTokenServer(config.tokenserver!, { logger, defaultKeyDir: join(dir, "keys") });
    registry = await startTestRegistry({ access: () => undefined, tokenServer: () => server });
  });
  after(async () => {
    await registry.close();
    await removeDir(dir);
  });

  async function token(query: string, authorization?: string, path = "/api/v1/authorize/registry/") {
    const res = await fetch(`${registry.url}${path}?${query}`, { headers: authorization ? { Authorization: authorization } : {} });
    const body = (await res.json()) as Record<string, unknown>;
    return { status: res.status, body, headers: res.headers };
  }

  /** What a registry trusting the token server's certificate (and nothing else) makes of it. */
  const verifier = () =>
    createTokenController({ realm: "r", service: "berth.test", issuer: "auth server", certificates: [server.signing.certificate], logger });

  test("paths: with and without the trailing slash, nothing else", () => {
    assert.equal(isTokenServerPath("/api/v1/authorize/registry/?service=x"), true);
    assert.equal(isTokenServerPath("/api/v1/authorize/registry"), true);
    assert.equal(isTokenServerPath("/api/v1/authorize/registryx"), false);
    assert.equal(isTokenServerPath("/api/v1/authorize/registry/x"), false);
    assert.equal(isTokenServerPath("/mirror/api/v1/authorize/registry/", "/mirror/"), true);
  });

  test("an admin gets what she asks for; the JWT is shaped as distribution expects", async () => {
    const res = await token("service=berth.test&scope=repository:team/app:pull,push&scope=registry:catalog:*&account=alice", basicHeader("alice", "alice-pw"));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.body.token, res.body.access_token);
    assert.equal(res.body.expires_in, 120);
    assert.ok(Math.abs(Date.parse(res.body.issued_at as string) - Date.now()) < 5_000);
    const jwt = res.body.token as string;
    const header = decodeProtectedHeader(jwt);
    assert.equal(header.alg, "ES256");
    assert.equal(header.typ, "JWT");
    assert.equal(header.kid, libtrustKeyId(server.signing.certificate.publicKey));
    assert.deepEqual(header.x5c, [server.signing.certificate.raw.toString("base64")]);
    const claims = decodeJwt(jwt);
    assert.equal(claims.iss, "auth server");
    assert.equal(claims.sub, "alice");
    assert.equal(claims.aud, "berth.test");
    assert.equal((claims.exp as number) - (claims.iat as number), 120);
    assert.ok(typeof claims.jti === "string" && claims.jti.length >= 16);
    assert.deepEqual(claims.access, [
      { type: "repository", name: "team/app", actions: ["pull", "push"] },
      { type: "registry", name: "catalog", actions: ["*"] },
    ]);
    const verified = await verifier().verify(jwt);
    assert.equal(verified.sub, "alice");
  });

  test("a user gets the intersection: pull but not push, no catalog — and no error", async () => {
    const res = await token("service=berth.test&scope=repository:team/app:pull,push%20registry:catalog:*", basicHeader("bob", "bob-pw"), "/api/v1/authorize/registry");
    assert.equal(res.status, 200);
    assert.deepEqual(decodeJwt(res.body.token as string).access, [{ type: "repository", name: "team/app", actions: ["pull"] }]);
  });

  test("group rules add to the others", async () => {
    const res = await token("service=berth.test&scope=repository:team/app:pull,push&scope=repository:other/app:pull,push", basicHeader("carol", "carol-pw"));
    assert.deepEqual(decodeJwt(res.body.token as string).access, [
      { type: "repository", name: "team/app", actions: ["pull", "push"] },
      { type: "repository", name: "other/app", actions: ["pull"] },
    ]);
  });

  test("anonymous: a token holding only what anonymous rules give", async () => {
    const res = await token("service=berth.test&scope=repository:public/x:pull,push&scope=repository:team/app:pull");
    assert.equal(res.status, 200);
    const claims = decodeJwt(res.body.token as string);
    assert.equal(claims.sub, "");
    assert.deepEqual(claims.access, [{ type: "repository", name: "public/x", actions: ["pull"] }]);
  });

  test("wrong password or unknown user: 401 with a Basic challenge", async () => {
    for (const auth of [basicHeader("alice", "nope"), basicHeader("zed", "alice-pw"), "Bearer something"]) {
      const res = await token("service=berth.test&scope=repository:team/app:pull", auth);
      assert.equal(res.status, 401, auth);
      assert.equal(res.headers.get("www-authenticate"), 'Basic realm="Berth token server"');
      assert.equal((res.body.errors as { code: string }[])[0]?.code, "UNAUTHORIZED");
    }
    assert.ok(logger.lines.some((l) => l.includes("authentication failed") && l.includes('"user":"zed"')));
  });

  test("another service: 400", async () => {
    const res = await token("service=elsewhere&scope=repository:team/app:pull", basicHeader("alice", "alice-pw"));
    assert.equal(res.status, 400);
    assert.match(JSON.stringify(res.body), /unknown service/);
  });

  test("the service may be left out: the configured one is used", async () => {
    const res = await token("scope=repository:team/app:pull", basicHeader("bob", "bob-pw"));
    assert.equal(res.status, 200);
    assert.equal(decodeJwt(res.body.token as string).aud, "berth.test");
  });

  test("POST oauth2 password grant", async () => {
    const form = new URLSearchParams({ grant_type: "password", username: "alice", password: "alice-pw", service: "berth.test", scope: "repository:team/app:push", client_id: "test" });
    const res = await fetch(`${registry.url}/api/v1/authorize/registry/`, { method: "POST", body: form });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.token_type, "Bearer");
    assert.equal(body.scope, "repository:team/app:push");
    assert.deepEqual(decodeJwt(body.access_token as string).access, [{ type: "repository", name: "team/app", actions: ["push"] }]);

    const wrong = await fetch(`${registry.url}/api/v1/authorize/registry/`, { method: "POST", body: new URLSearchParams({ grant_type: "password", username: "alice", password: "x" }) });
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { error: string }).error, "invalid_grant");

    const refresh = await fetch(`${registry.url}/api/v1/authorize/registry/`, { method: "POST", body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: "x" }) });
    assert.equal(refresh.status, 400);
    assert.equal(((await refresh.json()) as { error: string }).error, "unsupported_grant_type");
  });

  test("other methods: 405", async () => {
    const res = await fetch(`${registry.url}/api/v1/authorize/registry/`, { method: "DELETE" });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, POST");
  });

  test("the key was created in keydir, and its certificate file is what the tokens carry", async () => {
    const pem = await readFile(join(dir, "keys", "cert.pem"), "utf8");
    assert.equal(pem.trim(), server.signing.certificate.toString().trim());
  });
});

describe("token server login limits", () => {
  let dir: string;
  let registry: TestRegistry;
  const logger = capturingLogger();

  before(async () => {
    dir = await tempDir("token-limits");
    const users = join(dir, "users.htpasswd");
    await writeFile(users, htpasswdText({ bob: "bob-pw", carol: "carol-pw" }));
    const config = parseConfig({ version: "0.1", storage: "inmemory", tokenserver: { enabled: true, service: "berth.test", users } });
    const server = await createTokenServer(config.tokenserver!, {
      logger,
      defaultKeyDir: join(dir, "keys"),
      logins: { limits: { perUser: new LoginRateLimit(3, 60_000), perAddress: new LoginRateLimit(5, 60_000) } },
    });
    registry = await startTestRegistry({ access: () => undefined, tokenServer: () => server });
  });
  after(async () => {
    await registry.close();
    await removeDir(dir);
  });

  const get = (user: string, password: string) =>
    fetch(`${registry.url}/api/v1/authorize/registry/?service=berth.test&scope=repository:app:pull`, { headers: { Authorization: basicHeader(user, password) } });
  const post = (user: string, password: string) =>
    fetch(`${registry.url}/api/v1/authorize/registry/`, { method: "POST", body: new URLSearchParams({ grant_type: "password", username: user, password, service: "berth.test" }) });

  test("a user's repeated failures lock that user out, then the address's lock everyone out from it", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await get("bob", "wrong")).status, 401);
    const locked = await get("bob", "bob-pw");
    assert.equal(locked.status, 429, "the right password is not even checked once locked");
    const retryAfter = Number(locked.headers.get("retry-after"));
    assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    const body = (await locked.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]?.code, "TOOMANYREQUESTS");
    assert.match(body.errors[0]?.message ?? "", /too many failed logins/);
    const viaPost = await post("bob", "bob-pw");
    assert.equal(viaPost.status, 429);
    assert.equal(((await viaPost.json()) as { error: string }).error, "too_many_requests");

    // Another user from the same address is not locked by bob's failures.
    assert.equal((await get("carol", "carol-pw")).status, 200);

    // Guessing across user names: the address's own limit (5 failures) stops it.
    assert.equal((await get("dave", "x")).status, 401);
    assert.equal((await post("erin", "x")).status, 401);
    assert.equal((await get("frank", "x")).status, 429);
    assert.equal((await get("carol", "carol-pw")).status, 429);
    assert.ok(logger.lines.some((line) => line.includes("login refused after repeated failures")));
  });

  test("behind a proxy (http.clientaddressheader) each client has its own limits", async () => {
    const config = parseConfig({ version: "0.1", storage: "inmemory", tokenserver: { enabled: true, service: "berth.test", users: join(dir, "users.htpasswd") } });
    const proxied = await createTokenServer(config.tokenserver!, {
      logger,
      defaultKeyDir: join(dir, "keys"),
      logins: { limits: { perUser: new LoginRateLimit(1, 60_000), perAddress: new LoginRateLimit(5, 60_000) }, clientAddress: (req) => clientAddress(req, "X-Real-IP") },
    });
    const behind = await startTestRegistry({ access: () => undefined, tokenServer: () => proxied });
    try {
      const from = (address: string, password: string) =>
        fetch(`${behind.url}/api/v1/authorize/registry/?service=berth.test`, { headers: { Authorization: basicHeader("bob", password), "X-Real-IP": address } });
      assert.equal((await from("192.0.2.10", "wrong")).status, 401);
      assert.equal((await from("192.0.2.10", "bob-pw")).status, 429);
      assert.equal((await from("192.0.2.11", "bob-pw")).status, 200);
    } finally {
      await behind.close();
    }
  });
});

describe("token server without a fixed service", () => {
  test("the client's service becomes the audience; none at all is a 400", async () => {
    const dir = await tempDir("token-server-any");
    try {
      const config = parseConfig({ version: "0.1", storage: "inmemory", tokenserver: { enabled: true } });
      const server = await createTokenServer(config.tokenserver!, { logger: capturingLogger(), defaultKeyDir: dir });
      const registry = await startTestRegistry({ access: () => undefined, tokenServer: () => server });
      try {
        const ok = await fetch(`${registry.url}/api/v1/authorize/registry/?service=lain.local&scope=repository:a:pull`);
        assert.equal(ok.status, 200);
        const claims = decodeJwt(((await ok.json()) as { token: string }).token);
        assert.equal(claims.aud, "lain.local");
        assert.deepEqual(claims.access, [], "anonymous gets nothing by default");
        const missing = await fetch(`${registry.url}/api/v1/authorize/registry/`);
        assert.equal(missing.status, 400);
      } finally {
        await registry.close();
      }
    } finally {
      await removeDir(dir);
    }
  });
});
