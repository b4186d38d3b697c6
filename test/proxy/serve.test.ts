/**
 * The cache as users configure it: `berth serve` on a config.yml, distribution's `proxy` keys
 * given as REGISTRY_PROXY_* variables, Berth's `mirrors` checked by `berth config validate`, and
 * upstream passwords redacted wherever the configuration is shown.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { htpasswdText } from "../auth/harness.js";
import { assertPullsIdentical, removeDir, tempDir } from "../gc/harness.js";
import { berth, startBerthProcess } from "../support/berth-cli.js";
import { requireCommands } from "../support/commands.js";
import { startDistribution, type DistributionRegistry } from "../support/distribution.js";
import { makeImageLayout, type ImageLayout } from "../support/images.js";
import { skopeoCopy } from "../support/skopeo.js";

requireCommands("docker-registry", "skopeo");

describe("berth serve as a pull-through cache", () => {
  let scratch: string;
  let upstream: DistributionRegistry;
  let image: ImageLayout;

  before(async () => {
    scratch = await tempDir("proxy-serve");
    await writeFile(join(scratch, "htpasswd"), htpasswdText({ mirror: "s3cret-upstream-pw" }));
    upstream = await startDistribution({ auth: ["auth:", "  htpasswd:", "    realm: upstream", `    path: ${JSON.stringify(join(scratch, "htpasswd"))}`] });
    image = await makeImageLayout(join(scratch, "image"), { seed: "serve" });
    await skopeoCopy(image.ref, `docker://${upstream.host}/library/app:1`, { destCreds: "mirror:s3cret-upstream-pw" });
  });

  after(async () => {
    await upstream?.stop();
    await removeDir(scratch);
  });

  it("takes distribution's proxy keys from REGISTRY_PROXY_* and serves pulls through the upstream", async () => {
    const config = join(scratch, "config.yml");
    const server = await startBerthProcess({
      env: { REGISTRY_PROXY_REMOTEURL: upstream.url, REGISTRY_PROXY_USERNAME: "mirror", REGISTRY_PROXY_PASSWORD: "s3cret-upstream-pw" },
      config: async (port) => {
        await writeFile(config, ["version: 0.1", "storage:", "  filesystem:", `    rootdirectory: ${JSON.stringify(join(scratch, "root"))}`, "http:", `  addr: 127.0.0.1:${port}`, "  secret: proxy-serve", ""].join("\n"));
        return config;
      },
    });
    try {
      await assertPullsIdentical(server.host, "library/app", "1", image, scratch);
      const refused = await fetch(`${server.url}/v2/library/app/blobs/uploads/`, { method: "POST" });
      assert.equal(refused.status, 405);
      assert.doesNotMatch(server.output(), /s3cret-upstream-pw/, "the password is never logged");
      assert.doesNotMatch(server.output(), /proxy.*unimplemented|not implemented/i);
    } finally {
      await server.stop();
    }
  });

  it("validates mirrors and redacts their passwords in berth config print", async () => {
    const good = join(scratch, "mirrors.yml");
    await writeFile(
      good,
      ["version: 0.1", "storage:", "  inmemory: {}", "mirrors:", "  - prefix: hub", `    remoteurl: ${upstream.url}`, "    username: mirror", "    password: s3cret-upstream-pw", "    ttl: 72h", ""].join("\n"),
    );
    assert.equal((await berth(["config", "validate", good])).code, 0);
    const printed = await berth(["config", "print", good]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.doesNotMatch(printed.stdout, /s3cret-upstream-pw/);
    assert.match(printed.stdout, /password: ["']?\[redacted\]["']?/);
    const overlapping = join(scratch, "overlap.yml");
    await writeFile(
      overlapping,
      ["version: 0.1", "storage:", "  inmemory: {}", "mirrors:", "  - prefix: hub", "    remoteurl: https://a.example", "  - prefix: hub/library", "    remoteurl: https://b.example", ""].join("\n"),
    );
    const refused = await berth(["config", "validate", overlapping]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /overlap\.yml:7:13: mirrors\[1\]\.prefix: overlaps the prefix hub of mirror 0/);
  });
});
