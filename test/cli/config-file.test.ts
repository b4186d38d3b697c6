import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { resolveConfigFile } from "../../server/config/paths.js";
import { berth } from "../support/berth-cli.js";

// Which file a command without one reads: the argument, REGISTRY_CONFIGURATION_PATH (as
// distribution's serve), then distribution 3.x's image path, then 2.x's.
describe("the configuration file a command reads", () => {
  let dir: string;
  let v3: string;
  let v2: string;
  let named: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-config-file-"));
    v3 = join(dir, "distribution.yml");
    v2 = join(dir, "docker-registry.yml");
    named = join(dir, "named.yml");
    const config = (addr: string) => `version: 0.1\nstorage:\n  inmemory: {}\nhttp:\n  addr: ${addr}\n`;
    await writeFile(v2, config("127.0.0.1:5002"));
    await writeFile(named, config("127.0.0.1:5009"));
  });

  after(() => rm(dir, { recursive: true, force: true }));

  it("takes the argument first, then REGISTRY_CONFIGURATION_PATH, then the first candidate that exists", async () => {
    const env = { REGISTRY_CONFIGURATION_PATH: named };
    assert.equal(resolveConfigFile("/given.yml", env, [v3, v2]), "/given.yml");
    assert.equal(resolveConfigFile(undefined, env, [v3, v2]), named);
    assert.equal(resolveConfigFile(undefined, { REGISTRY_CONFIGURATION_PATH: "" }, [v3, v2]), v2);
    await writeFile(v3, "version: 0.1\n");
    try {
      assert.equal(resolveConfigFile(undefined, {}, [v3, v2]), v3);
    } finally {
      await rm(v3);
    }
    assert.equal(resolveConfigFile(undefined, {}, [v3]), undefined);
  });

  it("config print without a file reads REGISTRY_CONFIGURATION_PATH and does not take it for a key", async () => {
    const result = await berth(["config", "print"], { REGISTRY_CONFIGURATION_PATH: named });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /addr: 127\.0\.0\.1:5009/);
    assert.doesNotMatch(result.stdout + result.stderr, /CONFIGURATION_PATH/);
  });
});
