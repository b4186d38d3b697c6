import assert from "node:assert/strict";
import { parseSetCookie } from "cookie";
import { mkdtemp, rm, stat } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createApiHandler } from "../../server/api/handler.js";
import { sessionStateTtlMs } from "../../server/console-auth/generations.js";
import { berthPaths } from "../../server/console-auth/paths.js";
import { ConsoleUsers } from "../../server/console-auth/users.js";
import { LoginRateLimit } from "../../server/login-rate-limit.js";
import { Sessions, sessionCookie, sessionMaxAgeSeconds } from "../../server/console-auth/sessions.js";
import { createLogger } from "../../server/log.js";
import type { StorageDriver } from "../../server/registry/storage/driver.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { createTestApiServices } from "../support/api.js";
import { eventually } from "../support/eventually.js";
import { listen } from "../support/server.js";

type Api = Awaited<ReturnType<typeof startApi>>;

/** The console API on a real HTTP server, as the browser reaches it: one Berth instance's worth. */
async function startApi(driver: StorageDriver, logLines: string[] = [], secure = false) {
  const logger = createLogger({ level: "info", write: (line) => logLines.push(line) });
  const services = await createTestApiServices(driver, { logger, loginLimit: new LoginRateLimit(3, 60_000) });
  const server = await listen(createApiHandler({ ...services, secure }));
  return {
    users: services.users,
    sessions: services.sessions,
    base: `${server.url}/api/trpc`,
    close: async () => {
      await server.close();
      await services.maintenance.readOnly.close();
    },
  };
}

/** Two instances sharing one filesystem storage: each with its own driver, caches and key copy. */
async function startPair() {
  const dir = await mkdtemp(join(tmpdir(), "berth-sessions-"));
  const a = await startApi(createDriver("filesystem", { rootdirectory: dir }));
  const b = await startApi(createDriver("filesystem", { rootdirectory: dir }));
  return { dir, a, b, close: async () => (await Promise.all([a.close(), b.close()]), await rm(dir, { recursive: true, force: true })) };
}

const login = (base: string, user: string, password: string, headers: Record<string, string> = {}) =>
  fetch(`${base}/auth.login`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify({ user, password }),
  });

const cookieOf = (res: Response) => (res.headers.get("set-cookie") ?? "").split(";")[0] as string;

async function loggedIn(api: Api, user: string, password: string): Promise<string> {
  const res = await login(api.base, user, password);
  assert.equal(res.status, 200, await res.clone().text());
  return cookieOf(res);
}

const query = (api: Api, procedure: string, cookie: string) => fetch(`${api.base}/${procedure}`, { headers: { Cookie: cookie } });
const mutate = (api: Api, procedure: string, cookie: string, input: unknown = {}) =>
  fetch(`${api.base}/${procedure}`, { method: "POST", headers: { "Content-Type": "application/json", Cookie: cookie }, body: JSON.stringify(input) });
const meStatus = async (api: Api, cookie: string) => (await query(api, "auth.me", cookie)).status;

/**
 * Asserts that `api` refuses the cookie within the documented bound: the instance that made a
 * change honours it at once, the others once their cached session state is older than the TTL.
 */
async function refusedWithinBound(api: Api, cookie: string, what: string): Promise<void> {
  await eventually(async () => (await meStatus(api, cookie)) === 401, sessionStateTtlMs + 1_000, `${what}: refused (bound ${sessionStateTtlMs} ms)`, { intervalMs: 100 });
}

