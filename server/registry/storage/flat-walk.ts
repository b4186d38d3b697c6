import { StorageError } from "./driver.js";
import { ROOT, compareLexically, isValidComponent } from "./paths.js";
import type { WalkVisitor } from "./walk.js";

/**
 * Full paths of a directory's children, from the names an object store listed under the
 * directory's prefix with delimiter "/" (objects, and common prefixes without their slash).
 * A directory is a prefix: with no child it does not exist.
 */
export function childPaths(driver: string, path: string, prefix: string, names: Iterable<string>): string[] {
  const children = new Set<string>();
  for (const name of names) {
    const child = name.slice(prefix.length);
    if (isValidComponent(child)) children.add(child);
  }
  if (children.size === 0 && path !== ROOT) throw new StorageError("not-found", path, driver);
  const base = path === ROOT ? "" : path;
  return [...children].map((child) => `${base}/${child}`);
}

/** An object found by a flat (delimiter-less) listing, relative to the walked directory. */
export interface ListedObject {
  /** "a/b/c" below the walked directory. */
  rel: string;
  size: number;
  modTime: Date;
}

/**
 * A walk from one flat listing of a subtree, for object stores that list every key under a
 * prefix (thousands per request) far faster than one listing per directory. Directories are
 * derived from the keys; each directory's children come in lexical order, a directory's
 * contents right after it. Keys that are not valid paths are left out.
 */
export async function walkObjects(driver: string, path: string, objects: ListedObject[], visit: WalkVisitor): Promise<void> {
  // "/" becomes NUL, which sorts before every character a component may hold: a/1 before a-b/z.
  const entries = objects
    .filter((object) => object.rel.split("/").every(isValidComponent))
    .map((object) => ({ ...object, sortKey: object.rel.replaceAll("/", "\u0000") }))
    .sort((a, b) => compareLexically(a.sortKey, b.sortKey));
  if (entries.length === 0) {
    if (path === ROOT) return;
    throw new StorageError("not-found", path, driver);
  }
  const base = path === ROOT ? "" : path;
  let open: string[] = [];
  let skipped: string | undefined;
  for (const entry of entries) {
    if (skipped !== undefined && entry.rel.startsWith(skipped)) continue;
    skipped = undefined;
    const dirs = entry.rel.split("/").slice(0, -1);
    let shared = 0;
    while (shared < dirs.length && shared < open.length && open[shared] === dirs[shared]) shared++;
    open = open.slice(0, shared);
    let skip = false;
    for (const dir of dirs.slice(shared)) {
      open.push(dir);
      const rel = open.join("/");
      if ((await visit({ path: `${base}/${rel}`, size: 0, modTime: entry.modTime, isDir: true })) === "skip") {
        skipped = `${rel}/`;
        skip = true;
        break;
      }
    }
    if (!skip) await visit({ path: `${base}/${entry.rel}`, size: entry.size, modTime: entry.modTime, isDir: false });
  }
}
