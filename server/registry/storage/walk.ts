import { isNotFound, type FileInfo } from "./driver.js";
import { compareLexically } from "./paths.js";

export type WalkVisitor = (info: FileInfo) => Promise<void | "skip"> | void | "skip";

interface Listing {
  list(path: string): Promise<string[]>;
  stat(path: string): Promise<FileInfo>;
}

/**
 * Depth-first walk built on list + stat, for drivers without a cheaper native traversal.
 * Entries deleted while the walk runs (garbage collection racing uploads) are skipped rather
 * than failing the walk; only a missing starting directory is an error.
 */
export async function walkTree(source: Listing, path: string, visit: WalkVisitor): Promise<void> {
  await walkDirectory(source, path, visit, true);
}

async function walkDirectory(source: Listing, dir: string, visit: WalkVisitor, top: boolean): Promise<void> {
  let children: string[];
  try {
    children = await source.list(dir);
  } catch (error) {
    if (!top && isNotFound(error)) return;
    throw error;
  }
  children.sort(compareLexically);
  for (const child of children) {
    let info: FileInfo;
    try {
      info = await source.stat(child);
    } catch (error) {
      if (isNotFound(error)) continue;
      throw error;
    }
    const decision = await visit(info);
    if (info.isDir && decision !== "skip") await walkDirectory(source, child, visit, false);
  }
}