describe("console login", () => {
  const driver = createDriver("inmemory");
  let api: Api;

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
    const { value, ...attributes } = parseSetCookie(res.headers.get("set-cookie") ?? "");
    assert.ok(value);
    assert.deepEqual(attributes, { name: sessionCookie, path: "/", httpOnly: true, sameSite: "strict", maxAge: sessionMaxAgeSeconds });
    const session = cookieOf(res);
    const health = await fetch(`${api.base}/system.health`, { headers: { Cookie: session } });
    assert.equal(health.status, 200);
    const me = (await (await query(api, "auth.me", session)).json()) as { result: { data: { user: string; role: string } } };
    assert.deepEqual(me.result.data, { user: "admin", role: "admin" });
  });

  it("marks the session cookie Secure, on login and on logout, when the console is served over HTTPS", async () => {
    const tls = await startApi(createDriver("inmemory"), [], true);
    try {
      await tls.users.ensureAdmin("correct horse");
      const res = await login(tls.base, "admin", "correct horse");
      assert.equal(parseSetCookie(res.headers.get("set-cookie") ?? "").secure, true);
      const out = await mutate(tls, "auth.logout", cookieOf(res));
      assert.deepEqual(parseSetCookie(out.headers.get("set-cookie") ?? ""), { name: sessionCookie, value: "", path: "/", httpOnly: true, sameSite: "strict", maxAge: 0, secure: true });
    } finally {
      await tls.close();
    }
  });

  it("refuses a tampered or foreign cookie", async () => {
    const { value } = await api.sessions.issue("admin");
    const [payload, mac] = value.split(".") as [string, string];
    const claim = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claim, expiresAt: Date.now() + 1e9 })).toString("base64url");
    for (const cookie of [`${forged}.${mac}`, `${payload}.${mac.slice(1)}x`, "garbage"]) {
      assert.equal((await fetch(`${api.base}/system.health`, { headers: { Cookie: `berth_session=${cookie}` } })).status, 401, cookie);
    }
    const expired = (await api.sessions.issue("admin", Date.now() - 13 * 3600_000)).value;
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

  it("takes BERTH_ADMIN_PASSWORD; the same value at a restart keeps the admin's sessions, a new one ends them", async () => {
    const driver = createDriver("inmemory");
    const api = await startApi(driver);
    try {
      await api.users.ensureAdmin("first");
      const cookie = await loggedIn(api, "admin", "first");
      await api.users.ensureAdmin("first");
      assert.equal(await meStatus(api, cookie), 200, "a restart with the same password logs nobody out");
      await api.users.ensureAdmin("second");
      assert.equal(await meStatus(api, cookie), 401, "a new password ends the sessions of the old one");
      assert.equal((await login(api.base, "admin", "first")).status, 401);
      assert.equal((await login(api.base, "admin", "second")).status, 200);
    } finally {
      await api.close();
    }
  });

  it("reads a users file written before roles existed: admin: false is a viewer, anyone else an admin", async () => {
    const driver = createDriver("inmemory");
    const api = await startApi(driver);
    try {
      await api.users.ensureAdmin("correct horse");
      await api.users.add("erin", "erin's password", "viewer");
      const file = JSON.parse((await driver.getContent(berthPaths.consoleUsers)).toString("utf8")) as { users: Record<string, unknown>[] };
      const [admin, erin] = file.users.map(({ role, ...user }) => ({ ...user, disabled: undefined, admin: role === "admin" }));
      // The oldest files carry no role at all: every user there could do everything.
      const noRole = { ...erin, name: "olaf", admin: undefined };
      await driver.putContent(berthPaths.consoleUsers, JSON.stringify({ users: [admin, erin, noRole] }));
      assert.deepEqual(await new ConsoleUsers(driver, createLogger({ level: "error", write: () => undefined })).list(), [
        { name: "admin", role: "admin", disabled: false },
        { name: "erin", role: "viewer", disabled: false },
        { name: "olaf", role: "admin", disabled: false },
      ]);
    } finally {
      await api.close();
    }
  });
});

