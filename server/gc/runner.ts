import type { Etcd3 } from "etcd3";
import { defaultGcGraceMs, defaultGcHoldMs } from "../config/schema.js";
import type { Logger } from "../log.js";
import type { ReadOnlyState, WriteTracker } from "../maintenance/readonly.js";
import type { RegistryEvents } from "../registry/events.js";
import type { StorageDriver } from "../registry/storage/driver.js";
import { collectGarbage, type GcEvent, type GcProgress, type GcReport } from "./collect.js";
import { listHistory, newRunId, saveRun, type GcRunRecord } from "./history.js";
import { acquireGcLock, localGarbageCollection, type GcLockInfo } from "./lock.js";
import { OnlineRun, type OnlineOptions } from "./online.js";
import type { GcPlan } from "./plan.js";

export { listHistory, type GcRunRecord } from "./history.js";
export { GcBusyError } from "./lock.js";

/** The storage a collection runs on and what it coordinates with: also what the console's maintenance services hold. */
export interface GcEnvironment {
  driver: StorageDriver;
  /** The process's read-only state (shared through etcd when it was created with etcd). */
  readOnly: ReadOnlyState;
  /** The engine's in-flight write tracker. */
  writes: WriteTracker;
  /** With etcd: the lock is shared by every instance. */
  etcd?: Etcd3;
  /** `etcd.prefix`. */
  etcdPrefix?: string;
  logger: Logger;
}

export interface GarbageCollectionOptions extends GcEnvironment {
  dryRun?: boolean;
  deleteUntagged?: boolean;
  /** Who asked (recorded in the history and in the read-only flag). */
  user: string;
  /** Unreferenced blobs (and revisions) younger than this are kept. Default: `gc.grace`'s default. */
  graceMs?: number;
  /**
   * "online" (the default): every instance keeps taking pushes and serving pulls meanwhile, and
   * the run keeps whatever they use (online.ts). "read-only": every instance (with etcd) is held
   * read-only for the run, as distribution needs; always so with `deleteUntagged`.
   */
  mode?: "online" | "read-only";
  /**
   * Online: how long pushes that were told a doomed blob exists, before it was published, have
   * to push the manifest that uses it (which keeps it). Default 2 minutes.
   */
  holdMs?: number;
  /** Online, from a running instance: its own guard, told of the run's changes at once. */
  local?: OnlineOptions["local"];
  /** How long to wait for writes admitted before the switch to read-only. Default 60 s. */
  writeTimeoutMs?: number;
  /**
   * Pause after switching (with etcd: every instance has seen the flag; default 2 s) or, online,
   * after each change of the published state (instances read it every second; default 3 s).
   */
  settleMs?: number;
  /** Lease TTL of the lock and the read-only flag: how long they outlive a crash. Default 30 s. */
  leaseTtlMs?: number;
  /** Called once the lock is held: the run has started (GcBusyError otherwise). */
  onStarted?: () => void;
  onProgress?: (progress: GcProgress) => void;
  onEvent?: (event: GcEvent) => void;
  /** The engine's event bus (`registry.services.events`): GC's manifest deletions are announced there. */
  events?: Pick<RegistryEvents, "emit">;
  /** Called once storage was changed (after a real run, even a failed one): drop engine caches. */
  invalidate?: () => void | Promise<void>;
}

export interface RunningGarbageCollection extends GcLockInfo {
  deleteUntagged: boolean;
  mode: "online" | "read-only";
  phase: "waiting-for-writes" | "mark" | "sweep";
  progress?: GcProgress;
}

const running = new WeakMap<StorageDriver, RunningGarbageCollection>();

/** The collection this process is running on `driver`, with its progress, if any. */
export function currentGarbageCollection(driver: StorageDriver): RunningGarbageCollection | undefined {
  const info = localGarbageCollection(driver);
  const state = running.get(driver);
  return info && state?.id === info.id ? { ...state } : undefined;
}

/**
 * A garbage collection on a running registry: takes the single-collection lock, then either
 * runs online (published in the storage for every instance: online.ts) or switches the registry
 * (every instance, with etcd) to read-only, waits for writes in progress, runs mark and sweep,
 * and always puts the previous mode back. Every run that got the
 * lock is recorded in the history, failures included. Throws GcBusyError when one is running.
 */
