import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { berth } from "../support/berth-cli.js";

describe("berth config validate / print", () => {
  let dir: string;
  let valid: string;
  let broken: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-cli-"));
    valid = join(dir, "valid.yml");
    broken = join(dir, "broken.yml");
    await writeFile(
      valid,
      `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\nhttp:\n  addr: 127.0.0.1:5000\n  secret: very-secret-value\n`,
    );
    await writeFile(broken, "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /tmp/x\n  inmemory: {}\nhttp:\n  addr: nope\n");
  });

  after(() => rm(dir, { recursive: true, force: true }));

  it("accepts a valid file with exit 0", async () => {
    const result = await berth(["config", "validate", valid]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /valid/);
  });

  it("lists every problem with its line and exits 1", async () => {
    const result = await berth(["config", "validate", broken]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /storage/);
    assert.match(result.stdout, /broken\.yml:7:\d+: http\.addr/);
    assert.match(result.stdout, /2 problems/);
  });

  it("answers JSON with --json", async () => {
    const result = await berth(["config", "validate", "--json", broken]);
    assert.equal(result.code, 1);
    const report = JSON.parse(result.stdout) as { ok: boolean; problems: { path: string; line?: number }[] };
    assert.equal(report.ok, false);
    assert.ok(report.problems.some((p) => p.path === "http.addr" && p.line === 7));
  });

  it("dry run writes and removes a probe in the storage, and the directories it created for it", async () => {
    // An existing, empty storage root: the dry run must leave it exactly as it found it.
    await mkdir(join(dir, "data"), { recursive: true });
    const result = await berth(["config", "validate", "--dry-run", valid]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /dry run/);
    assert.deepEqual(await readdir(join(dir, "data"), { recursive: true }), []);
  });

  it("dry run fails when the storage cannot be written", async () => {
    const blocked = join(dir, "blocked.yml");
    const fileAsRoot = join(dir, "not-a-dir");
    await writeFile(fileAsRoot, "x");
    await writeFile(blocked, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${fileAsRoot}\n`);
    const result = await berth(["config", "validate", "--dry-run", blocked]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /storage/);
  });

  it("prints the effective configuration with REGISTRY_* overrides and secrets redacted", async () => {
    const result = await berth(["config", "print", valid], { REGISTRY_HTTP_ADDR: "127.0.0.1:6000", REGISTRY_STORAGE_DELETE_ENABLED: "true" });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /addr: 127\.0\.0\.1:6000/);
    assert.match(result.stdout, /enabled: true/);
    assert.doesNotMatch(result.stdout, /very-secret-value/);
    assert.match(result.stdout, /secret: .*redacted/);
  });
});
