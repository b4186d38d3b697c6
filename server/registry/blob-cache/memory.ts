import { LRUCache } from "lru-cache";
import type { Digest } from "../reference.js";
import { invalidationOf, type BlobDescriptorCache } from "./cache.js";

/**
 * `blobdescriptor: inmemory`: sizes by digest, in this process only (`blobdescriptorsize`
 * entries, 10000 by default as distribution's). It never answers for a repository's membership:
 * another instance may remove a link and this one would not hear of it. A size is only used
 * together with a link the storage confirmed, and a linked blob's data is kept by every
 * collection, so a size another instance's collection made stale is never served.
 */
export class MemoryBlobDescriptorCache implements BlobDescriptorCache {
  readonly shared = false;
  private readonly sizes: LRUCache<string, number>;

  constructor(entries = 10_000) {
    this.sizes = new LRUCache({ max: entries });
  }

  async size(digest: Digest): Promise<number | undefined> {
    return this.sizes.get(digest.value);
  }

  async linked(): Promise<boolean> {
    return false;
  }

  async remember(digest: Digest, size: number): Promise<void> {
    this.sizes.set(digest.value, size);
  }

  async invalidate(path: string): Promise<void> {
    const what = invalidationOf(path);
    if (what.kind === "blob") this.sizes.delete(what.digest.value);
    else if (what.kind === "everything") this.sizes.clear();
  }

  async close(): Promise<void> {
    this.sizes.clear();
  }
}
