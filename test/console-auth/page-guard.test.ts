import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { guardConsole, pageRole } from "../../server/console-auth/page-guard.js";
import { Sessions, sessionCookie } from "../../server/console-auth/sessions.js";
import { ConsoleUsers } from "../../server/console-auth/users.js";
import { createLogger } from "../../server/log.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { listen } from "../support/server.js";

describe("console pages are guarded by session and role", () => {
  let server: Awaited<ReturnType<typeof listen>>;
  const cookies: Record<string, string> = {};

  before(async () => {
    const driver = createDriver("inmemory");
    const users = new ConsoleUsers(driver, createLogger({ level: "error", write: () => undefined }));
    await users.ensureAdmin("correct horse");
    await users.add("vera", "vera's password", "viewer");
    await users.add("max", "max's password", "maintainer");
    const sessions = await Sessions.open(driver, users);
    for (const user of ["admin", "vera", "max"]) cookies[user] = `${sessionCookie}=${(await sessions.issue(user)).value}`;
    server = await listen(guardConsole(sessions, (_req, res) => res.end("page")));
  });
  after(() => server.close());

  const get = (path: string, user?: string) => fetch(server.url + path, { redirect: "manual", headers: user ? { Cookie: cookies[user] as string } : {} });

  it("knows which pages need more than a viewer", () => {
    assert.equal(pageRole("/users"), "admin");
    assert.equal(pageRole("/users?_rsc=abc"), "admin");
    assert.equal(pageRole("/config/"), "admin");
    assert.equal(pageRole("/configuration"), "viewer", "a prefix of a path segment only");
    assert.equal(pageRole("/gc"), "viewer");
  });

  it("sends a visitor without a session to the login page, and serves the login page", async () => {
    const res = await get("/users");
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), "/login?next=%2Fusers");
    assert.equal((await get("/login")).status, 200);
  });

  it("refuses the admin pages to a viewer and a maintainer with 403, serves them to an admin", async () => {
    for (const path of ["/users", "/config", "/users?_rsc=1"]) {
      for (const user of ["vera", "max"]) {
        const res = await get(path, user);
        assert.equal(res.status, 403, `${path} for ${user}`);
        assert.match(await res.text(), /needs the admin role/);
      }
      assert.equal(await (await get(path, "admin")).text(), "page");
    }
    for (const user of ["vera", "max"]) assert.equal(await (await get("/gc", user)).text(), "page");
  });
});
