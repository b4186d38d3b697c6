import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Etcd3, Lease, Watcher } from "etcd3";
import { etcdKeys } from "../etcd/keys.js";
import type { Logger } from "../log.js";
import { describe, live, parseFlag, type ReadOnlyFlag } from "./readonly-flag.js";

export type { ReadOnlyFlag } from "./readonly-flag.js";
// Writes in progress belong with the mode: callers import both from here.
export { WriteTracker } from "./write-tracker.js";

export interface ReadOnlyStatus {
  readOnly: boolean;
  /** Why: the configuration file, a runtime flag, or nothing (writable). Config wins when both. */
  source: "config" | "runtime" | null;
  /** `storage.maintenance.readonly.enabled` as currently configured. */
  configured: boolean;
  /** The runtime flag in force (expired flags are not reported). */
  flag: ReadOnlyFlag | null;
  /** True when the flag is shared through etcd. */
  shared: boolean;
}

export interface SetReadOnlyOptions {
  /** Who: a user name, "garbage collection"... Default: "unknown". */
  owner?: string;
  reason?: string;
  /** The flag lapses after this long (or, with `keepAlive`, this long after its holder dies). */
  ttlMs?: number;
  /** This instance keeps the flag alive until it clears it; requires `ttlMs`. */
  keepAlive?: boolean;
  /** Refuse `set(false)` without this flag's id (or `force`). */
  protect?: boolean;
  /** With `set(false)`: clear only this flag, and put back the flag it replaced. */
  id?: string;
  /** With `set(false)`: clear even a protected flag. */
  force?: boolean;
}

export interface ReadOnlyStateOptions {
  /** `storage.maintenance.readonly.enabled`; a function is read on every check (SIGHUP reloads). */
  configured?: boolean | (() => boolean);
  /** Share the flag through etcd (a client the caller owns and closes). */
  etcd?: Etcd3;
  /** `etcd.prefix`. */
  prefix?: string;
  logger?: Logger;
  /** Written into flags this instance sets. Default `hostname:pid`. */
  instance?: string;
  /** Re-reads the etcd key this often, in case a watch event was missed. Default 10 s. */
  resyncMs?: number;
  /** Deadline for each etcd call. Default 5 s. */
  etcdTimeoutMs?: number;
}

/** The mode cannot be changed as asked (a protected flag is in the way, etcd keeps changing...). */
export class ReadOnlyConflictError extends Error {
  constructor(message: string, readonly flag?: ReadOnlyFlag) {
    super(message);
    this.name = "ReadOnlyConflictError";
  }
}

type Listener = (status: ReadOnlyStatus) => void;


/**
 * Read-only maintenance mode (distribution's `storage.maintenance.readonly.enabled`), switchable
 * while Berth runs and, with etcd configured, shared by every instance on the same storage.
 *
 * The mode is read-only when the configuration says so, or when a runtime flag is set. A flag
 * names its owner and reason; it may expire (`ttlMs`), or be kept alive by the instance that set
 * it (`keepAlive`: the etcd lease lapses `ttlMs` after that instance dies, so a crashed garbage
 * collection never leaves the registry read-only for good). With etcd the flag is the JSON value
 * of `etcdKeys.readOnly(prefix)`; every instance watches that key and answers `isReadOnly()` from
 * memory, so the per-request check costs a property read and a clock read.
 */
export class ReadOnlyState {
  private flag: ReadOnlyFlag | null = null;
  private flagExpiresAt = Infinity;
  /** etcd revision of what `flag` reflects; older watch or resync results are ignored. */
  private revision = -1;
  private readonly configured: () => boolean;
  private readonly listeners = new Set<Listener>();
  private readonly lostListeners = new Set<(id: string, error: Error) => void>();
  /** Leases of keep-alive flags this instance holds, by flag id. */
  private readonly leases = new Map<string, Lease>();
  private watcher: Watcher | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private lastReadOnly: boolean;
  private closed = false;
  private readonly key: string;
  private readonly instance: string;

  private constructor(private readonly options: ReadOnlyStateOptions) {
    const configured = options.configured ?? false;
    this.configured = typeof configured === "function" ? configured : () => configured;
    this.key = etcdKeys.readOnly(options.prefix ?? "");
    this.instance = options.instance ?? `${hostname()}:${process.pid}`;
    this.lastReadOnly = this.configured();
  }

  /** Builds the state; with etcd, reads the shared flag and starts watching it. */
  static async create(options: ReadOnlyStateOptions = {}): Promise<ReadOnlyState> {
    const state = new ReadOnlyState(options);
    if (options.etcd) await state.startSharing(options.etcd);
    return state;
  }

  /** Per write request: must stay synchronous and cheap. */
  isReadOnly(): boolean {
    if (this.configured()) return true;
    return this.flag !== null && Date.now() < this.flagExpiresAt;
  }

  status(): ReadOnlyStatus {
    const configured = this.configured();
    const flag = this.currentFlag();
    return {
      readOnly: configured || flag !== null,
      source: configured ? "config" : flag ? "runtime" : null,
      configured,
      flag,
      shared: this.options.etcd !== undefined,
    };
  }