export async function runGarbageCollection(options: GarbageCollectionOptions): Promise<GcRunRecord> {
  const { driver, readOnly, writes, logger } = options;
  const dryRun = options.dryRun ?? false;
  const deleteUntagged = options.deleteUntagged ?? false;
  const leaseTtlMs = options.leaseTtlMs ?? 30_000;
  // A dry run changes nothing, so it needs neither the read-only switch nor the online protocol;
  // deleting untagged manifests is always read-only (online runs guard blobs, not revisions).
  const online = (options.mode ?? "online") === "online" && !dryRun && !deleteUntagged;
  const lock = await acquireGcLock({
    driver,
    owner: options.user,
    dryRun,
    etcd: options.etcd,
    prefix: options.etcdPrefix,
    ttlMs: leaseTtlMs,
    logger,
  });
  let onlineRun: OnlineRun | undefined;
  if (online) {
    try {
      onlineRun = await OnlineRun.begin({
        driver,
        logger,
        settleMs: options.settleMs ?? 3_000,
        holdMs: options.holdMs ?? defaultGcHoldMs,
        owner: options.user,
        local: options.local,
      });
    } catch (error) {
      await lock.release();
      throw error;
    }
  }
  const started = new Date();
  const state: RunningGarbageCollection = { ...lock.info, deleteUntagged, mode: online ? "online" : "read-only", phase: online ? "mark" : "waiting-for-writes" };
  running.set(driver, state);
  options.onStarted?.();
  const log = logger.with({ gc: lock.info.id, user: options.user, dryRun, deleteUntagged });
  log.info("garbage collection started");

  let flagId: string | undefined;
  let lostFlag: Error | undefined;
  const stopWatchingLoss = readOnly.onLost((id, error) => {
    if (id === flagId) lostFlag = error;
  });
  let report: GcReport | undefined;
  let failure: unknown;
  let touched = false;
  try {
    if (!dryRun && !online) {
      const status = await readOnly.set(true, {
        owner: `garbage collection by ${options.user}`,
        reason: deleteUntagged ? "garbage collection (delete untagged)" : "garbage collection",
        ttlMs: leaseTtlMs,
        keepAlive: true,
        protect: true,
      });
      flagId = status.flag?.id;
      const settleMs = options.settleMs ?? (options.etcd ? 2_000 : 0);
      if (settleMs > 0) await sleep(settleMs);
      const timeoutMs = options.writeTimeoutMs ?? 60_000;
      if (!(await writes.waitForWrites(timeoutMs))) {
        const waited = timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`;
        throw new Error(`${writes.inFlight} write request(s) still in progress after ${waited}; garbage collection not started`);
      }
    }
    report = await collectGarbage({
      driver,
      logger: log,
      dryRun,
      deleteUntagged,
      graceMs: options.graceMs ?? defaultGcGraceMs,
      onProgress: (progress) => {
        state.phase = progress.phase;
        state.progress = progress;
        options.onProgress?.(progress);
      },
      onEvent: options.onEvent,
      events: options.events,
      ...(onlineRun ? { online: true, protect: (plan: GcPlan) => onlineRun.protect(plan) } : {}),
      checkpoint: () => {
        touched = true;
        const lockLost = lock.lost();
        if (lockLost) throw lockLost;
        if (online) return;
        if (lostFlag) throw new Error(`read-only mode was lost (${lostFlag.message}); garbage collection stopped`);
        if (!readOnly.isReadOnly()) throw new Error("the registry left read-only mode; garbage collection stopped");
      },
    });
  } catch (error) {
    failure = error;
  } finally {
    stopWatchingLoss();
    // Caches go before writes resume: a push must not trust a cached "blob exists" (distribution #3743).
    if (touched && options.invalidate) {
      await Promise.resolve()
        .then(options.invalidate)
        .catch((error: unknown) => log.error("cache invalidation after garbage collection failed", { error: String(error) }));
    }
    if (flagId) {
      const id = flagId;
      await readOnly.set(false, { id }).catch((error: unknown) => {
        readOnly.letLapse(id);
        log.error("could not restore the previous read-only mode; the flag lapses with its lease", { error: String(error) });
      });
    }
    await onlineRun?.end().catch((error: unknown) => log.error("could not end the online collection's published state; instances ignore it once it expires", { error: String(error) }));
    await lock.release();
    running.delete(driver);
  }

  const finished = new Date();
  const record: GcRunRecord = {
    id: newRunId(started),
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    user: options.user,
    dryRun,
    deleteUntagged,
    status: failure === undefined ? "succeeded" : "failed",
    ...(report ? { report } : {}),
    ...(failure !== undefined ? { error: failure instanceof Error ? failure.message : String(failure) } : {}),
  };
  await saveRun(driver, record).catch((error: unknown) => log.error("could not record the garbage collection run", { error: String(error) }));
  if (failure !== undefined) {
    log.error("garbage collection failed", { error: record.error });
    throw failure;
  }
  log.info("garbage collection finished", {
    manifestsDeleted: report?.manifestsDeleted.length,
    blobsDeleted: report?.blobsDeleted.length,
    bytesFreed: report?.bytesFreed,
    durationMs: report?.durationMs,
  });
  return record;
}

/** Shortcut for the console: the last `limit` runs on this storage, newest first. */
export function garbageCollectionHistory(driver: StorageDriver, limit = 20): Promise<GcRunRecord[]> {
  return listHistory(driver, limit);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
