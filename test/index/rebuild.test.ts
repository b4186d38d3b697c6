import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { StorageDriver } from "../../server/registry/storage/driver.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { markIndexStale } from "../../server/index/metadata-index.js";
import { pushImage, repositoriesRoot, startRegistry, type TestRegistry } from "../http/harness.js";
import { openIndex, tempDir, type IndexUnderTest } from "./helpers.js";

const names = async (t: IndexUnderTest) => (await t.index.listRepositories({ limit: 1000 })).rows.map((row) => row.name);

describe("metadata index freshness", () => {
  let r: TestRegistry;
  let dir: string;
  let path: string;

  before(async () => {
    r = await startRegistry({ deleteEnabled: true });
    dir = tempDir();
    path = join(dir, "state", "index.sqlite");
    await pushImage(r, "fresh/one", "v1");
    await pushImage(r, "fresh/two", "v1");
  });
  after(async () => {
    await r.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("builds a missing index at start, in WAL mode, and keeps it across restarts", async () => {
    const first = await openIndex(r, { path, generation: "g1" });
    assert.equal(await first.index.staleness(), "missing");
    const started = await first.index.start();
    assert.equal(started.stale, "missing");
    const report = await started.rebuild;
    assert.equal(report?.repositories, 2);
    assert.equal(await first.index.staleness(), undefined);
    assert.ok(existsSync(`${path}-wal`), "the index runs in WAL mode");
    assert.deepEqual(await names(first), ["fresh/one", "fresh/two"]);
    await first.index.close();

    // Changed behind the index's back while it was closed: a fresh index does not see it...
    await pushImage(r, "fresh/three", "v1");
    const second = await openIndex(r, { path, generation: "g1" });
    const restarted = await second.index.start();
    assert.equal(restarted.stale, undefined);
    assert.equal(restarted.rebuild, undefined);
    assert.deepEqual(await names(second), ["fresh/one", "fresh/two"], "rows come from the file, not storage");
    // ...until something marks it stale.
    await second.index.invalidate();
    assert.equal(await second.index.staleness(), "dirty");
    await second.index.close();
  });

  it("lets offline tools mark the index file stale", async () => {
    const fresh = await openIndex(r, { path, generation: "g1" });
    await fresh.index.rebuild();
    await fresh.index.close();
    assert.equal(await markIndexStale({ backend: "sqlite", path }), true);
    assert.equal(await markIndexStale({ backend: "sqlite", path: join(dir, "nothing", "index.sqlite") }), false);
    assert.equal(existsSync(join(dir, "nothing")), false, "no file is created");
    const reopened = await openIndex(r, { path, generation: "g1" });
    assert.equal(await reopened.index.staleness(), "dirty");
    await reopened.index.close();
  });

  it("rebuilds when the stored state is dirty, of another generation, or too old", async () => {
    const dirty = await openIndex(r, { path, generation: "g1" });
    const started = await dirty.index.start();
    assert.equal(started.stale, "dirty");
    await started.rebuild;
    assert.deepEqual(await names(dirty), ["fresh/one", "fresh/three", "fresh/two"]);
    await dirty.index.close();

    const other = await openIndex(r, { path, generation: "g2" });
    assert.equal(await other.index.staleness(), "generation");
    await other.index.close();

    const old = await openIndex(r, { path, generation: "g1", maxAgeMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(await old.index.staleness(), "age");
    await old.index.close();

    rmSync(dir, { recursive: true, force: true });
    const gone = await openIndex(r, { path, generation: "g1" });
    assert.equal(await gone.index.staleness(), "missing");
    await gone.index.close();
  });

  it("drops repositories that left storage behind its back", async () => {
    const t = await openIndex(r);
    await t.index.rebuild();
    assert.ok((await names(t)).includes("fresh/two"));
    await r.driver.delete(`${repositoriesRoot}/fresh/two`);
    await t.index.rebuild();
    assert.deepEqual(await names(t), ["fresh/one", "fresh/three"]);
    await t.index.close();
  });
});

/** Counts storage reads in flight and slows each down, to watch a rebuild's concurrency. */
function slowDriver(inner: StorageDriver, delayMs: number) {
  const counters = { inFlight: 0, max: 0, reads: 0 };
  const driver = new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      const fn = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
      if (prop !== "stat" && prop !== "getContent") return fn;
      return async (...args: unknown[]) => {
        // The online-GC guard polls its state under _berth/ every second, beside any rebuild.
        if (typeof args[0] === "string" && args[0].includes("/_berth/")) return fn(...args);
        counters.inFlight += 1;
        counters.reads += 1;
        counters.max = Math.max(counters.max, counters.inFlight);
        try {
          await new Promise((resolve) => setTimeout(resolve, delayMs));
          return await fn(...args);
        } finally {
          counters.inFlight -= 1;
        }
      };
    },
  });
  return { driver, counters };
}

describe("metadata index rebuild", () => {
  let r: TestRegistry;
  let counters: { inFlight: number; max: number; reads: number };

  before(async () => {
    const slow = slowDriver(createDriver("inmemory"), 1);
    counters = slow.counters;
    r = await startRegistry({ driver: slow.driver, deleteEnabled: true });
    for (let i = 0; i < 12; i++) await pushImage(r, `many/repo${String(i).padStart(2, "0")}`, "v1", { layers: 2 });
    await pushImage(r, "many/repo00", "v2");
  });
  after(() => r.close());

  it("keeps storage reads within its concurrency", async () => {
    const t = await openIndex(r, { concurrency: 3, batchSize: 5 });
    counters.max = 0;
    counters.reads = 0;
    const report = await t.index.rebuild();
    assert.deepEqual({ ...report, durationMs: 0 }, { repositories: 12, tags: 13, manifests: 13, errors: 0, skipped: 0, durationMs: 0 });
    assert.ok(counters.reads > 40, `reads: ${counters.reads}`);
    assert.ok(counters.max <= 3, `at most 3 reads at once, saw ${counters.max}`);
    assert.equal((await t.index.stats()).tags, 13);
    await t.index.close();
  });

  it("stays exact when pushes and deletes land while it runs", async () => {
    const t = await openIndex(r, { concurrency: 2, batchSize: 2 });
    await t.index.start();
    await t.index.rebuild();
    const rebuilding = t.index.rebuild();
    const again = t.index.rebuild();
    assert.equal((await t.index.status()).rebuilding, true);
    const pushed = await pushImage(r, "many/repo11", "during");
    await pushImage(r, "many/late", "v1");
    assert.equal((await r.fetch("/v2/many/repo03/manifests/v1", { method: "DELETE" })).status, 202);
    assert.equal(await again, await rebuilding, "concurrent calls share one run (and its report)");
    await t.index.idle();

    const reference = await openIndex(r);
    await reference.index.rebuild();
    const view = async (x: IndexUnderTest) => {
      const repositories = (await x.index.listRepositories({ limit: 100 })).rows;
      return { repositories, tags: await Promise.all(repositories.map(async (row) => (await x.index.listTags(row.name)).rows)) };
    };
    assert.deepEqual(await view(t), await view(reference));
    assert.deepEqual(await t.index.tagsSharing("many/repo11", pushed.digest), ["during"]);
    assert.equal((await t.index.listTags("many/repo03")).total, 0);
    await reference.index.close();
    await t.index.close();
  });
});
