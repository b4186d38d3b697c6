/**
 * End to end with the real skopeo (containers/image): Berth's engine with token auth, and Berth
 * as its own token server on the same port — set up with `setupAuth`, as serve.ts will.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setupAuth, type AuthSetup } from "../../server/auth/index.js";
import { parseConfig } from "../../server/config/load.js";
import { makeImageLayout, sha256Digest, type ImageLayout } from "../support/images.js";
import { requireCommands } from "../support/commands.js";
import { SkopeoError, skopeoCopy, skopeoInspect } from "../support/skopeo.js";
import { capturingLogger, htpasswdText, removeDir, startTestRegistry, tempDir, type TestRegistry } from "./harness.js";


/** A token without the scope asked for is answered DENIED (server/auth/challenge.ts), which skopeo prints. */
function assertRefusal(error: unknown): boolean {
  assert.ok(error instanceof SkopeoError, String(error));
  assert.match(error.stderr, /denied: requested access to the resource is denied/);
  return true;
}

describe("skopeo against Berth with token auth and its own token server", () => {
  before(() => requireCommands("skopeo"));
  let dir: string;
  let image: ImageLayout;
  let server: TestRegistry;
  let host: string;
  let auth: AuthSetup | undefined;
  const logger = capturingLogger("info");

  before(async () => {
    dir = await tempDir("e2e");
    const users = join(dir, "users.htpasswd");
    await writeFile(users, htpasswdText({ alice: "alice-pw", bob: "bob-pw" }));
    image = await makeImageLayout(join(dir, "image"), { tag: "v1", layers: [50_000, 1_000], seed: "auth-e2e" });

    // Listen first: the realm names the port.
    const registryLogger = capturingLogger("error");
    server = await startTestRegistry({ access: () => auth?.current(), tokenServer: () => auth?.tokenServer, logger: registryLogger });
    host = server.host;

    const keydir = join(dir, "token-keys");
    const config = parseConfig({
      version: "0.1",
      storage: "inmemory",
      auth: {
        token: {
          realm: `http://${host}/api/v1/authorize/registry/`,
          service: "berth-e2e",
          issuer: "auth server",
          rootcertbundle: join(keydir, "cert.pem"),
        },
      },
      tokenserver: { enabled: true, service: "berth-e2e", users, admins: ["alice"], keydir },
    });
    auth = await setupAuth({ config, logger, defaultKeyDir: join(dir, "unused") });
  });

  after(async () => {
    await auth?.close();
    await server?.close();
    await removeDir(dir);
  });

  const ref = (path: string) => `docker://${host}/${path}`;

  test("the admin pushes", async () => {
    await skopeoCopy(image.ref, ref("team/app:v1"), { destCreds: "alice:alice-pw" });
    const raw = await skopeoInspect(ref("team/app:v1"), { raw: true, creds: "alice:alice-pw" });
    assert.equal(sha256Digest(raw), image.manifestDigest);
  });

  test("a user pulls (authenticated users may pull everything)", async () => {
    await skopeoCopy(ref("team/app:v1"), `oci:${join(dir, "pulled-bob")}:v1`, { srcCreds: "bob:bob-pw" });
    const raw = await skopeoInspect(ref("team/app:v1"), { raw: true, creds: "bob:bob-pw" });
    assert.equal(sha256Digest(raw), image.manifestDigest);
  });

  test("a user without push rights cannot push", async () => {
    await assert.rejects(skopeoCopy(image.ref, ref("team/app:bob"), { destCreds: "bob:bob-pw" }), assertRefusal);
  });

  test("anonymous pull is refused", async () => {
    await assert.rejects(skopeoCopy(ref("team/app:v1"), `oci:${join(dir, "pulled-anon")}:v1`), assertRefusal);
  });

  test("a wrong password is refused", async () => {
    await assert.rejects(skopeoInspect(ref("team/app:v1"), { raw: true, creds: "alice:wrong" }), (error: unknown) => {
      assert.ok(error instanceof SkopeoError);
      // The token server refuses the login itself, before the registry is asked.
      assert.match(error.stderr, /unable to retrieve auth token: invalid username\/password: unauthorized: authentication required/);
      return true;
    });
  });

  test("status: token auth from config.yml", () => {
    assert.deepEqual({ ...auth!.status(), since: undefined }, { source: "config", connected: false, mode: "token", since: undefined });
  });
});