  /**
   * Switches the runtime flag. `set(true)` replaces whatever flag is there (remembering it, so a
   * clear by id restores it) unless that flag is protected. `set(false)` clears the flag; with
   * `id`, only when the flag in force is that one. Returns the new status; resolves once this
   * instance applies it (other instances follow through the etcd watch).
   */
  async set(enabled: boolean, options: SetReadOnlyOptions = {}): Promise<ReadOnlyStatus> {
    if (this.closed) throw new Error("read-only state is closed");
    if (enabled && options.keepAlive && !options.ttlMs) throw new Error("keepAlive needs ttlMs (how long the flag outlives its holder)");
    const etcd = this.options.etcd;
    if (!etcd) {
      this.applyLocal(enabled ? this.replace(this.currentFlag(), options) : this.clear(this.currentFlag(), options));
      return this.status();
    }
    for (let attempt = 0; attempt < 10; attempt++) {
      const response = await etcd.get(this.key).options(this.callOptions()).exec();
      const kv = response.kvs[0];
      const current = kv ? live(parseFlag(kv.value)) : null;
      const next = enabled ? this.replace(current, options) : this.clear(current, options);
      if (next === "unchanged") return this.status();
      const compare = kv ? etcd.if(this.key, "Mod", "==", kv.mod_revision) : etcd.if(this.key, "Create", "==", 0);
      let lease: Lease | undefined;
      if (next) {
        const ttlMs = next.leaseTtlMs ?? (next.expiresAt ? Date.parse(next.expiresAt) - Date.now() : undefined);
        if (ttlMs !== undefined && ttlMs <= 0) {
          // The flag to put back has lapsed meanwhile: clearing is what is left to do.
          compare.then(etcd.delete().key(this.key));
        } else {
          if (ttlMs !== undefined) {
            lease = etcd.lease(Math.max(1, Math.ceil(ttlMs / 1000)), { autoKeepAlive: next.leaseTtlMs !== undefined && next.holder === this.instance && enabled });
            await lease.grant();
          }
          compare.then((lease ?? etcd).put(this.key).value(JSON.stringify(next)));
        }
      } else {
        compare.then(etcd.delete().key(this.key));
      }
      let result;
      try {
        result = await compare.options(this.callOptions()).commit();
      } catch (error) {
        await lease?.revoke().catch(() => lease?.release());
        throw error;
      }
      if (!result.succeeded) {
        await lease?.revoke().catch(() => undefined);
        continue;
      }
      // The flag this call replaced or cleared: its keep-alive lease (if ours) is no longer needed.
      if (current) await this.dropLease(current.id);
      if (lease) {
        if (next && enabled && next.leaseTtlMs !== undefined && next.holder === this.instance) this.holdLease(next.id, lease);
        else lease.release();
      }
      const stillLive = next && (!next.expiresAt || Date.parse(next.expiresAt) > Date.now()) ? next : null;
      this.applyShared(stillLive, Number(result.header.revision));
      return this.status();
    }
    throw new ReadOnlyConflictError("the read-only flag in etcd kept changing; try again");
  }

