import { dirname } from "node:path/posix";
import { mapLimit } from "../concurrency.js";
import { layout, layoutRoot } from "../registry/layout.js";
import { tryParseDigest, type Digest } from "../registry/reference.js";
import { isNotFound, type FileInfo, type StorageDriver } from "../registry/storage/driver.js";

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

export function digestOf(algorithm: string, hex: string): Digest | undefined {
  try {
    return tryParseDigest(`${algorithm}:${hex}`);
  } catch {
    return undefined;
  }
}

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
 * referrers), keyed by digest value. Two listings per algorithm and no stat: a directory is an
 * entry whether or not its `link` file was ever written (a write interrupted between mkdir and
 * rename), which only ever makes garbage collection keep or remove such a leftover directory.
 */
export async function listDigestDirs(driver: StorageDriver, dir: string): Promise<Map<string, Digest>> {
  const found = new Map<string, Digest>();
  for (const algorithmDir of await listOrEmpty(driver, dir)) {
    const algorithm = baseName(algorithmDir);
    for (const entry of await listOrEmpty(driver, algorithmDir)) {
      const digest = digestOf(algorithm, baseName(entry));
      if (digest) found.set(digest.value, digest);
    }
  }
  return found;
}

/**
 * Every blob directory (`blobs/<alg>/<2 hex>/<hex>`), listed prefix by prefix with `concurrency`
 * listings in flight. Listing only, no stat per blob: what the mark keeps needs nothing more, and
 * the caller stats just the blobs it may delete.
 */
export async function listBlobDigests(driver: StorageDriver, concurrency: number): Promise<Digest[]> {
  const prefixes: { algorithm: string; dir: string }[] = [];
  for (const algorithmDir of await listOrEmpty(driver, layout.blobsRoot)) {
    const algorithm = baseName(algorithmDir);
    for (const dir of await listOrEmpty(driver, algorithmDir)) prefixes.push({ algorithm, dir });
  }
  const listed = await mapLimit(prefixes, concurrency, async ({ algorithm, dir }) =>
    (await listOrEmpty(driver, dir)).map((entry) => digestOf(algorithm, baseName(entry))),
  );
  return listed.flat().filter((digest): digest is Digest => digest !== undefined);
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

/** Reads a link file; undefined when missing or not a digest. */
export async function readDigestLink(driver: StorageDriver, path: string): Promise<Digest | undefined> {
  let text: string;
  try {
    text = (await driver.getContent(path)).toString("utf8").trim();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  try {
    return tryParseDigest(text);
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

/** Every tag of a repository with its current digest and push time. */
export async function listTags(driver: StorageDriver, name: string, options: { withTimes?: boolean } = {}): Promise<TagInfo[]> {
  const dirs = await listOrEmpty(driver, layout.tagsDir(name));
  const tags = dirs.map(baseName).filter((tag) => !tag.startsWith("."));
  return mapLimit(tags, 8, async (tag): Promise<TagInfo> => {
    const link = layout.tagCurrentLink(name, tag);
    const current = await readDigestLink(driver, link);
    const pushedAt = options.withTimes && current ? await modTimeOf(driver, link) : undefined;
    return { tag, current, pushedAt };
  });
}

