import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import bcrypt from "bcryptjs";
import { loadConfigWithWarnings } from "../../server/config/load.js";
import { createLogger } from "../../server/log.js";
import { serve, type RunningBerth } from "../../server/serve.js";
import { makeImageLayout } from "../support/images.js";
import { freePort } from "../support/net.js";
import { requireCommands } from "../support/commands.js";
import { skopeoCopy } from "../support/skopeo.js";

// The whole process as an operator configures it: token auth with Berth as its own token server,
// its key and certificate generated on first start (no rootcertbundle to prepare).
describe("serve with token auth and the built-in token server", () => {
  before(() => requireCommands("skopeo"));
  let dir: string;
  let running: RunningBerth;
  let registry: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-serve-auth-"));
    const port = await freePort();
    registry = `127.0.0.1:${port}`;
    await writeFile(join(dir, "users"), `alice:${bcrypt.hashSync("alice-pw", 10)}\nbob:${bcrypt.hashSync("bob-pw", 10)}\n`);
    await writeFile(
      join(dir, "config.yml"),
      [
        "version: 0.1",
        "storage:",
        "  filesystem:",
        `    rootdirectory: ${join(dir, "data")}`,
        "auth:",
        "  token:",
        `    realm: http://${registry}/api/v1/authorize/registry/`,
        "    service: berth-test",
        "    issuer: auth server",
        "tokenserver:",
        "  enabled: true",
        "  service: berth-test",
        `  users: ${join(dir, "users")}`,
        "  admins: [alice]",
        "http:",
        `  addr: ${registry}`,
        "  secret: serve-auth",
        "",
      ].join("\n"),
    );
    const { config } = await loadConfigWithWarnings(join(dir, "config.yml"), { env: {} });
    running = await serve({ config, registryOnly: true, logger: createLogger({ level: "error", write: () => undefined }) });
  });

  after(async () => {
    await running?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("challenges anonymous clients with the configured realm", async () => {
    const res = await fetch(`http://${registry}/v2/`);
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/api\/v1\/authorize\/registry\/",service="berth-test"/);
  });

  it("lets an admin push and a user pull, and refuses a user's push", async () => {
    const image = await makeImageLayout(join(dir, "image"), { layers: [2048], seed: 7 });
    await skopeoCopy(image.ref, `docker://${registry}/team/app:1`, { destCreds: "alice:alice-pw" });
    await skopeoCopy(`docker://${registry}/team/app:1`, `oci:${join(dir, "pulled")}:1`, { srcCreds: "bob:bob-pw" });
    await assert.rejects(skopeoCopy(image.ref, `docker://${registry}/team/app:2`, { destCreds: "bob:bob-pw" }), /denied/i);
    await assert.rejects(skopeoCopy(image.ref, `docker://${registry}/team/app:3`, { destCreds: "alice:wrong" }), /unauthorized|authentication|invalid/i);
  });
});