  /** Called with the new status whenever the effective mode or the flag changes. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called when etcd lost a keep-alive flag this instance holds (the registry may be writable again). */
  onLost(listener: (id: string, error: Error) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /**
   * Stops keeping a keep-alive flag of this instance alive without clearing it: it lapses after its
   * TTL. For when clearing failed (etcd unreachable) and the flag must not outlive the need.
   */
  letLapse(id: string): void {
    const lease = this.leases.get(id);
    this.leases.delete(id);
    lease?.removeAllListeners("lost");
    lease?.release();
    if (!this.options.etcd && this.flag?.id === id) this.setFlag(live(this.flag.previous ?? null));
  }

  /** Stops watching; keep-alive leases are released (their flags lapse after their TTL). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.resyncTimer);
    clearTimeout(this.expiryTimer);
    for (const lease of this.leases.values()) lease.release();
    this.leases.clear();
    await this.watcher?.cancel().catch(() => undefined);
  }

  // ---- flag transitions (shared by the local and the etcd mode) ----------------------------

  private replace(current: ReadOnlyFlag | null, options: SetReadOnlyOptions): ReadOnlyFlag {
    if (current?.protected) {
      throw new ReadOnlyConflictError(
        `the registry is already read-only, held by ${current.owner} (${current.reason}) since ${current.since}; it is released when that ends`,
        current,
      );
    }
    const since = new Date();
    const flag: ReadOnlyFlag = {
      id: randomUUID(),
      owner: options.owner ?? "unknown",
      reason: options.reason ?? "",
      since: since.toISOString(),
      expiresAt: options.ttlMs && !options.keepAlive ? new Date(since.getTime() + options.ttlMs).toISOString() : null,
      holder: this.instance,
    };
    if (options.keepAlive && options.ttlMs) flag.leaseTtlMs = options.ttlMs;
    if (options.protect) flag.protected = true;
    if (current) flag.previous = current;
    return flag;
  }

  /** The flag to leave in place after clearing (null: none), or "unchanged". */
  private clear(current: ReadOnlyFlag | null, options: SetReadOnlyOptions): ReadOnlyFlag | null | "unchanged" {
    if (!current) return options.id ? "unchanged" : null;
    if (options.id !== undefined) {
      if (current.id !== options.id) {
        this.options.logger?.warn("read-only flag was replaced meanwhile; leaving it in place", { expected: options.id, current: describe(current) });
        return "unchanged";
      }
      return live(current.previous ?? null);
    }
    if (current.protected && !options.force) {
      throw new ReadOnlyConflictError(
        `read-only mode is held by ${current.owner} (${current.reason}) since ${current.since}; it ends when that finishes`,
        current,
      );
    }
    return null;
  }

  // ---- local mode ---------------------------------------------------------------------------

  private applyLocal(next: ReadOnlyFlag | null | "unchanged"): void {
    if (next === "unchanged") return;
    const current = this.flag;
    if (current && current.id !== next?.id) void this.dropLease(current.id);
    this.setFlag(next);
  }

  // ---- etcd mode ----------------------------------------------------------------------------

  private async startSharing(etcd: Etcd3): Promise<void> {
    const watcher = etcd.watch().key(this.key).watcher();
    this.watcher = watcher;
    watcher.on("put", (kv) => this.applyShared(live(parseFlag(kv.value)), Number(kv.mod_revision)));
    watcher.on("delete", (kv) => this.applyShared(null, Number(kv.mod_revision)));
    watcher.on("error", (error) => this.options.logger?.warn("etcd watch of the read-only flag failed; retrying", { error: String(error) }));
    watcher.on("disconnected", () => this.options.logger?.debug("etcd watch of the read-only flag disconnected; reconnecting"));
    watcher.on("connected", () => void this.resync());
    try {
      await this.resync(true);
    } catch (error) {
      this.options.logger?.warn("cannot read the shared read-only flag from etcd yet; will retry", { key: this.key, error: String(error) });
    }
    const every = this.options.resyncMs ?? 10_000;
    this.resyncTimer = setInterval(() => void this.resync(), every);
    this.resyncTimer.unref();
  }

  private async resync(rethrow = false): Promise<void> {
    const etcd = this.options.etcd;
    if (!etcd || this.closed) return;
    try {
      const response = await etcd.get(this.key).options(this.callOptions()).exec();
      const kv = response.kvs[0];
      this.applyShared(kv ? live(parseFlag(kv.value)) : null, Number(response.header.revision));
    } catch (error) {
      if (rethrow) throw error;
      this.options.logger?.debug("read-only flag resync failed", { error: String(error) });
    }
  }

  private applyShared(flag: ReadOnlyFlag | null, revision: number): void {
    if (this.closed || revision < this.revision) return;
    this.revision = revision;
    this.setFlag(flag);
  }

  private holdLease(id: string, lease: Lease): void {
    this.leases.set(id, lease);
    lease.on("lost", (error) => {
      this.leases.delete(id);
      this.options.logger?.error("etcd lost the lease of a read-only flag this instance holds", { id, error: String(error) });
      for (const listener of this.lostListeners) listener(id, error);
    });
  }

  private async dropLease(id: string): Promise<void> {
    const lease = this.leases.get(id);
    if (!lease) return;
    this.leases.delete(id);
    lease.removeAllListeners("lost");
    await lease.revoke().catch(() => lease.release());
  }

  private callOptions(): { deadline: Date } {
    return { deadline: new Date(Date.now() + (this.options.etcdTimeoutMs ?? 5_000)) };
  }

  // ---- common -------------------------------------------------------------------------------

  private currentFlag(): ReadOnlyFlag | null {
    return this.flag !== null && Date.now() < this.flagExpiresAt ? this.flag : null;
  }

  private setFlag(flag: ReadOnlyFlag | null): void {
    const before = JSON.stringify(this.flag);
    this.flag = flag;
    this.flagExpiresAt = flag?.expiresAt ? Date.parse(flag.expiresAt) : Infinity;
    clearTimeout(this.expiryTimer);
    if (flag && Number.isFinite(this.flagExpiresAt)) {
      // Not needed for isReadOnly() (it reads the clock); it tells subscribers the flag lapsed.
      this.expiryTimer = setTimeout(() => this.notify(true), Math.max(0, this.flagExpiresAt - Date.now()) + 5);
      this.expiryTimer.unref();
    }
    this.notify(before !== JSON.stringify(flag));
  }

  private notify(changed: boolean): void {
    const status = this.status();
    if (!changed && status.readOnly === this.lastReadOnly) return;
    if (status.readOnly !== this.lastReadOnly) {
      const flag = status.flag;
      this.options.logger?.info(status.readOnly ? "registry is now read-only" : "registry is writable again", {
        source: status.source,
        ...(flag ? { owner: flag.owner, reason: flag.reason, since: flag.since, expiresAt: flag.expiresAt } : {}),
      });
    }
    this.lastReadOnly = status.readOnly;
    for (const listener of this.listeners) listener(status);
  }
}
