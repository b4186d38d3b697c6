import { z } from "zod";
import type { Logger } from "../log.js";
import { readLink } from "../registry/links.js";
import { layoutRoot } from "../registry/layout.js";
import { digestFromParts, type Digest } from "../registry/reference.js";
import { ignoreNotFound, isNotFound, type StorageDriver } from "../registry/storage/driver.js";
import { walkTree } from "../registry/storage/walk.js";

/**
 * When each cached manifest was stored and last pulled, one small object per manifest under
 * `_berth/proxy/pulls/<repository>/<alg>/<hex>`, in the storage so every instance and the GC see
 * the same. Pulls are noted in memory and written at most once a minute per manifest: a busy
 * mirror must not turn every pull into a storage write.
 */
export const pullsRoot = `${layoutRoot}/_berth/proxy/pulls`;

const recordSchema = z.object({ cachedAt: z.number(), pulledAt: z.number() });
export type PullRecord = z.infer<typeof recordSchema>;

const flushEveryMs = 60_000;

export function recordPath(name: string, digest: Digest): string {
  return `${pullsRoot}/${name}/${digest.algorithm}/${digest.hex}`;
}

export class PullRecords {
  /** Pulls not written yet, by `name@digest`. */
  private readonly pending = new Map<string, { name: string; digest: Digest; at: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly driver: StorageDriver,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => void this.flush(), flushEveryMs);
    this.timer.unref();
  }

  /** A manifest just stored from the upstream. */
  async cached(name: string, digest: Digest): Promise<void> {
    const at = this.now();
    this.pending.delete(`${name}@${digest.value}`);
    await this.driver.putContent(recordPath(name, digest), JSON.stringify({ cachedAt: at, pulledAt: at }));
  }

  /** A pull served from the cache. */
  pulled(name: string, digest: Digest): void {
    this.pending.set(`${name}@${digest.value}`, { name, digest, at: this.now() });
  }

  async get(name: string, digest: Digest): Promise<PullRecord | undefined> {
    const pending = this.pending.get(`${name}@${digest.value}`);
    const stored = await this.read(name, digest);
    if (!stored) return pending ? { cachedAt: pending.at, pulledAt: pending.at } : undefined;
    return pending ? { ...stored, pulledAt: Math.max(stored.pulledAt, pending.at) } : stored;
  }

  /** Writes the pulls noted so far. */
  async flush(): Promise<void> {
    const batch = [...this.pending.values()];
    this.pending.clear();
    for (const { name, digest, at } of batch) {
      try {
        const stored = await this.read(name, digest);
        if (stored && stored.pulledAt >= at) continue;
        await this.driver.putContent(recordPath(name, digest), JSON.stringify({ cachedAt: stored?.cachedAt ?? at, pulledAt: at }));
      } catch (error) {
        this.logger.warn("could not record a pull of a cached manifest", { repository: name, digest: digest.value, error: String(error) });
      }
    }
  }

  /** Every record: the repository, the manifest, and its times. */
  async all(): Promise<{ name: string; digest: Digest; record: PullRecord }[]> {
    const found: { name: string; digest: Digest }[] = [];
    try {
      await walkTree(this.driver, pullsRoot, (info) => {
        if (info.isDir) return;
        const parts = info.path.slice(pullsRoot.length + 1).split("/");
        const hex = parts.pop() as string;
        const algorithm = parts.pop() as string;
        const digest = digestFromParts(algorithm, hex);
        if (digest && parts.length > 0) found.push({ name: parts.join("/"), digest });
      });
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const records = await Promise.all(found.map(async (entry) => ({ ...entry, record: await this.get(entry.name, entry.digest) })));
    return records.filter((entry): entry is (typeof records)[number] & { record: PullRecord } => entry.record !== undefined);
  }

  async remove(name: string, digest: Digest): Promise<void> {
    this.pending.delete(`${name}@${digest.value}`);
    await this.driver.delete(recordPath(name, digest)).catch(ignoreNotFound);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async read(name: string, digest: Digest): Promise<PullRecord | undefined> {
    const text = await readLink(this.driver, recordPath(name, digest));
    if (text === undefined) return undefined;
    // Unreadable like a wrong shape: one bad record must not stop the expiry of all the others.
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return undefined;
    }
    const parsed = recordSchema.safeParse(json);
    return parsed.success ? parsed.data : undefined;
  }
}
