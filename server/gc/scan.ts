import { dirname } from "node:path/posix";
import { layout, layoutRoot } from "../registry/layout.js";
import { digestFromParts, tryParseDigest, type Digest } from "../registry/reference.js";
import { batchOf } from "../registry/storage/batch.js";
import { isNotFound, type FileInfo, type StorageBatch, type StorageDriver } from "../registry/storage/driver.js";

/**
 * Read-only views of distribution's layout for garbage collection and cleanup. Every path comes
 * from server/registry/layout.ts; the few directories it has no helper for are derived from its
 * helpers (see the notes on each), never spelled out here.
 */

/** Any valid digest, only used to derive parent directories from layout's per-digest helpers. */
const anyDigest: Digest = { algorithm: "sha256", hex: "0".repeat(64), value: `sha256:${"0".repeat(64)}` };

/** `<repo>/_referrers` (wanted: `layout.referrersRoot(name)`). */
export function referrersRoot(name: string): string {
  return dirname(dirname(layout.referrersDir(name, anyDigest)));
}

/** Berth's own data next to distribution's (distribution ignores `_`-directories). */
export const berthRoot = `${layoutRoot}/_berth`;

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Direct children (full paths) of a directory; [] when it does not exist. */
export async function listOrEmpty(driver: StorageDriver, path: string): Promise<string[]> {
  try {
    return await driver.list(path);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

/**
 * Digests laid out as `<dir>/<alg>/<hex>/` (revisions, `_layers`, tag history, one subject's
 * referrers), keyed by digest value, for many directories at once: two batched listings in all
 * and no stat. A directory is an entry whether or not its `link` file was ever written (a write
 * interrupted between mkdir and rename), which only ever makes garbage collection keep or remove
 * such a leftover directory.
 */
export async function listDigestDirsMany(batch: StorageBatch, dirs: readonly string[]): Promise<Map<string, Digest>[]> {
  const algorithmDirs = (await batch.list(dirs)).map((children) => children ?? []);
  const entries = await batch.list(algorithmDirs.flat());
  let next = 0;
  return algorithmDirs.map((children) => {
    const found = new Map<string, Digest>();
    for (const algorithmDir of children) {
      const algorithm = baseName(algorithmDir);
      for (const entry of entries[next++] ?? []) {
        const digest = digestFromParts(algorithm, baseName(entry));
        if (digest) found.set(digest.value, digest);
      }
    }
    return found;
  });
}

/** `listDigestDirsMany` for one directory. */
export async function listDigestDirs(driver: StorageDriver, dir: string): Promise<Map<string, Digest>> {
  const [found] = await listDigestDirsMany(batchOf(driver), [dir]);
  return found ?? new Map();
}

/**
 * Every blob directory (`blobs/<alg>/<2 hex>/<hex>`): three batched listings, no stat per blob.
 * What the mark keeps needs nothing more, and the caller stats just the blobs it may delete.
 */
export async function listBlobDigests(batch: StorageBatch): Promise<Digest[]> {
  const algorithmDirs = (await batch.list([layout.blobsRoot]))[0] ?? [];
  const prefixes = await batch.list(algorithmDirs);
  const owners = algorithmDirs.flatMap((dir, i) => (prefixes[i] ?? []).map(() => baseName(dir)));
  const listed = await batch.list(prefixes.flatMap((dirs) => dirs ?? []));
  const found: Digest[] = [];
  listed.forEach((entries, i) => {
    for (const entry of entries ?? []) {
      const digest = digestFromParts(owners[i] as string, baseName(entry));
      if (digest) found.push(digest);
    }
  });
  return found;
}

/** What `stat` says of a path, or undefined when nothing is there. */
export async function statIfPresent(driver: StorageDriver, path: string): Promise<FileInfo | undefined> {
  try {
    return await driver.stat(path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Modification time of an object, or undefined when it does not exist. */
export async function modTimeOf(driver: StorageDriver, path: string): Promise<Date | undefined> {
  return (await statIfPresent(driver, path))?.modTime;
}

/** The digest a link file names; undefined when missing or not a digest. */
export function linkTarget(content: Buffer | undefined): Digest | undefined {
  if (!content) return undefined;
  try {
    return tryParseDigest(content.toString("utf8").trim());
  } catch {
    return undefined;
  }
}

export interface TagInfo {
  tag: string;
  /** What `current/link` names; undefined for a broken tag. */
  current: Digest | undefined;
  /** Modification time of `current/link`: when the tag was last pushed. */
  pushedAt: Date | undefined;
}

/** Every tag of each repository with its current digest (and push time): batched, no per-tag calls. */
export async function listTagsMany(batch: StorageBatch, names: readonly string[], options: { withTimes?: boolean } = {}): Promise<TagInfo[][]> {
  const dirs = await batch.list(names.map((name) => layout.tagsDir(name)));
  const tags = names.flatMap((name, i) => (dirs[i] ?? []).map((dir) => ({ name, tag: baseName(dir), link: layout.tagCurrentLink(name, baseName(dir)) })));
  const contents = await batch.getContent(tags.map((t) => t.link));
  const current = contents.map(linkTarget);
  const timed = options.withTimes ? tags.filter((_, i) => current[i]) : [];
  const stats = await batch.stat(timed.map((t) => t.link));
  const pushedAt = new Map(timed.map((t, i) => [t.link, stats[i]?.modTime]));
  const byName = new Map(names.map((name) => [name, [] as TagInfo[]]));
  tags.forEach(({ name, tag, link }, i) => byName.get(name)?.push({ tag, current: current[i], pushedAt: pushedAt.get(link) }));
  return names.map((name) => byName.get(name) ?? []);
}

/** `listTagsMany` for one repository. */
export async function listTags(driver: StorageDriver, name: string, options: { withTimes?: boolean } = {}): Promise<TagInfo[]> {
  const [tags] = await listTagsMany(batchOf(driver), [name], options);
  return tags ?? [];
}
