import type { Etcd3 } from "etcd3";
import { createCleanupService, type CleanupService } from "../gc/cleanup.js";
import { CleanupPolicies } from "../gc/policies.js";
import { runGarbageCollection, type GcRunRecord } from "../gc/runner.js";
import { GcSchedule } from "../gc/schedule.js";
import type { Logger } from "../log.js";
import type { Services } from "../registry/http/context.js";
import type { StorageDriver } from "../registry/storage/driver.js";
import { ReadOnlyState, WriteTracker } from "./readonly.js";

/** What the console needs for read-only mode, garbage collection and cleanup. */
export interface MaintenanceServices {
  driver: StorageDriver;
  readOnly: ReadOnlyState;
  writes: WriteTracker;
  etcd?: Etcd3;
  etcdPrefix?: string;
  logger: Logger;
  cleanup: CleanupService;
  /** The engine's event bus: GC announces the manifests it deletes there. */
  events: Services["events"];
  /** `gc.grace` as configured now: a collection's default grace period, and the cleanup preview's. */
  gcGraceMs(): number;
  /**
   * A garbage collection on this running registry: online (pushes go on; server/gc/README.md),
   * or with `readOnly` held read-only meanwhile (mode always restored); with `graceMs`, or
   * `gc.grace` when absent.
   */
  collect(options: { user: string; dryRun?: boolean; deleteUntagged: boolean; graceMs?: number; readOnly?: boolean; onStarted?: () => void }): Promise<GcRunRecord>;
  policies: CleanupPolicies;
  /** `gc.schedule`'s runs, when configured; `berth serve` starts and stops them. */
  gcSchedule?: GcSchedule;
}

/**
 * Builds the maintenance services around the engine's stores. The read-only state must exist
 * before the engine (which consults it per write): pass it in, with the write tracker.
 */
export function createMaintenance(options: {
  driver: StorageDriver;
  services: Services;
  readOnly: ReadOnlyState;
  writes: WriteTracker;
  etcd?: Etcd3;
  etcdPrefix?: string;
  logger: Logger;
  /** `gc.grace`, read per run so a reload applies. */
  gcGraceMs: () => number;
  /** `gc.hold`, read per run. */
  gcHoldMs: () => number;
  /** `gc.schedule`. */
  gcSchedule?: string;
}): MaintenanceServices {
  const { driver, services, readOnly, writes, logger, gcGraceMs } = options;
  const cleanup = createCleanupService({ driver, manifests: services.manifests, tags: services.tags, deleteEnabled: services.deleteEnabled, readOnly, writes, logger, graceMs: gcGraceMs });
  const collect: MaintenanceServices["collect"] = async ({ user, dryRun, deleteUntagged, graceMs, readOnly: holdReadOnly, onStarted }) => {
    // Cached manifests past their ttl go first, so this run frees their blobs (server/proxy/README.md).
    if (!dryRun) await services.proxy?.expire();
    return runGarbageCollection({
      driver,
      readOnly,
      writes,
      etcd: options.etcd,
      etcdPrefix: options.etcdPrefix,
      logger,
      events: services.events,
      user,
      dryRun,
      deleteUntagged,
      graceMs: graceMs ?? gcGraceMs(),
      mode: holdReadOnly ? "read-only" : "online",
      holdMs: options.gcHoldMs(),
      local: services.blobs.gc,
      onStarted,
    });
  };
  return {
    driver,
    readOnly,
    writes,
    etcd: options.etcd,
    etcdPrefix: options.etcdPrefix,
    logger,
    events: services.events,
    cleanup,
    gcGraceMs,
    collect,
    policies: new CleanupPolicies(driver, cleanup, collect, logger),
    gcSchedule: options.gcSchedule ? new GcSchedule({ driver, expression: options.gcSchedule, collect, logger, readOnly: () => readOnly.isReadOnly() }) : undefined,
  };
}
