import { Redis, type RedisOptions } from "ioredis";
import type { Config } from "../../config/schema.js";
import type { Logger } from "../../log.js";
import type { Digest } from "../reference.js";
import { invalidationOf, type BlobDescriptorCache } from "./cache.js";

type RedisConfig = NonNullable<Config["redis"]>;

const keyPrefix = "berth::";
const blobKey = (digest: Digest) => `${keyPrefix}blob::${digest.value}`;
const repositoryPrefix = `${keyPrefix}repository::`;
const repositoryKey = (name: string) => `${repositoryPrefix}${name}::blobs`;

/**
 * ioredis options from the `redis` section. Commands fail at once while the connection is down
 * (no offline queue, no retries) and within the read/write timeouts when Redis hangs, so a
 * request never waits on the cache for longer than that; the client keeps reconnecting.
 */
export function redisOptions(config: RedisConfig): RedisOptions {
  const addr = config.addr ?? config.addrs?.[0] ?? "localhost:6379";
  const colon = addr.lastIndexOf(":");
  const host = (colon < 0 ? addr : addr.slice(0, colon)).replace(/^\[(.*)\]$/, "$1") || "localhost";
  const port = colon < 0 ? 6379 : Number(addr.slice(colon + 1));
  return {
    host,
    port,
    ...(config.username ? { username: config.username } : {}),
    ...(config.password ? { password: config.password } : {}),
    db: config.db ?? 0,
    connectTimeout: config.dialtimeout ?? 1_000,
    commandTimeout: Math.max(config.readtimeout ?? 0, config.writetimeout ?? 0) || 500,
    ...(config.tls?.enabled ? { tls: {} } : {}),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  };
}

/** Connects, pings and disconnects: undefined when Redis answers, else why not. */
export async function probeRedis(config: RedisConfig): Promise<string | undefined> {
  const client = new Redis({ ...redisOptions(config), lazyConnect: true, retryStrategy: () => null });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    client.disconnect();
  }
}

/**
 * `blobdescriptor: redis`: sizes by digest and each repository's linked blobs, shared by every
 * instance, so a delete through any of them invalidates for all. When Redis is down the storage
 * answers (slower), and a warning is logged once per outage. An invalidation Redis could not
 * take makes this instance empty Berth's keys when Redis is back, before it trusts them again.
 */
export class RedisBlobDescriptorCache implements BlobDescriptorCache {
  readonly shared = true;
  private readonly client: Redis;
  private warned = false;
  /** An invalidation was lost: the cache may hold what storage no longer has. */
  private stale = false;
  private flushing: Promise<void> | undefined;

  constructor(
    config: RedisConfig,
    private readonly logger: Logger,
  ) {
    this.client = new Redis(redisOptions(config));
    this.client.on("error", (error: Error) => this.degraded(error));
    this.client.on("ready", () => this.recover());
  }

  /** Whether to ask Redis; a connection lost (not the first one still being made) is warned about. */
  private get usable(): boolean {
    const status = this.client.status;
    if (status !== "ready" && status !== "connecting" && status !== "connect") this.degraded(new Error(`connection ${status}`));
    this.recover();
    return status === "ready" && !this.stale;
  }

  /**
   * Empties Berth's keys once Redis answers again after an invalidation was lost (a connection
   * that stayed open through a frozen server included), then trusts the cache again.
   */
  private recover(): void {
    if (!this.stale || this.flushing || this.client.status !== "ready") return;
    this.flushing = this.clear("everything")
      .then(() => {
        this.stale = false;
        this.answered();
      }, (error: unknown) => this.degraded(error))
      .finally(() => (this.flushing = undefined));
  }

  /** A command succeeded: the next outage is warned about again. */
  private answered(): void {
    if (!this.warned) return;
    this.warned = false;
    this.logger.info("redis is reachable again; blob descriptor cache in use");
  }

  private degraded(error: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn("redis unavailable; blob descriptors come from the storage until it is back", { error: String((error as Error)?.message ?? error) });
  }

  async size(digest: Digest): Promise<number | undefined> {
    if (!this.usable) return undefined;
    try {
      const size = await this.client.hget(blobKey(digest), "size");
      this.answered();
      return size === null ? undefined : Number(size);
    } catch (error) {
      this.degraded(error);
      return undefined;
    }
  }

  async linked(name: string, digest: Digest): Promise<boolean> {
    if (!this.usable) return false;
    try {
      return (await this.client.sismember(repositoryKey(name), digest.value)) === 1;
    } catch (error) {
      this.degraded(error);
      return false;
    }
  }

  async remember(digest: Digest, size: number, name?: string): Promise<void> {
    if (!this.usable) return;
    try {
      const multi = this.client.multi().hset(blobKey(digest), "size", String(size));
      if (name !== undefined) multi.sadd(repositoryKey(name), digest.value);
      await multi.exec();
    } catch (error) {
      this.degraded(error);
    }
  }

  async invalidate(path: string): Promise<void> {
    const what = invalidationOf(path);
    if (what.kind === "nothing") return;
    try {
      if (this.client.status !== "ready") throw new Error(`redis connection ${this.client.status}`);
      if (what.kind === "blob") await this.client.del(blobKey(what.digest));
      else if (what.kind === "link") await this.client.srem(repositoryKey(what.name), what.digest.value);
      else if (what.kind === "repositories") await this.clear("repositories", what.prefix);
      else await this.clear("everything");
    } catch (error) {
      this.stale = true;
      this.degraded(error);
    }
  }

  /** Deletes Berth's keys: all of them, or the link sets of the repositories under `prefix`. */
  private async clear(what: "everything" | "repositories", prefix = ""): Promise<void> {
    const pattern = what === "everything" ? `${keyPrefix}*` : `${repositoryPrefix}*`;
    let cursor = "0";
    do {
      const [next, keys] = await this.client.scan(cursor, "MATCH", pattern, "COUNT", 500);
      cursor = next;
      const doomed = what === "everything" ? keys : keys.filter((key) => underPrefix(key.slice(repositoryPrefix.length, -"::blobs".length), prefix));
      if (doomed.length > 0) await this.client.del(...doomed);
    } while (cursor !== "0");
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}

function underPrefix(name: string, prefix: string): boolean {
  return prefix === "" || name === prefix || name.startsWith(`${prefix}/`);
}
