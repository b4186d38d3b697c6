/**
 * The console's login limit counts failures per client address: the TCP peer's, or the one a
 * proxy writes into `http.clientaddressheader` — only when that is configured.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createApiHandler } from "../../server/api/handler.js";
import type { ApiServices } from "../../server/api/trpc.js";
import { defaultConfigDocument, parseConfig } from "../../server/config/load.js";
import { LoginRateLimit } from "../../server/login-rate-limit.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { createTestApiServices } from "../support/api.js";
import { listen, type ListeningServer } from "../support/server.js";

describe("console login: the client address behind a proxy", () => {
  let services: ApiServices;
  let server: ListeningServer;
  let base: string;
  let header: string | undefined;

  before(async () => {
    const api = await createTestApiServices(createDriver("inmemory"), { loginLimit: new LoginRateLimit(2, 60_000) });
    services = {
      ...api,
      configuration: {
        ...api.configuration,
        current: () => parseConfig({ ...defaultConfigDocument(), http: { addr: ":5000", ...(header ? { clientaddressheader: header } : {}) } }),
      },
    };
    await services.users.ensureAdmin("correct horse");
    server = await listen(createApiHandler(services));
    base = `${server.url}/api/trpc`;
  });
  after(async () => {
    await server.close();
    await services.maintenance.readOnly.close();
  });

  const login = (password: string, forwardedFor: string) =>
    fetch(`${base}/auth.login`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Real-IP": forwardedFor },
      body: JSON.stringify({ user: "admin", password }),
    }).then((res) => res.status);

  it("with the header configured, one client's failures do not lock out another behind the same proxy", async () => {
    header = "X-Real-IP";
    assert.equal(await login("wrong", "192.0.2.1"), 401);
    assert.equal(await login("wrong", "192.0.2.1"), 401);
    assert.equal(await login("correct horse", "192.0.2.1"), 429);
    assert.equal(await login("correct horse", "192.0.2.2"), 200);
  });

  it("without it, the header is ignored: a guesser cannot pick a fresh address per attempt", async () => {
    header = undefined;
    assert.equal(await login("wrong", "192.0.2.3"), 401);
    assert.equal(await login("wrong", "192.0.2.4"), 401);
    assert.equal(await login("correct horse", "192.0.2.5"), 429);
  });
});
