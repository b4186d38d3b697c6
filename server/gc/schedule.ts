import { hostname } from "node:os";
import { Cron } from "croner";
import type { Logger } from "../log.js";
import type { StorageDriver } from "../registry/storage/driver.js";
import { pathTimestamp, type GcRunRecord } from "./history.js";
import { GcBusyError } from "./lock.js";
import { baseName, berthRoot, listOrEmpty } from "./scan.js";

/** One object per slot some instance took: `<dir>/<pathTimestamp(slot)>`. */
export const gcScheduleClaimsDir = `${berthRoot}/gc/schedule`;

/**
 * How long a slot's claim is kept. It has to outlast the clock differences between instances
 * and a late timer (seconds); the rest is for whoever wonders which instance ran a slot.
 */
const claimKeepMs = 3 * 24 * 3_600_000;

/**
 * The longest single timer: Node's overflow past 24.8 days, and a wall clock that jumps (NTP,
 * a suspended machine) is noticed within this much.
 */
const maxWaitMs = 3_600_000;

export interface GcScheduleOptions {
  driver: StorageDriver;
  /** `gc.schedule`, validated at config load. */
  expression: string;
  /** One online collection, recorded in the history like any other. */
  collect: (options: { user: string; deleteUntagged: boolean }) => Promise<GcRunRecord>;
  logger: Logger;
  /** A read-only registry keeps its storage as it is: its slots pass without a run. */
  readOnly: () => boolean;
  /** Epoch ms; tests move the clock to a slot's eve instead of waiting for the slot. */
  now?: () => number;
}

/**
 * `gc.schedule` on a running instance: an online collection at each time the cron expression
 * matches. Every instance sharing the storage keeps the same schedule; each slot is claimed with
 * a create-if-absent object, so exactly one of them runs it whatever their clocks say, and a slot
 * that finds a collection running (a console's, another slot's) is skipped.
 */
export class GcSchedule {
  private readonly cron: Cron;
  private readonly now: () => number;
  private readonly instance = `${hostname()}:${process.pid}`;
  private timer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(private readonly options: GcScheduleOptions) {
    this.cron = new Cron(options.expression, { mode: "5-part" });
    this.now = options.now ?? Date.now;
  }

  get expression(): string {
    return this.options.expression;
  }

  /** The next slot, or null when the expression matches no date to come. */
  nextRun(): Date | null {
    return this.cron.nextRun(new Date(this.now()));
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const next = this.nextRun();
    this.options.logger.info("garbage collection scheduled", { schedule: this.expression, next: next?.toISOString() });
    this.arm(next);
  }

  /** No more slots; a collection already started runs to its end. */
  stop(): void {
    this.started = false;
    clearTimeout(this.timer);
  }

  /**
   * Runs `slot` here unless another instance claimed it: the record of the collection when this
   * instance ran it, undefined otherwise. Never throws: a failed run is in the history and the log.
   */
  async runSlot(slot: Date): Promise<GcRunRecord | undefined> {
    const { driver, logger } = this.options;
    const log = logger.with({ slot: slot.toISOString() });
    try {
      if (this.options.readOnly()) {
        log.info("scheduled garbage collection skipped: the registry is read-only");
        return undefined;
      }
      const claim = JSON.stringify({ instance: this.instance, at: new Date(this.now()).toISOString() });
      if (!(await driver.putContentIfAbsent(`${gcScheduleClaimsDir}/${pathTimestamp(slot)}`, claim))) {
        log.debug("scheduled garbage collection runs on another instance");
        return undefined;
      }
      await this.pruneClaims(slot).catch((error: unknown) => log.warn("could not remove old garbage collection schedule claims", { error: String(error) }));
      log.info("scheduled garbage collection starting", { schedule: this.expression });
      return await this.options.collect({ user: "schedule", deleteUntagged: false });
    } catch (error) {
      if (error instanceof GcBusyError) log.info("scheduled garbage collection skipped: one is already running", { running: error.message });
      else log.error("scheduled garbage collection failed", { error: String(error) });
      return undefined;
    }
  }

  private arm(slot: Date | null): void {
    if (!this.started) return;
    if (!slot) {
      this.options.logger.warn("gc.schedule matches no date to come: no more scheduled garbage collections", { schedule: this.expression });
      return;
    }
    this.timer = setTimeout(
      () => {
        if (this.now() < slot.getTime()) return this.arm(slot);
        // From now, not from the slot: slots a suspended machine slept through are not caught up.
        this.arm(this.cron.nextRun(new Date(Math.max(this.now(), slot.getTime()))));
        void this.runSlot(slot);
      },
      Math.min(Math.max(0, slot.getTime() - this.now()), maxWaitMs),
    );
    this.timer.unref();
  }

  private async pruneClaims(slot: Date): Promise<void> {
    const oldest = pathTimestamp(new Date(slot.getTime() - claimKeepMs));
    for (const path of await listOrEmpty(this.options.driver, gcScheduleClaimsDir)) {
      if (baseName(path) < oldest) await this.options.driver.delete(path);
    }
  }
}
