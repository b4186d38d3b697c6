import pLimit from "p-limit";
import { layout } from "../registry/layout.js";
import { walkRepositories } from "../registry/repositories.js";
import { matchesRepositoryGlob } from "../registry/repository-glob.js";
import { countFreedBytes, type CleanupContext } from "./cleanup-bytes.js";
import { byPushTimeDesc, decide, type CleanupRule } from "./cleanup-rules.js";
import { compare } from "./context.js";
import type { ManifestReferences } from "./references.js";
import { listDigestDirs, listTags, type TagInfo } from "./scan.js";

// What a cleanup would delete: the tags its rules drop, and the manifests that go with them.

export interface CleanupRow {
  repository: string;
  tag: string;
  digest: string;
  action: "delete" | "keep";
  reason: string;
  /** ISO push time of the tag, when known. */
  pushedAt: string | null;
  /**
   * Bytes the next garbage collection (with the preview's `graceMs`) frees because of this row:
   * blobs of the manifest (and of what is deleted with it) that no kept manifest anywhere
   * references and that are older than the grace period. 0 when the manifest stays. Rows sharing
   * blobs each count them; `totalBytes` counts them once.
   */
  bytes: number;
}

export interface CleanupManifest {
  repository: string;
  digest: string;
  /** "all its tags are deleted", "child of deleted index sha256:...", "referrer of deleted ...". */
  reason: string;
  /** The deleted manifest this one goes with (its index, its subject), when it has no tag itself. */
  deletedWith?: string;
}

export interface CleanupPreview {
  rows: CleanupRow[];
  /** Manifests `applyCleanup` deletes (with every tag on them). */
  manifests: CleanupManifest[];
  /** Tags `applyCleanup` removes while their manifest stays. */
  untags: { repository: string; tag: string; digest: string }[];
  /**
   * Bytes a garbage collection with `graceMs` run now frees after `applyCleanup` (of the blobs
   * this cleanup unreferences; garbage already there is not counted), counted once.
   */
  totalBytes: number;
  /** The grace period the byte counts assume (`gc.grace` unless the preview was asked another). */
  graceMs: number;
  /** Bytes of blobs this cleanup unreferences that are younger than `graceMs`: a later run frees them. */
  bytesInGrace: number;
  repositories: string[];
}

interface Doomed {
  reason: string;
  deletedWith?: string;
}

/** A repository's revisions and the ones the cleanup deletes. */
interface RepositoryPlan {
  revisions: string[];
  remove: Map<string, Doomed>;
}

export async function planCleanup(ctx: CleanupContext, rules: CleanupRule[]): Promise<CleanupPreview> {
  const { driver, references, at } = ctx;
  const compiled = rules.map((rule) => ({ rule, keep: rule.keepTags ? new RegExp(rule.keepTags) : undefined }));
  const names = await walkRepositories(driver);
  const rows: CleanupRow[] = [];
  const manifests: CleanupManifest[] = [];
  const untags: CleanupPreview["untags"] = [];
  const matched: string[] = [];
  const plans = new Map<string, RepositoryPlan>();

  await pLimit(4).map(names, async (name) => {
    const revisions = [...(await listDigestDirs(driver, layout.revisionsDir(name))).keys()];
    const applicable = compiled.filter((c) => matchesRepositoryGlob(c.rule.repository, name));
    if (applicable.length === 0) {
      plans.set(name, { revisions, remove: new Map() });
      return;
    }
    matched.push(name);
    const tags = (await listTags(driver, name, { withTimes: true })).sort(byPushTimeDesc);
    const decisions = tags.map((tag, rank) => decide(tag, rank, applicable, at));

    // A manifest goes when every tag on it goes.
    const tagsByDigest = new Map<string, { tag: TagInfo; remove: boolean }[]>();
    tags.forEach((tag, i) => {
      if (!tag.current) return;
      const list = tagsByDigest.get(tag.current.value) ?? [];
      list.push({ tag, remove: decisions[i]!.action === "delete" });
      tagsByDigest.set(tag.current.value, list);
    });
    const candidates = new Set([...tagsByDigest].filter(([, list]) => list.every((entry) => entry.remove)).map(([digest]) => digest));
    const refs = new Map<string, ManifestReferences | undefined>();
    await references.load(revisions);
    for (const digest of revisions) refs.set(digest, await references.get(digest).catch(() => undefined));
    const { remove, protectedBy } = cascade(revisions, refs, tagsByDigest, candidates);
    plans.set(name, { revisions, remove });

    tags.forEach((tag, i) => {
      const decision = decisions[i]!;
      const digest = tag.current?.value ?? "";
      let reason = decision.reason;
      if (decision.action === "delete" && tag.current) {
        if (remove.has(digest)) {
          // Reported once per manifest below.
        } else {
          const keptBy = (tagsByDigest.get(digest) ?? []).filter((entry) => !entry.remove).map((entry) => entry.tag.tag);
          reason += keptBy.length > 0 ? `; the manifest stays (also tagged ${keptBy.join(", ")})` : `; the manifest stays (part of index ${protectedBy.get(digest) ?? "?"})`;
          untags.push({ repository: name, tag: tag.tag, digest });
        }
      }
      rows.push({ repository: name, tag: tag.tag, digest, action: decision.action, reason, pushedAt: tag.pushedAt?.toISOString() ?? null, bytes: 0 });
    });
    for (const [digest, why] of remove) manifests.push({ repository: name, digest, ...why });
  });

  const { totalBytes, bytesInGrace } = await countFreedBytes(ctx, plans, manifests, rows);
  rows.sort((a, b) => compare(a.repository, b.repository) || compare(a.tag, b.tag));
  manifests.sort((a, b) => compare(a.repository, b.repository) || compare(a.digest, b.digest));
  untags.sort((a, b) => compare(a.repository, b.repository) || compare(a.tag, b.tag));
  return { rows, manifests, untags, totalBytes, graceMs: ctx.graceMs, bytesInGrace, repositories: matched.sort(compare) };
}

