import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { Etcd3 } from "etcd3";
import { etcdKeys } from "../../server/etcd/keys.js";
import type { GcProgress } from "../../server/gc/collect.js";
import { currentGarbageCollection, GcBusyError, listHistory, runGarbageCollection } from "../../server/gc/runner.js";
import { createLogger } from "../../server/log.js";
import { ReadOnlyState, WriteTracker } from "../../server/maintenance/readonly.js";
import type { RegistryEvent } from "../../server/registry/events.js";
import type { StorageDriver } from "../../server/registry/storage/driver.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { startEtcd, type RunningEtcd } from "../support/etcd.js";
import { requireCommands } from "../support/commands.js";
import {
  deleteManifest,
  pushImage,
  removeDir,
  sha256,
  sorted,
  startBerth,
  startCrashingHolder,
  storageBlobs,
  storageFiles,
  tempDir,
  type GcBerth,
  type PushedImage,
} from "./harness.js";
import { eventually } from "../support/eventually.js";

const logger = createLogger({ level: "error", write: () => undefined });

/**
 * A driver whose calls can be made to fail or to wait, to test what surrounds the collection:
 * single calls and the driver's batch operations alike.
 */
function wrapDriver(inner: StorageDriver, hooks: { delete?: (path: string) => void; list?: (path: string) => Promise<void> }): StorageDriver {
  const own = inner.batch;
  const batch = own && {
    ...own,
    delete: async (paths: readonly string[]) => {
      for (const path of paths) hooks.delete?.(path);
      return own.delete(paths);
    },
    list: async (paths: readonly string[]) => {
      for (const path of paths) await hooks.list?.(path);
      return own.list(paths);
    },
  };
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === "batch") return batch;
      if (property === "delete") {
        return async (path: string) => {
          hooks.delete?.(path);
          return target.delete(path);
        };
      }
      if (property === "list") {
        return async (path: string) => {
          await hooks.list?.(path);
          return target.list(path);
        };
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A storage with one kept image and one deleted one (whose blobs are garbage). */
async function storageWithGarbage(berth: GcBerth): Promise<{ kept: PushedImage; garbage: string[] }> {
  const kept = await pushImage(berth.url, "team/app", "v1", { layers: [300, 200] });
  const gone = await pushImage(berth.url, "team/app", "v0", { layers: [400] });
  await deleteManifest(berth.url, "team/app", gone.digest);
  return { kept, garbage: gone.blobs };
}

describe("garbage collection on a running registry", () => {
  let root: string;
  let berth: GcBerth;

  before(async () => {
    root = await tempDir("runner");
    berth = await startBerth(root);
  });
  after(async () => {
    await berth.close();
    await removeDir(root);
  });

  it("switches to read-only for the run, restores writable, records the run, announces deletions", async () => {
    const { garbage, kept } = await storageWithGarbage(berth);
    const untagged = await pushImage(berth.url, "team/app", undefined, { layers: [100] });
    const modes: boolean[] = [];
    const events: RegistryEvent[] = [];
    let invalidated = 0;
    const run = await runGarbageCollection({
      driver: berth.driver,
      readOnly: berth.readOnly,
      writes: berth.writes,
      logger,
      user: "alice",
      deleteUntagged: true,
      graceMs: 0,
      onProgress: () => modes.push(berth.readOnly.isReadOnly()),
      events: { emit: (event) => events.push(event) },
      invalidate: () => {
        invalidated++;
        modes.push(berth.readOnly.isReadOnly());
      },
    });
    assert.ok(modes.length > 2 && modes.every(Boolean), "read-only during mark, sweep and invalidation");
    assert.equal(berth.readOnly.isReadOnly(), false);
    assert.equal(berth.readOnly.status().flag, null);
    assert.equal(invalidated, 1);
    assert.deepEqual(events, [{ type: "manifest.delete", repository: "team/app", digest: untagged.digest }]);
    assert.equal(run.status, "succeeded");
    assert.deepEqual(sorted(run.report!.blobsDeleted.map((b) => b.digest)), sorted([...garbage, ...untagged.blobs]));
    const blobs = await storageBlobs(root);
    for (const digest of kept.blobs) assert.ok(blobs.has(digest));

    const [recorded] = await listHistory(berth.driver, 5);
    assert.equal(recorded?.id, run.id);
    assert.equal(recorded?.user, "alice");
    assert.equal(recorded?.deleteUntagged, true);
    assert.equal(recorded?.dryRun, false);
    assert.deepEqual(recorded?.report?.blobsDeleted, run.report?.blobsDeleted);
    await pushImage(berth.url, "team/app", "after-gc");
  });

  it("a dry run stays writable and changes nothing but the history", async () => {
    const { garbage } = await storageWithGarbage(berth);
    const before = (await storageFiles(root)).filter((f) => !f.startsWith("_berth/"));
    const modes: boolean[] = [];
    const run = await runGarbageCollection({
      driver: berth.driver,
      readOnly: berth.readOnly,
      writes: berth.writes,
      logger,
      user: "bob",
      dryRun: true,
      graceMs: 0,
      onProgress: () => modes.push(berth.readOnly.isReadOnly()),
    });
    assert.ok(modes.length > 0 && modes.every((m) => !m));
    assert.deepEqual(sorted(run.report!.blobsDeleted.map((b) => b.digest)), sorted(garbage), "what a real run would delete");
    assert.deepEqual((await storageFiles(root)).filter((f) => !f.startsWith("_berth/")), before);
    const history = await listHistory(berth.driver, 10);
    assert.equal(history[0]?.id, run.id, "newest first");
    assert.equal(history[0]?.dryRun, true);
    assert.equal(history.length, 2);
    assert.equal((await listHistory(berth.driver, 1)).length, 1);
  });

  it("restores the previous mode after a failure and records the error", async () => {
    await storageWithGarbage(berth);
    const operator = await berth.readOnly.set(true, { owner: "carol", reason: "before the collection" });
    const failing = wrapDriver(berth.driver, {
      delete: (path) => {
        if (path.includes("/blobs/")) throw new Error("disk on fire");
      },
    });
    let modeDuringRun: string | undefined;
    await assert.rejects(
      runGarbageCollection({
        mode: "read-only",
        driver: failing,
        readOnly: berth.readOnly,
        writes: berth.writes,
        logger,
        user: "dave",
        graceMs: 0,
        onProgress: () => {
          modeDuringRun ??= berth.readOnly.status().flag?.owner;
        },
      }),
      /disk on fire/,
    );
    assert.equal(modeDuringRun, "garbage collection by dave");
    assert.equal(berth.readOnly.status().flag?.id, operator.flag?.id, "carol's flag is back");
    await berth.readOnly.set(false);

    const [recorded] = await listHistory(failing, 1);
    assert.equal(recorded?.status, "failed");
    assert.equal(recorded?.user, "dave");
    assert.match(recorded?.error ?? "", /disk on fire/);

    // The same failure from a writable registry leaves it writable.
    await assert.rejects(runGarbageCollection({ mode: "read-only", driver: failing, readOnly: berth.readOnly, writes: berth.writes, logger, user: "dave", graceMs: 0 }), /disk on fire/);
    assert.equal(berth.readOnly.isReadOnly(), false);
    assert.equal(berth.readOnly.status().flag, null);
  });

  it("refuses a second collection while one runs, and says who runs it", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reachedGate = false;
    const slow = wrapDriver(berth.driver, {
      list: async (path) => {
        if (path.endsWith("/blobs")) {
          reachedGate = true;
          await gate;
        }
      },
    });
    const progress: GcProgress[] = [];
    const first = runGarbageCollection({ mode: "read-only", driver: slow, readOnly: berth.readOnly, writes: berth.writes, logger, user: "erin", graceMs: 0, onProgress: (p) => progress.push(p) });
    await eventually(() => reachedGate, 5_000, "the first collection to reach the sweep");
    const second = runGarbageCollection({ driver: slow, readOnly: berth.readOnly, writes: berth.writes, logger, user: "frank", dryRun: true });
    await assert.rejects(second, (error: unknown) => {
      assert.ok(error instanceof GcBusyError);
      assert.match(error.message, /^a garbage collection is already running \(erin on [^,]+, since \d{4}-\d\d-\d\dT/);
      return true;
    });
    // The blob listing starts beside the mark; the mark's first progress event may come just after.
    await eventually(() => currentGarbageCollection(slow)?.phase === "mark", 5_000, "the first collection to report its mark");
    assert.equal(currentGarbageCollection(slow)?.owner, "erin");
    assert.equal(berth.readOnly.isReadOnly(), true);
    release();
    assert.equal((await first).status, "succeeded");
    assert.equal(currentGarbageCollection(slow), undefined);
    assert.equal(berth.readOnly.isReadOnly(), false);
    const history = await listHistory(berth.driver, 50);
    assert.ok(!history.some((run) => run.user === "frank"), "a refused run is not recorded as a run");
    assert.equal((await runGarbageCollection({ driver: slow, readOnly: berth.readOnly, writes: berth.writes, logger, user: "frank", dryRun: true })).status, "succeeded");
  });

  it("waits for a write request in progress, which completes, while new writes are refused", async () => {
    const layer = randomBytes(64 * 1024);
    const start = await fetch(`${berth.url}/v2/team/app/blobs/uploads/`, { method: "POST" });
    assert.equal(start.status, 202);
    const location = new URL(start.headers.get("location") ?? "", berth.url);
    // A PATCH whose body is still arriving: the write the collection must wait for.
    const patch = http.request(location, { method: "PATCH", headers: { "Content-Type": "application/octet-stream" } });
    const patched = new Promise<number>((resolve, reject) => {
      patch.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      patch.on("error", reject);
    });
    patch.write(layer.subarray(0, 1024));
    await eventually(() => berth.writes.inFlight === 1, 2_000, "the PATCH to be in flight");

    const progress: GcProgress[] = [];
    const run = runGarbageCollection({ mode: "read-only", driver: berth.driver, readOnly: berth.readOnly, writes: berth.writes, logger, user: "gina", graceMs: 0, onProgress: (p) => progress.push(p) });
    await eventually(() => berth.readOnly.isReadOnly(), 2_000, "read-only");
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(progress.length, 0, "the collection has not started marking");
    assert.equal(currentGarbageCollection(berth.driver)?.phase, "waiting-for-writes");
    const refused = await fetch(`${berth.url}/v2/team/app/blobs/uploads/`, { method: "POST" });
    assert.equal(refused.status, 405);
    await refused.arrayBuffer();

    patch.end(layer.subarray(1024));
    assert.equal(await patched, 202, "the write admitted before the switch completes");
    assert.equal((await run).status, "succeeded");
    assert.equal(berth.readOnly.isReadOnly(), false);
    const url = new URL(location);
    url.searchParams.set("digest", sha256(layer));
    const finish = await fetch(url, { method: "PUT" });
    assert.equal(finish.status, 201, "the upload finishes after the collection");
  });

  it("gives up when writes do not finish in time, and restores the mode", async () => {
    const end = berth.writes.beginWrite();
    try {
      await assert.rejects(
        runGarbageCollection({ mode: "read-only", driver: berth.driver, readOnly: berth.readOnly, writes: berth.writes, logger, user: "hal", writeTimeoutMs: 100 }),
        /1 write request\(s\) still in progress after 100 ms; garbage collection not started/,
      );
      assert.equal(berth.readOnly.isReadOnly(), false);
      assert.equal((await listHistory(berth.driver, 1))[0]?.status, "failed");
    } finally {
      end();
    }
  });
});

describe("garbage collection across instances (etcd)", () => {
  before(() => requireCommands("etcd"));
  let etcd: RunningEtcd;
  let root: string;
  let berth: GcBerth;
  const clients: Etcd3[] = [];
  const states: ReadOnlyState[] = [];
  const prefix = "/lain";

  const client = () => {
    const created = new Etcd3({ hosts: [etcd.endpoint] });
    clients.push(created);
    return created;
  };
  const instance = async () => {
    const etcdClient = client();
    const state = await ReadOnlyState.create({ etcd: etcdClient, prefix });
    states.push(state);
    return { etcd: etcdClient, readOnly: state, writes: new WriteTracker(), driver: createDriver("filesystem", { rootdirectory: root }) };
  };

  before(async () => {
    etcd = await startEtcd();
    root = await tempDir("runner-etcd");
    berth = await startBerth(root);
  });
  after(async () => {
    await berth.close();
    for (const state of states) await state.close();
    for (const c of clients) c.close();
    await etcd.stop();
    await removeDir(root);
  });

  it("one instance's collection makes the others read-only and refuses theirs", async () => {
    const { garbage } = await storageWithGarbage(berth);
    const one = await instance();
    const two = await instance();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reachedGate = false;
    const slow = wrapDriver(one.driver, {
      list: async (path) => {
        if (path.endsWith("/blobs")) {
          reachedGate = true;
          await gate;
        }
      },
    });
    const first = runGarbageCollection({ mode: "read-only", ...one, driver: slow, etcdPrefix: prefix, logger, user: "ivan", graceMs: 0, settleMs: 200 });
    await eventually(() => reachedGate, 10_000, "the first collection to reach the sweep");
    assert.equal(two.readOnly.isReadOnly(), true, "the other instance is read-only too");
    assert.equal(two.readOnly.status().flag?.owner, "garbage collection by ivan");
    await assert.rejects(
      runGarbageCollection({ ...two, etcdPrefix: prefix, logger, user: "judy", dryRun: true }),
      (error: unknown) => error instanceof GcBusyError && /already running \(ivan on /.test(error.message),
    );
    release();
    const run = await first;
    assert.deepEqual(sorted(run.report!.blobsDeleted.map((b) => b.digest)), sorted(garbage));
    await eventually(() => !two.readOnly.isReadOnly(), 1_000, "the other instance to be writable again");
    assert.equal(await client().get(etcdKeys.gcLock(prefix)).string(), null, "the lock is released");
    assert.equal(await client().get(etcdKeys.readOnly(prefix)).string(), null, "the flag is cleared");
    assert.equal((await runGarbageCollection({ ...two, etcdPrefix: prefix, logger, user: "judy", dryRun: true })).status, "succeeded");
  });

  it("the lock of a crashed collection lapses with its lease", async () => {
    const one = await instance();
    const ttlMs = 2_000;
    const holder = await startCrashingHolder(etcd.endpoint, prefix, "gclock", ttlMs);
    await assert.rejects(runGarbageCollection({ ...one, etcdPrefix: prefix, logger, user: "kim", dryRun: true }), /already running \(crashing collector/);
    await holder.kill();
    await eventually(async () => (await client().get(etcdKeys.gcLock(prefix)).string()) === null, ttlMs + 3_000, "the lock to lapse");
    assert.equal((await runGarbageCollection({ ...one, etcdPrefix: prefix, logger, user: "kim", dryRun: true })).status, "succeeded");
  });
});
