import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import pLimit from "p-limit";
import type { Logger } from "../log.js";
import { readLink } from "../registry/links.js";
import { deadAfterMs, heartbeatMs, onlineGcPaths, onlineGcRoot, readOnlineGcState, type GcGuard, type OnlineGcState } from "../registry/gc-guard.js";
import { batchOf } from "../registry/storage/batch.js";
import { tryParseDigest } from "../registry/reference.js";
import { ignoreNotFound, isNotFound, type StorageDriver } from "../registry/storage/driver.js";
import { GcBusyError } from "./lock.js";
import type { GcPlan } from "./plan.js";

/**
 * The collector's side of online garbage collection (the engine's: registry/gc-guard.ts; the
 * protocol and why each race is safe: README.md). The run publishes itself in the storage, so
 * every instance sharing it (and a CLI run beside them) takes part, with or without etcd.
 */
export interface OnlineOptions {
  driver: StorageDriver;
  logger?: Logger;
  /**
   * How long instances take to see a change of the published state (they read it every second).
   * Waited after announcing the run (before the mark) and after publishing the doomed blobs.
   */
  settleMs: number;
  /**
   * How long pushes that were told a doomed blob exists before it was published have to finish
   * (their manifest then rescues the blob). Waited after publishing the doomed blobs.
   */
  holdMs: number;
  /** Who runs it, for the state and a GcBusyError elsewhere. */
  owner: string;
  /**
   * The instance this run shares a process with (a collection from the console): told of every
   * change at once, so when it is the only one there is nothing to wait for but the hold.
   */
  local?: Pick<GcGuard, "instance" | "refresh">;
}

const renewMs = 10_000;
const ttlMs = 30_000;
const claimConcurrency = 16;
const ephemeral = { ephemeral: true };

export class OnlineRun {
  private state: OnlineGcState;
  private readonly timer: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly options: OnlineOptions,
    state: OnlineGcState,
  ) {
    this.state = state;
    this.timer = setInterval(() => void this.publish(this.state).catch(() => undefined), renewMs);
    this.timer.unref();
  }

  /**
   * Announces a run (the single one on this storage: GcBusyError while another lives), leaves
   * the leftovers of dead runs behind, and waits until every instance records the blobs it uses.
   */
  static async begin(options: OnlineOptions): Promise<OnlineRun> {
    const { driver } = options;
    const state: OnlineGcState = {
      id: randomUUID(),
      holder: `${hostname()}:${process.pid}`,
      since: new Date().toISOString(),
      expires: Date.now() + ttlMs,
      phase: "marking",
      doomed: [],
      owner: options.owner,
    };
    const text = JSON.stringify(state);
    if (!(await driver.putContentIfAbsent(onlineGcPaths.state, text, ephemeral))) {
      const current = await readOnlineGcState(driver);
      if (current !== undefined && current !== "unreadable" && Date.now() <= current.expires + deadAfterMs) {
        throw new GcBusyError({ owner: current.owner ?? "unknown", holder: current.holder, since: current.since });
      }
      // A dead run's state: taken over.
      await driver.putContent(onlineGcPaths.state, text, ephemeral);
    }
    // Nobody to wait for when no instance serves this storage (a collection on a stopped
    // registry); only the hold when the one instance is this process's, told directly.
    const followers = await liveInstances(driver);
    const others = followers.filter((id) => id !== options.local?.instance).length;
    const timing = { ...options, settleMs: others > 0 ? options.settleMs : 0, holdMs: followers.length > 0 ? options.holdMs : 0 };
    options.logger?.info("online garbage collection announced", { instances: followers.length });
    const run = new OnlineRun(timing, state);
    await driver.delete(`${onlineGcRoot}/runs`).catch(ignoreNotFound);
    await options.local?.refresh();
    await sleep(timing.settleMs);
    return run;
  }

  /**
   * The `protect` step between plan and sweep: publishes the doomed blobs, gives instances and
   * pushes in flight the time to see them and rescue what they use, then claims each blob for
   * deletion. The plan keeps only the blobs this run claimed.
   */
  async protect(plan: GcPlan): Promise<GcPlan> {
    if (plan.blobs.length === 0) return plan;
    // No instance serves the storage (checked again: one may have started during the mark),
    // so nothing can use a doomed blob: the plan stands, without a mark per blob.
    if (!this.options.local && (await liveInstances(this.options.driver)).length === 0) return plan;
    await this.publish({ ...this.state, phase: "sweeping", doomed: plan.blobs.map((blob) => blob.digest) });
    await this.options.local?.refresh();
    await sleep(this.options.settleMs + this.options.holdMs);
    const claimed = await pLimit(claimConcurrency).map(plan.blobs, (blob) => this.claim(blob.digest));
    // The report counts what was dropped here as kept by protection.
    return { ...plan, blobs: plan.blobs.filter((_, i) => claimed[i]) };
  }

  /**
   * Ends the run: the state goes first, its marks once every instance stopped reading them (an
   * instance still following the run would take a missing mark for a blob nobody rescued).
   */
  async end(): Promise<void> {
    clearInterval(this.timer);
    await this.writing.catch(() => undefined);
    await this.options.driver.delete(onlineGcPaths.state).catch(ignoreNotFound);
    await this.options.local?.refresh();
    await sleep(this.options.settleMs);
    await this.options.driver.delete(onlineGcPaths.runDir(this.state.id)).catch(ignoreNotFound);
  }

  /** True when this run may delete the blob: its mark is "deleting", not "used". */
  private async claim(value: string): Promise<boolean> {
    const digest = tryParseDigest(value);
    if (!digest) return false;
    const path = onlineGcPaths.mark(this.state.id, digest);
    if (await this.options.driver.putContentIfAbsent(path, "deleting", ephemeral)) return true;
    return (await readLink(this.options.driver, path)) === "deleting";
  }

  private publish(state: OnlineGcState): Promise<void> {
    const next = { ...state, expires: Date.now() + ttlMs };
    this.writing = this.writing
      .catch(() => undefined)
      .then(() => this.options.driver.putContent(onlineGcPaths.state, JSON.stringify(next), ephemeral))
      .then(() => {
        this.state = next;
      });
    return this.writing;
  }
}

/** The instances whose heartbeat (gc-guard.ts) is recent; long-silent ones are removed. */
async function liveInstances(driver: StorageDriver): Promise<string[]> {
  let paths: string[];
  try {
    paths = await driver.list(onlineGcPaths.instancesDir);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const infos = await batchOf(driver).stat(paths);
  const now = Date.now();
  const gone = paths.filter((_, i) => now - (infos[i]?.modTime.getTime() ?? 0) > 60 * 60_000);
  if (gone.length > 0) await batchOf(driver).delete(gone);
  return paths.filter((_, i) => now - (infos[i]?.modTime.getTime() ?? 0) <= 3 * heartbeatMs).map((path) => path.slice(path.lastIndexOf("/") + 1));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
