import assert from "node:assert/strict";
import http, { type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { createApiHandler } from "../../server/api/handler.js";
import { berthPaths } from "../../server/console-auth/paths.js";
import { LoginRateLimit } from "../../server/login-rate-limit.js";
import { Sessions, sessionCookie } from "../../server/console-auth/sessions.js";
import { createLogger } from "../../server/log.js";
import type { StorageDriver } from "../../server/registry/storage/driver.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { createTestApiServices } from "../support/api.js";

/** The console API on a real HTTP server, as the browser reaches it. */
async function startApi(driver: StorageDriver, logLines: string[] = []) {
  const logger = createLogger({ level: "info", write: (line) => logLines.push(line) });
  const services = await createTestApiServices(driver, { logger, loginLimit: new LoginRateLimit(3, 60_000) });
  const server = http.createServer(createApiHandler(services));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/trpc`;
  return { users: services.users, sessions: services.sessions, base, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const login = (base: string, user: string, password: string, headers: Record<string, string> = {}) =>
  fetch(`${base}/auth.login`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify({ user, password }),
  });

describe("console login", () => {
  const driver = createDriver("inmemory");
  let api: Awaited<ReturnType<typeof startApi>>;

  before(async () => {
    api = await startApi(driver);
    await api.users.ensureAdmin("correct horse");
  });
  after(() => api.close());

  it("refuses every procedure but login without a session", async () => {
    assert.equal((await fetch(`${api.base}/system.health`)).status, 401);
    assert.equal((await fetch(`${api.base}/auth.me`)).status, 401);
  });

  it("sets an HttpOnly SameSite=Strict session cookie that opens the API", async () => {
    const res = await login(api.base, "admin", "correct horse");
    assert.equal(res.status, 200);
    const cookie = res.headers.get("set-cookie") ?? "";
    assert.match(cookie, /^berth_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    const session = cookie.split(";")[0] as string;
    const health = await fetch(`${api.base}/system.health`, { headers: { Cookie: session } });
    assert.equal(health.status, 200);
    const me = (await (await fetch(`${api.base}/auth.me`, { headers: { Cookie: session } })).json()) as { result: { data: { user: string } } };
    assert.equal(me.result.data.user, "admin");
  });

  it("refuses a tampered or foreign cookie", async () => {
    const { value } = api.sessions.issue("admin", true);
    const [payload, mac] = value.split(".") as [string, string];
    const forged = Buffer.from(JSON.stringify({ user: "admin", admin: true, expiresAt: Date.now() + 1e9 })).toString("base64url");
    for (const cookie of [`${forged}.${mac}`, `${payload}.${mac.slice(1)}x`, "garbage"]) {
      assert.equal((await fetch(`${api.base}/system.health`, { headers: { Cookie: `berth_session=${cookie}` } })).status, 401, cookie);
    }
    const expired = api.sessions.issue("admin", true, Date.now() - 13 * 3600_000).value;
    assert.equal((await fetch(`${api.base}/system.health`, { headers: { Cookie: `berth_session=${expired}` } })).status, 401);
  });

  it("refuses cross-site mutations", async () => {
    assert.equal((await login(api.base, "admin", "correct horse", { Origin: "https://evil.example" })).status, 403);
    const form = await fetch(`${api.base}/auth.login`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "user=admin&password=correct+horse",
    });
    assert.equal(form.status, 403);
  });

  it("rate-limits failed logins, even for the right password afterwards", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await login(api.base, "admin", "wrong")).status, 401);
    const blocked = await login(api.base, "admin", "correct horse");
    assert.equal(blocked.status, 429);
    assert.match(await blocked.text(), /too many failed logins/);
  });
});

describe("the first admin", () => {
  it("gets a random password printed once when BERTH_ADMIN_PASSWORD is unset", async () => {
    const driver = createDriver("inmemory");
    const lines: string[] = [];
    const api = await startApi(driver, lines);
    try {
      await api.users.ensureAdmin(undefined);
      await api.users.ensureAdmin(undefined);
      const printed = lines.filter((line) => line.includes("created user"));
      assert.equal(printed.length, 1, "printed exactly once");
      const password = /password (\S+)/.exec(printed[0] as string)?.[1] as string;
      assert.equal((await login(api.base, "admin", password)).status, 200);
    } finally {
      await api.close();
    }
  });

  it("takes BERTH_ADMIN_PASSWORD, and a new value replaces the old one", async () => {
    const driver = createDriver("inmemory");
    const api = await startApi(driver);
    try {
      await api.users.ensureAdmin("first");
      assert.equal((await login(api.base, "admin", "first")).status, 200);
      await api.users.ensureAdmin("second");
      assert.equal((await login(api.base, "admin", "first")).status, 401);
      assert.equal((await login(api.base, "admin", "second")).status, 200);
    } finally {
      await api.close();
    }
  });
});

describe("console sessions across instances", () => {
  it("converge on the stored key when two instances started on an empty storage each wrote one", async () => {
    const driver = createDriver("inmemory");
    // A writes its key and reads it back before B's write lands; B's is the one storage keeps.
    const a = await Sessions.open(driver);
    await driver.delete(berthPaths.sessionKey);
    const b = await Sessions.open(driver);
    const cookie = (value: string) => ({ headers: { cookie: `${sessionCookie}=${value}` } }) as IncomingMessage;

    const fromB = b.issue("admin", true).value;
    assert.equal((await a.fromRequest(cookie(fromB)))?.user, "admin", "A adopts the stored key");
    const fromA = a.issue("erin", false).value;
    assert.equal((await b.fromRequest(cookie(fromA)))?.user, "erin", "A now signs with the key B uses");
    assert.equal(await a.fromRequest(cookie(`${fromB.split(".")[0]}.forged`)), undefined, "a bad signature is still refused");
  });
});
