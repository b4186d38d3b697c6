import type { Writable } from "node:stream";
import type { BlobDescriptorCache } from "./blob-cache/cache.js";
import { pipeline } from "node:stream/promises";
import { RegistryError } from "./errors.js";
import type { GcGuard } from "./gc-guard.js";
import { layout } from "./layout.js";
import type { Digest } from "./reference.js";
import { isNotFound, objectExists, type StorageDriver } from "./storage/driver.js";

export interface BlobInfo {
  digest: Digest;
  size: number;
}

/**
 * Blobs are stored once (`blobs/<alg>/<xx>/<hex>/data`) and made visible to a repository by a
 * `_layers` link; a blob is readable in a repository only when both exist.
 */
export class BlobStore {
  constructor(
    private readonly driver: StorageDriver,
    /** The online garbage collection's view (gc-guard.ts); absent in tools that run alone. */
    readonly gc?: GcGuard,
    /** `storage.cache.blobdescriptor`; `driver` must be the one whose deletes invalidate it (blob-cache/cache.ts). */
    private readonly cache?: BlobDescriptorCache,
  ) {}

  /** Size of the stored blob, or undefined when no repository could have it. */
  async statData(digest: Digest): Promise<number | undefined> {
    try {
      const info = await this.driver.stat(layout.blobData(digest));
      return info.isDir ? undefined : info.size;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async isLinked(name: string, digest: Digest): Promise<boolean> {
    return objectExists(this.driver, layout.layerLink(name, digest));
  }

  /**
   * The blob as `name` sees it; BLOB_UNKNOWN when it is not linked there, its data is gone, or a
   * garbage collection running now means to delete it (the client then uploads it again).
   */
  async stat(name: string, digest: Digest): Promise<BlobInfo> {
    const [cachedLink, cachedSize, hidden] = await Promise.all([this.cache?.linked(name, digest), this.cache?.size(digest), this.hidden(digest)]);
    if (hidden) throw new RegistryError("BLOB_UNKNOWN", { digest: digest.value });
    if (cachedLink && cachedSize !== undefined) return { digest, size: cachedSize };
    // A linked blob's data outlives the link in every collection, so a cached size needs only the link.
    const [linked, size] = await Promise.all([cachedLink || this.isLinked(name, digest), cachedSize ?? this.statData(digest)]);
    if (!linked || size === undefined) throw new RegistryError("BLOB_UNKNOWN", { digest: digest.value });
    await this.cache?.remember(digest, size, name);
    return { digest, size };
  }

  /** Whether a mount or a HEAD must treat the blob as absent while a collection runs. */
  hidden(digest: Digest): Promise<boolean> {
    return this.gc ? this.gc.hidden(digest) : Promise.resolve(false);
  }

  /**
   * The size of a blob a request is about to reference (a manifest, a mount), kept from a
   * garbage collection running now; undefined when it is not there or the collection is
   * deleting it.
   */
  async reserve(digest: Digest): Promise<number | undefined> {
    if ((await this.gc?.use(digest)) === "deleting") return undefined;
    // Only a shared cache sees every instance's deletes of the data itself.
    const cached = this.cache?.shared ? await this.cache.size(digest) : undefined;
    if (cached !== undefined) return cached;
    const size = await this.statData(digest);
    if (size !== undefined) await this.cache?.remember(digest, size);
    return size;
  }

  /**
   * Runs `place` to store a blob whose verified bytes the caller holds. When a running collection
   * is deleting the stored one, that deletion is waited for first and the blob then stored anew.
   */
  async restore<T>(digest: Digest, place: (deleting: boolean) => Promise<T>): Promise<T> {
    if ((await this.gc?.use(digest)) !== "deleting") return place(false);
    await this.gc!.gone(async () => (await this.statData(digest)) !== undefined);
    const placed = await place(true);
    await this.gc!.restored(digest);
    return placed;
  }

  /** Writes bytes [start, end) of a blob to `out` through the driver's fastest path. */
  async send(digest: Digest, out: Writable, start: number, end: number): Promise<void> {
    const path = layout.blobData(digest);
    if (this.driver.sendTo) return this.driver.sendTo(path, out, start, end);
    await pipeline(await this.driver.reader(path, start, end), out);
  }

  redirectURL(digest: Digest, method: "GET" | "HEAD"): Promise<string | null> {
    return this.driver.redirectURL(layout.blobData(digest), method);
  }

  link(name: string, digest: Digest): Promise<void> {
    return this.driver.putContent(layout.layerLink(name, digest), digest.value);
  }

  async unlink(name: string, digest: Digest): Promise<void> {
    if (!(await this.isLinked(name, digest))) throw new RegistryError("BLOB_UNKNOWN", { digest: digest.value });
    await this.driver.delete(layout.layerDir(name, digest));
  }

  /** Stores small content (a manifest) under its digest, unless it is there already. */
  async putContent(digest: Digest, content: Buffer): Promise<void> {
    await this.restore(digest, async () => {
      if ((await this.statData(digest)) === content.length) return;
      await this.driver.putContent(layout.blobData(digest), content);
    });
  }

  getContent(digest: Digest): Promise<Buffer> {
    return this.driver.getContent(layout.blobData(digest));
  }

  /**
   * The blob's content when it is at most `maxBytes`, judged by the stored size: a descriptor's
   * size is only what the pusher claimed, and a manifest stored before Berth checked sizes (or by
   * another registry) may claim a few bytes for a blob of gigabytes.
   */
  async getContentUpTo(digest: Digest, maxBytes: number): Promise<Buffer> {
    const path = layout.blobData(digest);
    const { size } = await this.driver.stat(path);
    if (size > maxBytes) throw new BlobTooLargeError(digest.value, size, maxBytes);
    return this.driver.getContent(path);
  }
}

/** A blob read into memory only up to a limit was larger than that. */
export class BlobTooLargeError extends Error {
  constructor(
    readonly digest: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`blob ${digest} is ${size} bytes, more than the ${limit} bytes read into memory`);
    this.name = "BlobTooLargeError";
  }
}
