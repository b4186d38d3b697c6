import { batchOf } from "../registry/storage/batch.js";
import { tryParseDigest, type Digest } from "../registry/reference.js";
import type { Logger } from "../log.js";
import type { RegistryEvents } from "../registry/events.js";
import type { FileInfo, StorageBatch, StorageDriver } from "../registry/storage/driver.js";
import { ManifestReferencesReader } from "./references.js";

/** The caller's options as every phase reads them (collect.ts's CollectOptions adds the rest). */
export interface GcRunOptions {
  driver: StorageDriver;
  logger?: Logger;
  /** Report what would be deleted; change nothing. */
  dryRun?: boolean;
  /** Also delete manifests no tag reaches (mark.ts says what is never deleted). */
  deleteUntagged?: boolean;
  /** Blobs and revisions modified less than this long ago are never deleted. Default 0. */
  graceMs?: number;
  /** Batches of deletions in flight at once (each a few hundred paths). Default 2. */
  concurrency?: number;
  onProgress?: (progress: GcProgress) => void;
  /** Each deletion (or would-be deletion in a dry run) as it is decided, for live output. */
  onEvent?: (event: GcEvent) => void;
  /** The engine's event bus (`registry.services.events`): a `manifest.delete` per deleted manifest. */
  events?: Pick<RegistryEvents, "emit">;
  /** Called before every deletion; throws to abort the sweep (read-only mode lost, lock lost). */
  checkpoint?: () => void;
  /**
   * The registry keeps serving while this runs (online.ts): a `_layers` link to a doomed blob is
   * removed only when it is older than the run, since a push may have stored the blob again.
   */
  online?: boolean;
}

export interface GcProgress {
  phase: "mark" | "sweep";
  done: number;
  total: number;
}

export type GcEvent =
  | { type: "manifest"; repository: string; digest: string }
  | { type: "blob"; digest: string; size: number }
  | { type: "warning"; message: string };

/**
 * What every phase of a collection (mark, plan, sweep) shares: the storage, the options resolved
 * once, the grace limit fixed at the start of the run, and the warning sink. One manifest reader
 * serves the whole run, so what the mark parsed is not read again.
 */
export interface GcContext {
  driver: StorageDriver;
  batch: StorageBatch;
  references: ManifestReferencesReader;
  dryRun: boolean;
  deleteUntagged: boolean;
  graceMs: number;
  /** Whether a file was modified within the grace period (judged against the run's start). */
  young: (info: FileInfo | undefined) => boolean;
  /** Batches of deletions in flight at once. */
  concurrency: number;
  warn: (message: string) => void;
  /** Every warning so far, in order, for the report. */
  warnings: string[];
  checkpoint: () => void;
  options: GcRunOptions;
}

export function gcContext(options: GcRunOptions, started: number): GcContext {
  const batch = batchOf(options.driver);
  const graceMs = Math.max(0, options.graceMs ?? 0);
  const graceLimit = started - graceMs;
  const warnings: string[] = [];
  return {
    driver: options.driver,
    batch,
    references: new ManifestReferencesReader(batch),
    dryRun: options.dryRun ?? false,
    deleteUntagged: options.deleteUntagged ?? false,
    graceMs,
    young: (info) => info !== undefined && info.modTime.getTime() > graceLimit,
    concurrency: Math.max(1, options.concurrency ?? 2),
    warn: (message) => {
      warnings.push(message);
      options.logger?.warn(`garbage collection: ${message}`);
      options.onEvent?.({ type: "warning", message });
    },
    warnings,
    checkpoint: options.checkpoint ?? (() => undefined),
    options,
  };
}

/** Repositories read (and swept) per batch: bounds memory and paces the progress events. */
export const repositoryChunk = 128;
/** Paths per batch stat or delete: the checkpoint runs before each delete. */
export const deleteChunk = 256;

export function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}

export function parseDigestValue(digest: string): Digest {
  const parsed = tryParseDigest(digest);
  if (!parsed) throw new Error(`not a digest: ${digest}`);
  return parsed;
}

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
