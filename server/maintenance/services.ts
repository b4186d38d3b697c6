import { createCleanupService, type CleanupService } from "../gc/cleanup.js";
import { CleanupPolicies } from "../gc/policies.js";
import { runGarbageCollection, type GcEnvironment, type GcRunRecord } from "../gc/runner.js";
import { GcSchedule } from "../gc/schedule.js";
import type { Services } from "../registry/http/context.js";

/** What the console needs for read-only mode, garbage collection and cleanup. */
export interface MaintenanceServices extends GcEnvironment {
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
export function createMaintenance({
  services,
  gcGraceMs,
  gcHoldMs,
  gcSchedule,
  ...environment
}: GcEnvironment & {
  services: Services;
  /** `gc.grace`, read per run so a reload applies. */
  gcGraceMs: () => number;
  /** `gc.hold`, read per run. */
  gcHoldMs: () => number;
  /** `gc.schedule`. */
  gcSchedule?: string;
}): MaintenanceServices {
  const { driver, readOnly, writes, logger } = environment;
  const cleanup = createCleanupService({ driver, manifests: services.manifests, tags: services.tags, deleteEnabled: services.deleteEnabled, readOnly, writes, logger, graceMs: gcGraceMs });
  const collect: MaintenanceServices["collect"] = async ({ user, dryRun, deleteUntagged, graceMs, readOnly: holdReadOnly, onStarted }) => {
    // Cached manifests past their ttl go first, so this run frees their blobs (server/proxy/README.md).
    if (!dryRun) await services.proxy?.expire();
    return runGarbageCollection({
      ...environment,
      events: services.events,
      user,
      dryRun,
      deleteUntagged,
      graceMs: graceMs ?? gcGraceMs(),
      mode: holdReadOnly ? "read-only" : "online",
      holdMs: gcHoldMs(),
      local: services.blobs.gc,
      onStarted,
    });
  };
  return {
    ...environment,
    events: services.events,
    cleanup,
    gcGraceMs,
    collect,
    policies: new CleanupPolicies(driver, cleanup, collect, logger),
    gcSchedule: gcSchedule ? new GcSchedule({ driver, expression: gcSchedule, collect, logger, readOnly: () => readOnly.isReadOnly() }) : undefined,
  };
}
