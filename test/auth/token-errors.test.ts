/**
 * What the token server answers to requests it refuses: GET clients read the registry's `{errors}`
 * body and get registry spec codes, POST (oauth2) clients get RFC 6749 errors.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTokenServer } from "../../server/auth/token-server.js";
import { parseConfig } from "../../server/config/load.js";
import { specErrorCodes } from "../support/error-codes.js";
import { basicHeader, capturingLogger, removeDir, startTestRegistry, tempDir, type TestRegistry } from "./harness.js";

describe("token server refusals", () => {
  let dir: string;
  let registry: TestRegistry;
  const path = "/api/v1/authorize/registry/";

  before(async () => {
    dir = await tempDir("token-errors");
    const config = parseConfig({ version: "0.1", storage: "inmemory", tokenserver: { enabled: true, service: "berth.test" } });
    const server = await createTokenServer(config.tokenserver!, { logger: capturingLogger(), defaultKeyDir: dir });
    registry = await startTestRegistry({ access: () => undefined, tokenServer: () => server });
  });
  after(async () => {
    await registry.close();
    await removeDir(dir);
  });

  async function registryError(res: Response): Promise<string> {
    const body = (await res.json()) as { errors: { code: string }[] };
    const code = body.errors[0]?.code ?? "";
    assert.ok(specErrorCodes.has(code), `${code} is a registry spec code`);
    return code;
  }

  test("a GET for another service is 400 UNSUPPORTED, bad credentials 401 UNAUTHORIZED", async () => {
    const wrongService = await fetch(`${registry.url}${path}?service=elsewhere`);
    assert.equal(wrongService.status, 400);
    assert.equal(await registryError(wrongService), "UNSUPPORTED");
    const badCredentials = await fetch(`${registry.url}${path}?service=berth.test`, { headers: { Authorization: "Basic !!!" } });
    assert.equal(badCredentials.status, 401);
    assert.equal(await registryError(badCredentials), "UNAUTHORIZED");
    const unknownUser = await fetch(`${registry.url}${path}?service=berth.test`, { headers: { Authorization: basicHeader("nobody", "x") } });
    assert.equal(unknownUser.status, 401);
    assert.equal(await registryError(unknownUser), "UNAUTHORIZED");
  });

  test("another method is 405 UNSUPPORTED with Allow", async () => {
    for (const method of ["PUT", "DELETE", "PATCH"]) {
      const res = await fetch(`${registry.url}${path}`, { method });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get("allow"), "GET, POST");
      assert.equal(await registryError(res), "UNSUPPORTED");
    }
  });

  test("POST refusals are oauth2 errors", async () => {
    const post = (body: string, type = "application/x-www-form-urlencoded") =>
      fetch(`${registry.url}${path}`, { method: "POST", headers: { "Content-Type": type }, body });
    const cases: [Promise<Response>, number, string][] = [
      [post("grant_type=refresh_token&service=berth.test"), 400, "unsupported_grant_type"],
      [post("{}", "application/json"), 400, "invalid_request"],
      [post("grant_type=password&service=elsewhere&username=a&password=b"), 400, "invalid_request"],
      [post("grant_type=password&service=berth.test&username=nobody&password=x"), 401, "invalid_grant"],
    ];
    for (const [request, status, error] of cases) {
      const res = await request;
      assert.equal(res.status, status, error);
      assert.equal(((await res.json()) as { error: string }).error, error);
    }
  });
});
