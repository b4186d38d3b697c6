import { availableParallelism } from "node:os";
import pLimit from "p-limit";
import { readLink } from "./links.js";
import { RegistryError } from "./errors.js";
import type { RegistryEvents } from "./events.js";
import { layout } from "./layout.js";
import { isValidTag, tryParseDigest, type Digest } from "./reference.js";
import { isNotFound, type StorageDriver } from "./storage/driver.js";

/** Tags in distribution's layout: `tags/<tag>/current/link` plus the history under `index/`. */
export class TagStore {
  constructor(
    private readonly driver: StorageDriver,
    private readonly events: RegistryEvents,
    /** Tag links read at once by `tagsOf` (storage.tag.concurrencylimit); like distribution, one per CPU by default. */
    private readonly lookupConcurrency = availableParallelism(),
  ) {}

  async resolve(name: string, tag: string): Promise<Digest | undefined> {
    const link = await readLink(this.driver, layout.tagCurrentLink(name, tag));
    if (!link) return undefined;
    try {
      return tryParseDigest(link);
    } catch {
      return undefined;
    }
  }

  /** Points a tag at a digest; the history link first, so `current` never names an unindexed digest. */
  async tag(name: string, tag: string, digest: Digest): Promise<void> {
    await this.driver.putContent(layout.tagIndexLink(name, tag, digest), digest.value);
    await this.driver.putContent(layout.tagCurrentLink(name, tag), digest.value);
  }

  async untag(name: string, tag: string): Promise<void> {
    try {
      await this.driver.stat(layout.tagCurrentLink(name, tag));
      await this.driver.delete(layout.tagDir(name, tag));
      this.events.emit({ type: "tag.delete", repository: name, tag });
    } catch (error) {
      if (isNotFound(error)) throw new RegistryError("MANIFEST_UNKNOWN", { tag });
      throw error;
    }
  }

  /** Every tag of a repository, sorted; undefined when the repository has no manifests at all. */
  async list(name: string): Promise<string[] | undefined> {
    let children: string[];
    try {
      children = await this.driver.list(layout.tagsDir(name));
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        await this.driver.stat(layout.manifestsDir(name));
        return [];
      } catch (inner) {
        if (isNotFound(inner)) return undefined;
        throw inner;
      }
    }
    return children
      .map((child) => child.slice(child.lastIndexOf("/") + 1))
      .filter(isValidTag)
      .sort(compareStrings);
  }

  /** Tags whose current link points at `digest`. */
  async tagsOf(name: string, digest: Digest): Promise<string[]> {
    const tags = (await this.list(name)) ?? [];
    // Bounded: a repository with thousands of tags would otherwise open thousands of reads at once.
    const resolved = await pLimit(this.lookupConcurrency).map(tags, async (tag) =>
      (await this.resolve(name, tag))?.value === digest.value ? tag : undefined,
    );
    return resolved.filter((tag): tag is string => tag !== undefined);
  }
}

/** Byte-wise order, as the spec's "lexical" ordering and distribution use. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
