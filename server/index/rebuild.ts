import pLimit from "p-limit";
import type { Logger } from "../log.js";
import type { Services } from "../registry/http/context.js";
import { walkRepositories } from "../registry/repositories.js";
import type { StorageDriver } from "../registry/storage/driver.js";
import { ManifestDescriber } from "./describe.js";
import { readRepositorySnapshot, uncachedSource } from "./snapshot.js";
import type { ChangeCounts, IndexStore } from "./store.js";
import type { RebuildReport, RepositorySnapshot } from "./types.js";

/** What a rebuild needs of the index. */
export interface RebuildTarget {
  store: IndexStore;
  driver: StorageDriver;
  services: Services;
  logger: Logger;
  /** Storage operations at once. */
  concurrency: number;
  /** Repositories written per transaction. */
  batchSize: number;
  transaction<T>(fn: (tx: IndexStore) => Promise<T>): Promise<T>;
  /** True once the index is closing: the rebuild stops. */
  closed(): boolean;
}

/**
 * A rebuild's reading and writing: every repository in storage read (bounded concurrency) and
 * its rows replaced, a batch of repositories per transaction, marked seen by `pass`. One that
 * events changed while it was read (its count in `changes` moved) is read again, up to three
 * times. Returns the counts; the caller drops what the pass did not see and records the build.
 */
export async function readAllRepositories(target: RebuildTarget, pass: number, changes: ChangeCounts): Promise<RebuildReport> {
  const limit = pLimit(target.concurrency);
  const describer = new ManifestDescriber(uncachedSource(target.services), limit, 10_000);
  // The walk bounds its own concurrency (16 directory listings at once).
  const names = await walkRepositories(target.driver);
  const report: RebuildReport = { repositories: 0, tags: 0, manifests: 0, errors: 0, skipped: 0, durationMs: 0 };

  const pending = names.map((name) => ({ name, attempts: 0 }));
  let batch: { snapshot: RepositorySnapshot; changes: number | null; attempts: number }[] = [];
  const flush = async () => {
    const items = batch;
    batch = [];
    if (target.closed() || items.length === 0) return;
    const moved = new Set(await target.transaction((tx) => tx.replaceRepositories(items, pass)));
    for (const item of items) {
      const { name } = item.snapshot;
      if (!moved.has(name)) {
        report.repositories += 1;
        report.manifests += item.snapshot.manifests.length;
        report.tags += item.snapshot.tags.length;
      } else if (item.attempts < 3) {
        // Events changed it while it was read: read it again.
        pending.push({ name, attempts: item.attempts + 1 });
      } else {
        // Busy repository: its rows stay as the events left them.
        await target.store.markSeen(name, pass);
      }
    }
  };
  const readOne = async (next: { name: string; attempts: number }) => {
    if (target.closed()) return;
    try {
      const before = next.attempts === 0 ? (changes.get(next.name) ?? null) : await target.store.changeCount(next.name);
      const { snapshot, skipped } = await readRepositorySnapshot({ driver: target.driver, services: target.services }, next.name, describer, limit);
      report.skipped += skipped;
      batch.push({ snapshot, changes: before, attempts: next.attempts });
      if (batch.length >= target.batchSize) await flush();
    } catch (error) {
      report.errors += 1;
      target.logger.warn("metadata index: cannot read repository; keeping its previous rows", { repository: next.name, error: String(error) });
      if (!target.closed()) await target.store.markSeen(next.name, pass);
    }
  };
  const repositoryReads = pLimit(Math.max(1, Math.ceil(target.concurrency / 2)));
  // A flush puts back repositories that changed while they were read; the next round reads them.
  while (pending.length > 0 || batch.length > 0) {
    await repositoryReads.map(pending.splice(0), readOne);
    await flush();
    if (target.closed()) throw new Error("metadata index closed during rebuild");
  }
  return report;
}
