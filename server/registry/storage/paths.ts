/**
 * Storage key syntax shared by the base wrapper and the drivers.
 *
 * A component may not start with "." even though distribution's pattern would allow it: that
 * rules out "." and "..", keeps the filesystem driver's temp files (".name.tmp-...") outside the
 * key space, and no registry key (repository names, tags, digests, "_uploads"...) starts with one.
 */
const component = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
/** One or more "/component": the same rule, checked in one pass (scans validate tens of thousands of paths). */
const nonRootPath = /^(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$/;

export const ROOT = "/";

export function isValidComponent(name: string): boolean {
  return component.test(name);
}

/** Absolute, "/"-separated, no empty or dot-led components, no trailing slash; "/" only if allowed. */
export function isValidPath(path: unknown, allowRoot: boolean): path is string {
  if (typeof path !== "string") return false;
  if (path === ROOT) return allowRoot;
  return nonRootPath.test(path);
}

/** Components of a valid path; the root has none. */
export function components(path: string): string[] {
  return path === ROOT ? [] : path.slice(1).split("/");
}

export function childPath(dir: string, name: string): string {
  return dir === ROOT ? `/${name}` : `${dir}/${name}`;
}

/** True when `path` lies strictly below `ancestor`. */
export function isBelow(path: string, ancestor: string): boolean {
  return ancestor === ROOT ? path !== ROOT : path.startsWith(`${ancestor}/`);
}

/** Plain byte-order comparison: "lexical" must not depend on the process locale. */
export function compareLexically(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
