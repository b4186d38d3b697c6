import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Etcd3, Lease } from "etcd3";
import { etcdKeys } from "../etcd/keys.js";
import type { Logger } from "../log.js";
import type { StorageDriver } from "../registry/storage/driver.js";

/** Who holds the garbage-collection lock. */
export interface GcLockInfo {
  id: string;
  owner: string;
  /** ISO time the lock was taken. */
  since: string;
  /** Instance (`host:pid`) running the collection. */
  holder: string;
  dryRun: boolean;
}

export class GcBusyError extends Error {
  constructor(readonly running: Partial<GcLockInfo>) {
    super(`a garbage collection is already running (${running.owner ?? "unknown owner"}${running.holder ? ` on ${running.holder}` : ""}, since ${running.since ?? "unknown"})`);
    this.name = "GcBusyError";
  }
}

export interface GcLock {
  info: GcLockInfo;
  /** Set when etcd lost the lock's lease: another collection may start, this one must stop. */
  lost(): Error | undefined;
  release(): Promise<void>;
}

/** Collections running in this process, per storage driver. */
const local = new WeakMap<StorageDriver, GcLockInfo>();

export function localGarbageCollection(driver: StorageDriver): GcLockInfo | undefined {
  return local.get(driver);
}

export interface AcquireOptions {
  driver: StorageDriver;
  owner: string;
  dryRun: boolean;
  etcd?: Etcd3;
  prefix?: string;
  /** etcd lease TTL: how long the lock outlives a crashed holder. Default 30 s. */
  ttlMs?: number;
  logger?: Logger;
  instance?: string;
}

/**
 * The single-collection lock: an in-process mutex per storage, and with etcd a key under a
 * lease this process keeps alive (a crashed holder's lock lapses after the TTL).
 */
export async function acquireGcLock(options: AcquireOptions): Promise<GcLock> {
  const { driver, etcd } = options;
  const running = local.get(driver);
  if (running) throw new GcBusyError(running);
  const info: GcLockInfo = {
    id: randomUUID(),
    owner: options.owner,
    since: new Date().toISOString(),
    holder: options.instance ?? `${hostname()}:${process.pid}`,
    dryRun: options.dryRun,
  };
  local.set(driver, info);
  if (!etcd) {
    return {
      info,
      lost: () => undefined,
      release: async () => {
        if (local.get(driver) === info) local.delete(driver);
      },
    };
  }
  const key = etcdKeys.gcLock(options.prefix ?? "");
  const value = JSON.stringify(info);
  let lease: Lease | undefined;
  try {
    lease = etcd.lease(Math.max(1, Math.ceil((options.ttlMs ?? 30_000) / 1000)));
    await lease.grant();
    const result = await etcd.if(key, "Create", "==", 0).then(lease.put(key).value(value)).else(etcd.get(key)).commit();
    if (!result.succeeded) {
      const held = result.responses[0]?.response_range?.kvs[0]?.value;
      let holder: Partial<GcLockInfo> = {};
      try {
        holder = JSON.parse(held?.toString("utf8") ?? "{}") as Partial<GcLockInfo>;
      } catch {
        holder = { owner: held?.toString("utf8") };
      }
      throw new GcBusyError(holder);
    }
  } catch (error) {
    local.delete(driver);
    await lease?.revoke().catch(() => lease?.release());
    throw error;
  }
  let lostError: Error | undefined;
  lease.on("lost", (error) => {
    lostError = new Error(`the garbage-collection lock's etcd lease was lost: ${error.message}`);
    options.logger?.error("garbage collection lock lost", { error: String(error) });
  });
  const held = lease;
  return {
    info,
    lost: () => lostError,
    release: async () => {
      try {
        await etcd.if(key, "Value", "==", value).then(etcd.delete().key(key)).commit();
      } catch (error) {
        options.logger?.warn("could not delete the garbage-collection lock; it lapses with its lease", { error: String(error) });
      } finally {
        held.removeAllListeners("lost");
        await held.revoke().catch(() => held.release());
        if (local.get(driver) === info) local.delete(driver);
      }
    },
  };
}