describe("console sessions are server-side and revocable, across instances on one storage", () => {
  let pair: Awaited<ReturnType<typeof startPair>>;
  let adminCookie: string;

  before(async () => {
    pair = await startPair();
    await pair.a.users.ensureAdmin("correct horse");
    await pair.a.users.add("erin", "erin's password", "viewer");
    adminCookie = await loggedIn(pair.a, "admin", "correct horse");
  });
  after(() => pair.close());

  it("logout ends every session of the user: at once where it happened, within the bound elsewhere", async () => {
    const { a, b } = pair;
    const first = await loggedIn(a, "erin", "erin's password");
    const second = await loggedIn(b, "erin", "erin's password");
    // B has now read erin's session state (and may keep it for the TTL).
    assert.equal(await meStatus(b, first), 200);
    const out = await mutate(a, "auth.logout", second);
    assert.equal(out.status, 200);
    assert.match(out.headers.get("set-cookie") ?? "", /^berth_session=; .*Max-Age=0/);
    assert.equal(await meStatus(a, first), 401, "the other browser's session ended too");
    assert.equal(await meStatus(a, second), 401, "the cookie replayed after logout");
    await refusedWithinBound(b, first, "the other instance");
    await refusedWithinBound(b, second, "the other instance");
    assert.equal(await meStatus(b, adminCookie), 200, "other users' sessions go on");
    assert.equal(await meStatus(b, await loggedIn(b, "erin", "erin's password")), 200, "and erin can log in again");
  });

  it("a password change ends the user's other sessions; the browser that changed it gets a new cookie", async () => {
    const { a, b } = pair;
    const mine = await loggedIn(b, "erin", "erin's password");
    const elsewhere = await loggedIn(a, "erin", "erin's password");
    assert.equal(await meStatus(a, elsewhere), 200);
    const wrong = await mutate(b, "auth.changePassword", mine, { current: "not it", password: "a new password" });
    assert.equal(wrong.status, 400);
    assert.equal(await meStatus(b, mine), 200, "a refused change ends nothing");

    const changed = await mutate(b, "auth.changePassword", mine, { current: "erin's password", password: "a new password" });
    assert.equal(changed.status, 200, await changed.clone().text());
    assert.equal(await meStatus(b, mine), 401, "the old cookie, replayed after the change");
    assert.equal(await meStatus(b, elsewhere), 401);
    await refusedWithinBound(a, elsewhere, "the other instance");
    assert.equal(await meStatus(a, cookieOf(changed)), 200, "the new cookie works on every instance");
    assert.equal((await login(a.base, "erin", "erin's password")).status, 401);
    await pair.a.users.setPassword("erin", "erin's password");
  });

  it("an admin setting a user's password or removing the user ends that user's sessions", async () => {
    const { a, b } = pair;
    assert.equal((await mutate(b, "users.add", adminCookie, { name: "frank", password: "frank's password", role: "viewer" })).status, 200);
    let frank = await loggedIn(a, "frank", "frank's password");
    assert.equal(await meStatus(a, frank), 200);
    assert.equal((await mutate(b, "users.setPassword", adminCookie, { name: "frank", password: "reset by admin" })).status, 200);
    assert.equal(await meStatus(b, frank), 401);
    await refusedWithinBound(a, frank, "the other instance, after a password reset");

    frank = await loggedIn(a, "frank", "reset by admin");
    assert.equal(await meStatus(b, frank), 200);
    assert.equal((await mutate(a, "users.remove", adminCookie, { name: "frank" })).status, 200);
    assert.equal(await meStatus(a, frank), 401);
    await refusedWithinBound(b, frank, "the other instance, after a removal");
    // A user of the same name later is a new account: the old cookie stays dead.
    assert.equal((await mutate(a, "users.add", adminCookie, { name: "frank", password: "reset by admin", role: "admin" })).status, 200);
    assert.equal(await meStatus(a, frank), 401);
  });

  it("a role change ends the user's sessions; the next login has the new role", async () => {
    const { a, b } = pair;
    const erin = await loggedIn(a, "erin", "erin's password");
    assert.equal((await mutate(b, "maintenance.setReadOnly", erin, { enabled: false })).status, 403);
    assert.equal((await mutate(a, "users.setRole", adminCookie, { name: "erin", role: "maintainer" })).status, 200);
    assert.equal(await meStatus(a, erin), 401);
    await refusedWithinBound(b, erin, "the other instance, after a role change");
    const again = await loggedIn(b, "erin", "erin's password");
    assert.equal((await mutate(a, "maintenance.setReadOnly", again, { enabled: false })).status, 200, "a maintainer switches read-only mode");
    assert.equal((await mutate(a, "users.add", again, { name: "mallory", password: "mallory's password", role: "admin" })).status, 403, "but manages no users");
    assert.equal((await mutate(a, "users.setRole", adminCookie, { name: "erin", role: "viewer" })).status, 200);
  });

  it("a disabled user cannot log in, their sessions end at the next request; enabled again, they log in", async () => {
    const { a, b } = pair;
    const erin = await loggedIn(a, "erin", "erin's password");
    assert.equal(await meStatus(b, erin), 200);
    assert.equal((await mutate(a, "users.setDisabled", adminCookie, { name: "erin", disabled: true })).status, 200);
    assert.equal(await meStatus(a, erin), 401);
    await refusedWithinBound(b, erin, "the other instance, after disabling");
    assert.equal((await login(b.base, "erin", "erin's password")).status, 401, "the right password of a disabled user");
    const listed = (await (await query(a, "users.list", adminCookie)).json()) as { result: { data: { name: string; disabled: boolean }[] } };
    assert.equal(listed.result.data.find((user) => user.name === "erin")?.disabled, true);
    assert.equal((await mutate(a, "users.setDisabled", adminCookie, { name: "erin", disabled: false })).status, 200);
    assert.equal(await meStatus(a, erin), 401, "enabling does not bring old sessions back");
    await loggedIn(b, "erin", "erin's password");
  });

  it("keeps at least one enabled admin", async () => {
    const { a } = pair;
    await a.users.remove("frank");
    const demote = await mutate(a, "users.setRole", adminCookie, { name: "admin", role: "viewer" });
    assert.equal(demote.status, 409);
    assert.match(await demote.text(), /at least one enabled admin/);
    assert.equal((await mutate(a, "users.remove", adminCookie, { name: "admin" })).status, 409);
    assert.equal((await mutate(a, "users.setDisabled", adminCookie, { name: "admin", disabled: true })).status, 409);
    assert.equal((await mutate(a, "users.remove", adminCookie, { name: "nobody" })).status, 404);
    // A second admin that is disabled does not count: the last enabled one stays protected.
    await a.users.add("second", "second's password", "admin");
    await a.users.setDisabled("second", true);
    assert.equal((await mutate(a, "users.setDisabled", adminCookie, { name: "admin", disabled: true })).status, 409);
    await a.users.setDisabled("second", false);
    assert.equal(await meStatus(a, adminCookie), 200, "refused changes end no session");
    const second = await loggedIn(a, "second", "second's password");
    assert.equal((await mutate(a, "users.setDisabled", second, { name: "admin", disabled: true })).status, 200, "with another enabled admin it may be disabled");
    assert.equal(await meStatus(a, adminCookie), 401);
    assert.equal((await mutate(a, "users.setDisabled", second, { name: "admin", disabled: false })).status, 200);
    adminCookie = await loggedIn(a, "admin", "correct horse");
    await a.users.remove("second");
  });
});

