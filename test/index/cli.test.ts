import assert from "node:assert/strict";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfigWithWarnings } from "../../server/config/load.js";
import { indexCommand } from "../../server/index/cli.js";
import { openMetadataIndex } from "../../server/index/metadata-index.js";
import { indexSettings } from "../../server/index/settings.js";
import { createLogger } from "../../server/log.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { pushImage, startRegistry, type TestRegistry } from "../http/harness.js";
import { tempDir } from "./helpers.js";

async function run(args: string[]) {
  let out = "";
  let err = "";
  const code = await indexCommand(args, { out: (text) => (out += text), err: (text) => (err += text) });
  return { code, out, err };
}

describe("berth index", () => {
  let dir: string;
  let config: string;
  let r: TestRegistry;

  before(async () => {
    dir = tempDir();
    const root = join(dir, "storage");
    r = await startRegistry({ driver: createDriver("filesystem", { rootdirectory: root }) });
    await pushImage(r, "cli/one", "v1");
    await pushImage(r, "cli/two", "v1", { layers: 2 });
    config = join(dir, "config.yml");
    writeFileSync(config, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${root}\nconsole:\n  statedir: ${join(dir, "state")}\n`);
  });
  after(async () => {
    await r.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reports a missing index without creating it", async () => {
    const result = await run(["status", config]);
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /state: missing/);
    assert.equal(existsSync(join(dir, "state", "index.sqlite")), false);
  });

  it("rebuilds the index into console.statedir, where serve finds it fresh", async () => {
    const result = await run(["rebuild", config]);
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /rebuilt .*index\.sqlite in \d+ ms: 2 repositories, 2 tags, 2 manifests/);

    const status = await run(["status", "--json", config]);
    assert.equal(status.code, 0, status.err);
    const json = JSON.parse(status.out) as { exists: boolean; stale: string | null; repositories: number; tags: number; builtAt: number };
    assert.deepEqual([json.exists, json.stale, json.repositories, json.tags], [true, null, 2, 2]);
    assert.ok(Math.abs(json.builtAt - Date.now()) < 60_000);

    // What serve would open: the same file and generation, so no second rebuild at start.
    const settings = indexSettings((await loadConfigWithWarnings(config)).config);
    assert.deepEqual(settings.database, { backend: "sqlite", path: join(dir, "state", "index.sqlite") });
    const index = await openMetadataIndex({ ...settings, driver: r.driver, services: r.registry.services, logger: createLogger({ write: () => undefined }) });
    try {
      assert.equal(await index.staleness(), undefined);
      assert.deepEqual((await index.listRepositories()).rows.map((row) => row.name), ["cli/one", "cli/two"]);
    } finally {
      await index.close();
    }
  });

  it("takes the directory from --state-dir", async () => {
    const other = join(dir, "elsewhere");
    const result = await run(["rebuild", "--json", "--state-dir", other, config]);
    assert.equal(result.code, 0, result.err);
    assert.equal((JSON.parse(result.out) as { repositories: number }).repositories, 2);
    assert.ok(existsSync(join(other, "index.sqlite")));
  });

  it("rejects bad usage with status 2", async () => {
    assert.equal((await run([])).code, 2);
    assert.equal((await run(["bogus"])).code, 2);
    assert.equal((await run(["rebuild", config, "extra"])).code, 2);
    assert.equal((await run(["rebuild", "--nope"])).code, 2);
    const help = await run(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.out, /Usage: berth index/);
    assert.equal((await run(["rebuild", join(dir, "missing.yml")])).code, 1);
  });
});
