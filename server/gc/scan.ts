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

/** `<repo>/_manifests/tags/<tag>/index` (wanted: `layout.tagIndexDir(name, tag)`). */
export function tagIndexDir(name: string, tag: string): string {
  return dirname(dirname(dirname(layout.tagIndexLink(name, tag, anyDigest))));
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

/** Walks a directory that may not exist. */
export async function walkOrNothing(driver: StorageDriver, path: string, visit: (info: FileInfo) => void | "skip"): Promise<void> {
  try {
    await driver.walk(path, visit);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

export interface LinkEntry {
  digest: Digest;
  /** The `link` file's modification time. */
  modTime: Date;
}

/**
 * Link files laid out as `<dir>/<alg>/<hex>/link` (revisions, `_layers`, tag history, one subject's
 * referrers), keyed by digest value. Directories without a link file are not entries.
 */
export async function listDigestLinks(driver: StorageDriver, dir: string): Promise<Map<string, LinkEntry>> {
  const found = new Map<string, LinkEntry>();
  const prefix = `${dir}/`;
  await walkOrNothing(driver, dir, (info) => {
    const parts = info.path.slice(prefix.length).split("/");
    if (info.isDir) return parts.length >= 3 ? "skip" : undefined;
    if (parts.length !== 3 || parts[2] !== "link") return;
    const digest = digestOf(parts[0]!, parts[1]!);
    if (digest) found.set(digest.value, { digest, modTime: info.modTime });
    return;
  });
  return found;
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
    let pushedAt: Date | undefined;
    if (options.withTimes && current) {
      try {
        pushedAt = (await driver.stat(link)).modTime;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    return { tag, current, pushedAt };
  });
}