describe("console secrets on the filesystem driver", () => {
  it("writes the session key, the users and the session state 0600; other objects keep the usual mode", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-secret-modes-"));
    const umask = process.umask(0o022);
    const driver = createDriver("filesystem", { rootdirectory: dir });
    const api = await startApi(driver);
    try {
      await api.users.ensureAdmin("correct horse");
      await loggedIn(api, "admin", "correct horse");
      const modeOf = async (path: string) => (await stat(join(dir, path))).mode & 0o777;
      for (const path of [berthPaths.sessionKey, berthPaths.consoleUsers, berthPaths.sessionGeneration("admin")]) {
        assert.equal((await modeOf(path)).toString(8), "600", path);
      }
      await driver.putContent("/docker/registry/v2/repositories/app/_layers/plain", "not a secret");
      assert.equal((await modeOf("/docker/registry/v2/repositories/app/_layers/plain")).toString(8), "644");
    } finally {
      process.umask(umask);
      await api.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("console session keys across instances", () => {
  it("converge on the stored key when two instances started on an empty storage each wrote one", async () => {
    const driver = createDriver("inmemory");
    const logger = createLogger({ level: "error", write: () => undefined });
    const users = new ConsoleUsers(driver, logger);
    await users.ensureAdmin("correct horse");
    await users.add("erin", "erin's password", "viewer");
    // A writes its key and reads it back before B's write lands; B's is the one storage keeps.
    const a = await Sessions.open(driver, new ConsoleUsers(driver, logger));
    await driver.delete(berthPaths.sessionKey);
    const b = await Sessions.open(driver, new ConsoleUsers(driver, logger));
    const cookie = (value: string) => ({ headers: { cookie: `${sessionCookie}=${value}` } }) as IncomingMessage;

    const fromB = (await b.issue("admin")).value;
    assert.equal((await a.fromRequest(cookie(fromB)))?.user, "admin", "A adopts the stored key");
    const fromA = (await a.issue("erin")).value;
    assert.deepEqual({ ...(await b.fromRequest(cookie(fromA))), expiresAt: 0 }, { user: "erin", role: "viewer", expiresAt: 0 }, "A now signs with the key B uses");
    assert.equal(await a.fromRequest(cookie(`${fromB.split(".")[0]}.forged`)), undefined, "a bad signature is still refused");
  });
});
