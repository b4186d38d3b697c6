import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Etcd3 } from "etcd3";
import { gcCommand } from "../../server/cli/gc-command.js";
import type { GcRunRecord } from "../../server/gc/history.js";
import { acquireGcLock } from "../../server/gc/lock.js";
import { listHistory } from "../../server/gc/runner.js";
import { ReadOnlyState } from "../../server/maintenance/readonly.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { startEtcd, type RunningEtcd } from "../support/etcd.js";
import { requireCommands } from "../support/commands.js";
import { copyStorage, deleteManifest, difference, pushBlob, pushImage, removeDir, sorted, startBerth, storageBlobs, storageFiles, storageRevisions, tempDir, type PushedImage } from "./harness.js";

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await gcCommand(args, { out: (text) => (out += text), err: (text) => (err += text) });
  return { code, out, err };
}

async function writeConfig(dir: string, root: string, extra: string[] = []): Promise<string> {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.yml`);
  await writeFile(file, ["version: 0.1", "storage:", "  filesystem:", `    rootdirectory: ${JSON.stringify(root)}`, "http:", "  addr: :5000", ...extra, ""].join("\n"));
  return file;
}

/**
 * `berth garbage-collect` on the storage of a registry that was stopped: one image kept, one
 * deleted (its blobs are garbage), one untagged, one stray upload.
 */
describe("berth garbage-collect", () => {
  let scratch: string;
  let pristine: string;
  let kept: PushedImage;
  let garbage: string[];
  let untagged: PushedImage;

  before(async () => {
    scratch = await tempDir("cli");
    pristine = join(scratch, "pristine");
    const berth = await startBerth(pristine);
    try {
      kept = await pushImage(berth.url, "lain/console", "release-1", { layers: [2000, 1000] });
      const gone = await pushImage(berth.url, "lain/console", "release-0", { layers: [3000], reuse: [{ digest: kept.layers[0]!, size: 2000 }] });
      await deleteManifest(berth.url, "lain/console", gone.digest);
      untagged = await pushImage(berth.url, "lain/console", undefined, { layers: [500] });
      const stray = await pushBlob(berth.url, "lain/console", Buffer.from("stray upload"));
      garbage = [gone.digest, gone.config, gone.layers[1]!, stray];
    } finally {
      await berth.close();
    }
  });
  after(() => removeDir(scratch));

  const fresh = async (label: string) => {
    const root = join(scratch, label);
    await copyStorage(pristine, root);
    // What these runs delete was pushed a moment ago: no grace period.
    return { root, config: await writeConfig(scratch, root, ["gc:", "  grace: 0s"]) };
  };

  it("--dry-run prints what it would delete and a summary, and deletes nothing", async () => {
    const { root, config } = await fresh("dry");
    const files = (await storageFiles(root)).filter((f) => !f.startsWith("_berth/"));
    const { code, out, err } = await run(["--dry-run", config]);
    assert.equal(code, 0, err);
    for (const digest of garbage) assert.match(out, new RegExp(`^would delete blob ${digest} \\(`, "m"));
    assert.doesNotMatch(out, new RegExp(kept.layers[0]!));
    assert.match(out, /^1 repositories, 2 manifests, \d+ blobs \(\d+ referenced\)$/m);
    assert.match(out, /^would delete 0 manifests, 4 blobs and 3 stale links; would free .* \(\d+ bytes\) in [\d.]+ s \(dry run: nothing was deleted\)$/m);
    assert.deepEqual((await storageFiles(root)).filter((f) => !f.startsWith("_berth/")), files);
  });

  it("deletes the unreferenced blobs and prints what it freed", async () => {
    const { root, config } = await fresh("real");
    const before = await storageBlobs(root);
    const { code, out, err } = await run([config]);
    assert.equal(code, 0, err);
    const deleted = difference(before.keys(), (await storageBlobs(root)).keys());
    assert.deepEqual(sorted(deleted), sorted(garbage));
    for (const digest of garbage) assert.match(out, new RegExp(`^deleting blob ${digest} `, "m"));
    const bytes = garbage.reduce((sum, d) => sum + before.get(d)!, 0);
    assert.match(out, new RegExp(`^deleted 0 manifests, 4 blobs and 3 stale links; freed .* \\(${bytes} bytes\\) in [\\d.]+ s$`, "m"));
    const [recorded] = await listHistory(createDriver("filesystem", { rootdirectory: root }), 1);
    assert.match(recorded?.user ?? "", /^cli:/);
    assert.equal(recorded?.status, "succeeded");
  });

  it("-m deletes untagged manifests; --json prints the run; -q only the summary", async () => {
    const { root, config } = await fresh("untagged");
    const quiet = await run(["-d", "-m", "-q", config]);
    assert.equal(quiet.code, 0, quiet.err);
    assert.equal(quiet.out.trim().split("\n").length, 2, quiet.out);

    const { code, out, err } = await run(["--delete-untagged", "--json", config]);
    assert.equal(code, 0, err);
    const record = JSON.parse(out) as GcRunRecord;
    assert.equal(record.status, "succeeded");
    assert.deepEqual(record.report?.manifestsDeleted, [{ repository: "lain/console", digest: untagged.digest }]);
    assert.deepEqual(sorted(record.report!.blobsDeleted.map((b) => b.digest)), sorted([...garbage, ...untagged.blobs]));
    assert.ok(!(await storageRevisions(root)).has(`lain/console@${untagged.digest}`));
  });

  it("--grace keeps recent unreferenced blobs", async () => {
    const { root, config } = await fresh("grace");
    const blobSizes = await storageBlobs(root);
    const { code, out } = await run(["--grace", "1h", "--json", config]);
    assert.equal(code, 0);
    const record = JSON.parse(out) as GcRunRecord;
    assert.deepEqual(record.report?.blobsDeleted, []);
    assert.equal(record.report?.blobsInGrace, 4);
    assert.equal(record.report?.graceMs, 60 * 60_000);
    assert.equal(record.report?.kept.inGrace.blobs, 4);
    assert.equal(record.report?.kept.inGrace.bytes, garbage.reduce((sum, d) => sum + blobSizes.get(d)!, 0));
  });

  it("takes gc.grace from config.yml (10m when absent); --grace overrides it, and the summary says what the grace kept", async () => {
    const { root } = await fresh("grace-config");
    const configured = await writeConfig(scratch, root, ["gc:", "  grace: 2h"]);
    const kept = await run(["-q", configured]);
    assert.equal(kept.code, 0, kept.err);
    assert.match(kept.out, /\(\d+ referenced, 4 unreferenced \(.*\) kept as younger than the grace period of 2h\)$/m);
    assert.match(kept.out, /^deleted 0 manifests, 0 blobs/m);
    const byDefault = await run(["-d", "--json", await writeConfig(scratch, root)]);
    assert.equal((JSON.parse(byDefault.out) as GcRunRecord).report?.graceMs, 10 * 60_000);
    const overridden = await run(["--grace", "0s", "-q", configured]);
    assert.equal(overridden.code, 0, overridden.err);
    assert.match(overridden.out, /^deleted 0 manifests, 4 blobs/m);
  });

  it("usage errors exit 2, configuration errors 1", async () => {
    assert.equal((await run([])).code, 2);
    assert.equal((await run(["a.yml", "b.yml"])).code, 2);
    assert.equal((await run(["--frobnicate", "a.yml"])).code, 2);
    const grace = await run(["--grace", "soon", "a.yml"]);
    assert.equal(grace.code, 2);
    assert.match(grace.err, /--grace: invalid duration/);
    const missing = await run([join(scratch, "nope.yml")]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /cannot read configuration file/);
    const help = await run(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.out, /Usage: berth garbage-collect/);
  });
});

describe("berth garbage-collect with etcd configured", () => {
  before(() => requireCommands("etcd"));
  let etcd: RunningEtcd;
  let scratch: string;
  let client: Etcd3;

  before(async () => {
    etcd = await startEtcd();
    client = new Etcd3({ hosts: [etcd.endpoint] });
    scratch = await tempDir("cli-etcd");
  });
  after(async () => {
    client.close();
    await etcd.stop();
    await removeDir(scratch);
  });

  it("switches running instances to read-only for the run and refuses while another collection runs", async () => {
    const root = join(scratch, "storage");
    const berth = await startBerth(root);
    try {
      const gone = await pushImage(berth.url, "app", "old");
      await deleteManifest(berth.url, "app", gone.digest);
    } finally {
      await berth.close();
    }
    const config = await writeConfig(scratch, root, ["etcd:", `  endpoints: [${JSON.stringify(etcd.endpoint)}]`, "  prefix: /lain", "gc:", "  grace: 0s"]);
    const running = await ReadOnlyState.create({ etcd: client, prefix: "/lain" });
    const modes: boolean[] = [];
    running.subscribe((status) => modes.push(status.readOnly));
    try {
      const lock = await acquireGcLock({ driver: createDriver("inmemory"), owner: "console:alice", dryRun: false, etcd: client, prefix: "/lain" });
      const busy = await run([config]);
      assert.equal(busy.code, 1);
      assert.match(busy.err, /a garbage collection is already running \(console:alice/);
      await lock.release();

      const { code, out, err } = await run(["--read-only", config]);
      assert.equal(code, 0, err);
      assert.match(out, /deleted 0 manifests, 3 blobs/);
      assert.deepEqual(modes, [true, false], "the running instance was read-only during the run, then writable");

      const offline = await run(["--offline", "--dry-run", config]);
      assert.equal(offline.code, 0, offline.err);
    } finally {
      await running.close();
    }
  });
});
