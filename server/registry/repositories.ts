import { randomUUID } from "node:crypto";
import type { Logger } from "../log.js";
import { layout, repositoriesRoot } from "./layout.js";
import { isValidName } from "./reference.js";
import { batchOf } from "./storage/batch.js";
import { isNotFound, type StorageDriver } from "./storage/driver.js";
import { compareStrings } from "./tags.js";

/**
 * The sorted list of repositories behind `/v2/_catalog`. Walking storage for every page is what
 * makes distribution's catalog slow, so the list is walked once (`warm()` at start) and kept in
 * memory. Instances sharing the storage tell each other about new repositories through a marker
 * object (`layout.repositoriesChanged`) that the one adding a repository rewrites: each catalog
 * request reads it (one small GET) and walks again when it changed since the walk the list came
 * from. Storage may also change behind Berth's back (distribution, its GC): the list is re-walked
 * in the background when older than `refreshMs`.
 */
export class RepositoryList {
  private names: string[] | undefined;
  /** The marker's value read just before the walk `names` came from. */
  private marker: string | undefined;
  private loadedAt = 0;
  /** Sequence number of the walk `names` came from: a slower, older walk never overwrites it. */
  private loadedWalk = 0;
  private walks = 0;
  private loading: { marker: string | undefined; names: Promise<string[]> } | undefined;

  constructor(
    private readonly driver: StorageDriver,
    private readonly logger: Logger,
    private readonly refreshMs = 5 * 60_000,
  ) {}

  async all(): Promise<readonly string[]> {
    const marker = await this.readMarker();
    if (!this.names || marker !== this.marker) return this.reload(marker);
    if (Date.now() - this.loadedAt > this.refreshMs) {
      this.reload(marker).catch((error: unknown) => this.logger.warn("repository list refresh failed", { error: String(error) }));
    }
    return this.names;
  }

  /** Starts the first walk now, so the first catalog request does not wait for it. */
  warm(): void {
    this.readMarker()
      .then((marker) => this.reload(marker))
      .catch((error: unknown) => this.logger.warn("repository list walk failed", { error: String(error) }));
  }

  /** Names after `last` (exclusive), at most `n`. */
  async page(n: number, last?: string): Promise<{ names: string[]; more: boolean }> {
    const names = await this.all();
    let start = 0;
    if (last !== undefined) {
      start = lowerBound(names, last);
      if (names[start] === last) start += 1;
    }
    const page = names.slice(start, start + n);
    return { names: page, more: start + n < names.length };
  }

  /**
   * Records a repository that just received a manifest (its revision link is written). A name
   * this list does not know yet rewrites the marker before the push is answered, so a catalog
   * request to any instance after that answer lists it.
   */
  async added(name: string): Promise<void> {
    if (this.names) {
      const index = lowerBound(this.names, name);
      if (this.names[index] === name) return;
      this.names.splice(index, 0, name);
    }
    // This instance walks again too at its next catalog request: the marker it replaces may
    // have announced another instance's repository it has not seen.
    await this.driver.putContent(layout.repositoriesChanged, randomUUID());
  }

  private async readMarker(): Promise<string | undefined> {
    try {
      return (await this.driver.getContent(layout.repositoriesChanged)).toString("utf8");
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** A walk started after `marker` was read; one walk per marker value at a time. */
  private reload(marker: string | undefined): Promise<string[]> {
    if (this.loading && this.loading.marker === marker) return this.loading.names;
    const walk = ++this.walks;
    const names = walkRepositories(this.driver)
      .then((found) => {
        if (walk > this.loadedWalk) {
          this.names = found;
          this.marker = marker;
          this.loadedAt = Date.now();
          this.loadedWalk = walk;
        }
        return found;
      })
      .finally(() => {
        if (this.loading?.names === names) this.loading = undefined;
      });
    this.loading = { marker, names };
    return names;
  }
}

/**
 * A directory is a repository when it holds `_manifests` (or another `marker`, e.g. `_uploads`
 * to find uploads of repositories that have no manifest yet); `_`-directories are never names.
 * Walked a level at a time, each level one batch of listings (storage/batch.ts).
 */
export async function walkRepositories(driver: StorageDriver, { marker = "_manifests" }: { marker?: string } = {}): Promise<string[]> {
  const batch = batchOf(driver);
  const found: string[] = [];
  let level: { dir: string; name: string }[] = [{ dir: repositoriesRoot, name: "" }];
  while (level.length > 0) {
    const listed = await batch.list(level.map(({ dir }) => dir));
    const next: typeof level = [];
    level.forEach(({ name }, i) => {
      for (const child of listed[i] ?? []) {
        const base = child.slice(child.lastIndexOf("/") + 1);
        if (base === marker) {
          if (name && isValidName(name)) found.push(name);
        } else if (!base.startsWith("_")) {
          next.push({ dir: child, name: name ? `${name}/${base}` : base });
        }
      }
    });
    level = next;
  }
  return found.sort(compareStrings);
}

function lowerBound(sorted: readonly string[], value: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareStrings(sorted[mid] as string, value) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}
