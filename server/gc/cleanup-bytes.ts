import { layout } from "../registry/layout.js";
import { tryParseDigest, type Digest } from "../registry/reference.js";
import type { FileInfo, StorageDriver } from "../registry/storage/driver.js";
import type { ManifestReferencesReader } from "./references.js";
import { statIfPresent } from "./scan.js";

export interface CleanupContext {
  driver: StorageDriver;
  references: ManifestReferencesReader;
  /** The time rules measure tag ages from, and the grace period counts back from. */
  at: number;
  /** The grace period of the collection the byte counts are for. */
  graceMs: number;
}

/**
 * Bytes a cleanup frees: blobs reachable from deleted manifests that nothing kept (anywhere)
 * reaches. Sets each delete row's `bytes`; returns the totals, each blob counted once.
 */
export async function countFreedBytes(
  ctx: CleanupContext,
  /** Per repository: its revisions and the ones the cleanup deletes. */
  plans: ReadonlyMap<string, { revisions: string[]; remove: ReadonlyMap<string, unknown> }>,
  manifests: readonly { repository: string; digest: string; deletedWith?: string }[],
  rows: { repository: string; digest: string; action: "delete" | "keep"; bytes: number }[],
): Promise<{ totalBytes: number; bytesInGrace: number }> {
  const { driver, references, at, graceMs } = ctx;
  const keptBlobs = new Set<string>();
  const closure = async (digest: string, into: Set<string>, visited: Set<string>): Promise<void> => {
    if (visited.has(digest)) return;
    visited.add(digest);
    into.add(digest);
    const refs = await references.get(digest).catch(() => undefined);
    if (!refs) return;
    for (const blob of refs.blobs) into.add(blob);
    for (const child of refs.manifests) await closure(child, into, visited);
  };
  const keptVisited = new Set<string>();
  for (const [, plan] of plans) {
    for (const digest of plan.revisions) if (!plan.remove.has(digest)) await closure(digest, keptBlobs, keptVisited);
  }
  // A blob modified within the grace period is judged the way the collection judges it: kept.
  const blobAges = new Map<string, { size: number; young: boolean }>();
  const blobOf = async (digest: string): Promise<{ size: number; young: boolean }> => {
    if (!blobAges.has(digest)) {
      const info = await blobInfo(driver, digest);
      blobAges.set(digest, { size: info?.size ?? 0, young: info !== undefined && info.modTime.getTime() > at - graceMs });
    }
    return blobAges.get(digest) as { size: number; young: boolean };
  };
  const sizeOf = async (digest: string): Promise<number> => {
    const blob = await blobOf(digest);
    return blob.young ? 0 : blob.size;
  };
  const freedPerManifest = new Map<string, Set<string>>();
  const allFreed = new Set<string>();
  for (const entry of manifests) {
    const blobs = new Set<string>();
    await closure(entry.digest, blobs, new Set());
    const freed = new Set([...blobs].filter((blob) => !keptBlobs.has(blob)));
    freedPerManifest.set(`${entry.repository}@${entry.digest}`, freed);
    for (const blob of freed) allFreed.add(blob);
  }
  // A tag row counts its manifest and everything deleted with it (children, referrers).
  const cascadeOf = new Map<string, string[]>();
  for (const entry of manifests) {
    if (!entry.deletedWith) continue;
    const key = `${entry.repository}@${entry.deletedWith}`;
    cascadeOf.set(key, [...(cascadeOf.get(key) ?? []), entry.digest]);
  }
  for (const row of rows) {
    if (row.action !== "delete") continue;
    const key = `${row.repository}@${row.digest}`;
    if (!freedPerManifest.has(key)) continue;
    const blobs = new Set<string>();
    const stack = [row.digest];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const digest = stack.pop() as string;
      if (seen.has(digest)) continue;
      seen.add(digest);
      for (const blob of freedPerManifest.get(`${row.repository}@${digest}`) ?? []) blobs.add(blob);
      stack.push(...(cascadeOf.get(`${row.repository}@${digest}`) ?? []));
    }
    row.bytes = 0;
    for (const blob of blobs) row.bytes += await sizeOf(blob);
  }
  let totalBytes = 0;
  let bytesInGrace = 0;
  for (const digest of allFreed) {
    const blob = await blobOf(digest);
    if (blob.young) bytesInGrace += blob.size;
    else totalBytes += blob.size;
  }
  return { totalBytes, bytesInGrace };
}

async function blobInfo(driver: StorageDriver, digest: string): Promise<FileInfo | undefined> {
  let parsed: Digest | undefined;
  try {
    parsed = tryParseDigest(digest);
  } catch {
    return undefined;
  }
  if (!parsed) return undefined;
  return statIfPresent(driver, layout.blobData(parsed));
}