/**
 * Which manifests go: `candidates` (all their tags go) unless a kept manifest needs them, plus
 * what only they kept alive: untagged children and untagged referrers, recursively.
 */
function cascade(
  revisions: string[],
  refs: Map<string, ManifestReferences | undefined>,
  tagsByDigest: Map<string, { remove: boolean }[]>,
  candidates: Set<string>,
): { remove: Map<string, Doomed>; protectedBy: Map<string, string> } {
  const present = new Set(revisions);
  const referrers = new Map<string, string[]>();
  for (const [digest, found] of refs) {
    if (!found?.subject) continue;
    referrers.set(found.subject, [...(referrers.get(found.subject) ?? []), digest]);
  }
  const isTagged = (digest: string) => (tagsByDigest.get(digest)?.length ?? 0) > 0;
  const keptTag = (digest: string) => (tagsByDigest.get(digest) ?? []).some((entry) => !entry.remove);

  // Descendants of the candidates that nothing else tags: deleted with them, unless live.
  const doomedFrom = new Map<string, Doomed>();
  const queue: string[] = [];
  for (const digest of candidates) {
    if (!present.has(digest)) continue;
    doomedFrom.set(digest, { reason: "all its tags are deleted" });
    queue.push(digest);
  }
  while (queue.length > 0) {
    const digest = queue.pop() as string;
    const found = refs.get(digest);
    const next: [string, string][] = [
      ...(found?.manifests ?? []).map((child): [string, string] => [child, `child of deleted index ${digest}`]),
      ...(referrers.get(digest) ?? []).map((referrer): [string, string] => [referrer, `referrer of deleted manifest ${digest}`]),
    ];
    for (const [candidate, reason] of next) {
      if (!present.has(candidate) || doomedFrom.has(candidate) || isTagged(candidate)) continue;
      doomedFrom.set(candidate, { reason, deletedWith: digest });
      queue.push(candidate);
    }
  }
  // Live: what kept tags and the untouched untagged revisions reach through children and blobs.
  const live = new Set<string>();
  const protectedBy = new Map<string, string>();
  const walk = (digest: string, from: string | undefined) => {
    if (live.has(digest)) return;
    live.add(digest);
    if (from && doomedFrom.has(digest)) protectedBy.set(digest, from);
    const found = refs.get(digest);
    for (const child of [...(found?.manifests ?? []), ...(found?.blobs ?? [])]) if (present.has(child)) walk(child, digest);
  };
  for (const digest of revisions) if (keptTag(digest) || (!isTagged(digest) && !doomedFrom.has(digest))) walk(digest, undefined);
  const remove = new Map<string, Doomed>();
  for (const [digest, why] of doomedFrom) if (!live.has(digest)) remove.set(digest, why);
  return { remove, protectedBy };
}
