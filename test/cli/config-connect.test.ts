import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { berth } from "../support/berth-cli.js";
import { fakeEtcd, type FakeEtcd } from "../support/etcd.js";

describe("berth config validate: --dry-run connects to nothing, --connect reaches etcd", () => {
  let dir: string;
  let file: string;
  let etcd: FakeEtcd;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-cli-connect-"));
    etcd = await fakeEtcd();
    file = join(dir, "config.yml");
    await writeFile(file, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\netcd:\n  endpoints: [${etcd.url}]\n`);
  });
  after(async () => {
    await etcd?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a dry run probes the storage, leaves etcd alone and says so", async () => {
    const result = await berth(["config", "validate", "--dry-run", file]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /not reached without --connect: etcd\.endpoints/);
    assert.equal(etcd.requests(), 0);
  });

  it("--connect reaches etcd", async () => {
    const result = await berth(["config", "validate", "--connect", "--json", file]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const report = JSON.parse(result.stdout) as { dryRun: boolean; connect: boolean; unreached: string[] };
    assert.deepEqual([report.dryRun, report.connect, report.unreached], [true, true, []]);
    assert.equal(etcd.requests(), 1);
  });
});
