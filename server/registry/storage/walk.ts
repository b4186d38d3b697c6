import pLimit, { type LimitFunction } from "p-limit";
import { isNotFound, type FileInfo } from "./driver.js";
import { compareLexically } from "./paths.js";

export type WalkVisitor = (info: FileInfo) => Promise<void | "skip"> | void | "skip";

interface Listing {
  list(path: string): Promise<string[]>;
  stat(path: string): Promise<FileInfo>;
}

/** Storage calls a walk keeps in flight at once: one at a time made GC over 50,000 blobs crawl. */
const walkConcurrency = 32;

/**
 * Depth-first walk built on list + stat, for drivers without a cheaper native traversal.
 * Visits stay in lexical depth-first order, but the stats of a directory's entries, and the
 * listings of its subdirectories, are fetched ahead, up to `walkConcurrency` calls at once.
 * Entries deleted while the walk runs (garbage collection racing uploads) are skipped rather
 * than failing the walk; only a missing starting directory is an error.
 */
export async function walkTree(source: Listing, path: string, visit: WalkVisitor): Promise<void> {
  const limit = pLimit(walkConcurrency);
  await walkDirectory(source, read(source, path, true, limit), visit, limit);
}

type Entries = (FileInfo | undefined)[];

async function walkDirectory(source: Listing, entries: Promise<Entries>, visit: WalkVisitor, limit: LimitFunction): Promise<void> {
  const infos = await entries;
  // Listings of subdirectories start now; a skipped one is simply not awaited. Each is marked
  // handled at once, so a failure is thrown where it is awaited, not as an unhandled rejection.
  const ahead = infos.map((info) => (info?.isDir ? read(source, info.path, false, limit) : undefined));
  for (const listing of ahead) listing?.catch(() => undefined);
  for (const [index, info] of infos.entries()) {
    const listing = ahead[index];
    if (!info) continue;
    const decision = await visit(info);
    if (listing && decision !== "skip") await walkDirectory(source, listing, visit, limit);
  }
}

async function read(source: Listing, dir: string, top: boolean, limit: LimitFunction): Promise<Entries> {
  let children: string[];
  try {
    children = await limit(() => source.list(dir));
  } catch (error) {
    if (!top && isNotFound(error)) return [];
    throw error;
  }
  children.sort(compareLexically);
  return Promise.all(
    children.map((child) =>
      limit(() => source.stat(child)).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      }),
    ),
  );
}
