import { z } from "zod";
import type { Logger } from "../log.js";
import type { WriteTracker } from "../maintenance/readonly.js";
import { RegistryError } from "../registry/errors.js";
import { layout } from "../registry/layout.js";
import type { ManifestStore } from "../registry/manifests.js";
import { parseDigest, parseName, parseTag, tryParseDigest, type Digest } from "../registry/reference.js";
import { walkRepositories } from "../registry/repositories.js";
import type { FileInfo, StorageDriver } from "../registry/storage/driver.js";
import { batchOf } from "../registry/storage/batch.js";
import type { TagStore } from "../registry/tags.js";
import { ManifestReferencesReader, type ManifestReferences } from "./references.js";
import { mapLimit } from "../concurrency.js";
import { listDigestDirs, listTags, statIfPresent, type TagInfo } from "./scan.js";

/**
 * Soft deletes (what `DELETE /v2/<name>/manifests/<ref>` does, for the console) and tag cleanup
 * rules. Nothing here frees space: it removes manifests and tags, and the next garbage
 * collection deletes the blobs nothing references any more.
 */

// ---- rules --------------------------------------------------------------------------------------

const repositoryGlob = /^[a-z0-9._\-/*?]+$/;

export const cleanupRuleSchema = z
  .object({
    /** Repositories the rule applies to: `*` within a path component, `**` across, `?` one character. */
    repository: z.string().min(1).max(255).regex(repositoryGlob, "a repository glob uses a-z 0-9 . _ - / and the wildcards * ** ?"),
    /** Keep the N most recently pushed tags (push time: the tag's `current/link` modification time). */
    keepLast: z.number().int().min(0).optional(),
    /** Keep tags matching this regular expression (JavaScript syntax, unanchored: use ^ and $). */
    keepTags: z
      .string()
      .min(1)
      .refine((source) => {
        try {
          new RegExp(source);
          return true;
        } catch {
          return false;
        }
      }, "invalid regular expression")
      .optional(),
    /** Keep tags pushed less than this many days ago. */
    olderThanDays: z.number().min(0).optional(),
  })
  .strict()
  .refine((rule) => rule.keepLast !== undefined || rule.keepTags !== undefined || rule.olderThanDays !== undefined, {
    message: "a rule needs keepLast, keepTags or olderThanDays (keepLast: 0 deletes every tag that no other criterion keeps)",
  });

export type CleanupRule = z.infer<typeof cleanupRuleSchema>;
export const cleanupRulesSchema = z.array(cleanupRuleSchema).min(1);

/** `*` matches within one path component, `**` across components, `?` one character. */
export function repositoryGlobToRegExp(glob: string): RegExp {
  let source = "^";
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] as string;
    if (char === "*" && glob[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else source += char.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`${source}$`);
}

// ---- results ------------------------------------------------------------------------------------

export interface SoftDeleteResult {
  repository: string;
  digest: string;
  /** Tags that pointed at the manifest; deleted with it. */
  sharedTags: string[];
}

export interface UntagResult {
  repository: string;
  tag: string;
  digest: string;
  /** Other tags still pointing at the same manifest (it stays while any does). */
  sharedTags: string[];
  /** True when no tag points at the manifest any more: `--delete-untagged` will delete it. */
  untagged: boolean;
}

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

export interface CleanupApplyResult {
  preview: CleanupPreview;
  deleted: CleanupManifest[];
  untagged: { repository: string; tag: string; digest: string }[];
  /** Planned changes skipped because storage changed in between (a tag moved, a new tag...). */
  skipped: { repository: string; target: string; reason: string }[];
}

export interface CleanupServiceOptions {
  driver: StorageDriver;
  /** The engine's stores (`registry.services`): deletes go through the same code (and events) as the API. */
  manifests: ManifestStore;
  tags: TagStore;
  /**
   * `storage.delete.enabled` (the engine's hook, read per call so a reload applies): the console
   * deletes only what `DELETE /v2/...` could, so a registry configured to keep everything does.
   */
  deleteEnabled: () => boolean;
  /** Deletes are refused while this says read-only. */
  readOnly?: { isReadOnly(): boolean };
  /** Deletes count as writes in progress (a garbage collection waits for them). */
  writes?: Pick<WriteTracker, "beginWrite">;
  logger?: Logger;
  now?: () => number;
  /** `gc.grace`: the grace period the preview's byte counts assume unless one is given. Default 0. */
  graceMs?: () => number;
}

export interface CleanupService {
  softDelete(target: { repository: string; digest: string; force?: boolean }): Promise<SoftDeleteResult>;
  untag(target: { repository: string; tag: string }): Promise<UntagResult>;
  /** `options.graceMs`: the grace period of the collection the byte counts are for. */
  previewCleanup(rules: CleanupRule[], options?: { graceMs?: number }): Promise<CleanupPreview>;
  /**
   * Applies the rules: computes the plan now, or executes `options.preview` (the plan a person
   * confirmed) exactly, skipping entries that storage changed since.
   */
  applyCleanup(rules: CleanupRule[], options?: { preview?: CleanupPreview }): Promise<CleanupApplyResult>;
}

/** Deletes asked for while `storage.delete.enabled` is off. */
export class DeletesDisabledError extends Error {
  constructor() {
    super("deletes are disabled on this registry: set storage.delete.enabled to true in config.yml to delete manifests and tags");
    this.name = "DeletesDisabledError";
  }
}

/** A soft delete that would break a kept manifest (deleting a child of a tagged index). */
export class CleanupConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CleanupConflictError";
  }
}

const dayMs = 24 * 60 * 60 * 1000;

export function createCleanupService(options: CleanupServiceOptions): CleanupService {
  const { driver } = options;
  const now = options.now ?? Date.now;
  const tagStore = options.tags;
  const manifestStore = options.manifests;

  const references = new ManifestReferencesReader(batchOf(driver));

  function requireDeletes(): void {
    if (!options.deleteEnabled()) throw new DeletesDisabledError();
  }

  async function write<T>(run: () => Promise<T>): Promise<T> {
    requireDeletes();
    const end = options.writes?.beginWrite();
    try {
      if (options.readOnly?.isReadOnly()) {
        throw new RegistryError("UNSUPPORTED", { reason: "read-only" }, "the registry is in read-only mode for maintenance; try again later");
      }
      return await run();
    } finally {
      end?.();
    }
  }

  /** Manifests of `name` that list `digest` as a child, other than those in `ignore`. */
  async function parentsOf(name: string, digest: string, ignore: Set<string> = new Set()): Promise<string[]> {
    const revisions = await listDigestDirs(driver, layout.revisionsDir(name));
    const candidates = [...revisions.keys()].filter((candidate) => candidate !== digest && !ignore.has(candidate));
    // One batch read for all of them; a manifest that cannot be read is nobody's parent, as below.
    await references.load(candidates).catch(() => undefined);
    const parents: string[] = [];
    for (const candidate of candidates) {
      const refs = await references.get(candidate).catch(() => undefined);
      if (refs?.manifests.includes(digest)) parents.push(candidate);
    }
    return parents.sort();
  }

  async function softDelete(target: { repository: string; digest: string; force?: boolean }): Promise<SoftDeleteResult> {
    const name = parseName(target.repository);
    const digest = parseDigest(target.digest);
    return write(async () => {
      if (!(await manifestStore.exists(name, digest))) throw new RegistryError("MANIFEST_UNKNOWN", { digest: digest.value });
      if (!target.force) {
        const parents = await parentsOf(name, digest.value);
        if (parents.length > 0) {
          throw new CleanupConflictError(
            `${name}@${digest.value} is part of the index ${parents.join(", ")}; deleting it would break that image (delete the index, or force)`,
          );
        }
      }
      const sharedTags = await tagStore.tagsOf(name, digest);
      await manifestStore.delete(name, digest);
      options.logger?.info("manifest deleted", { repository: name, digest: digest.value, tags: sharedTags });
      return { repository: name, digest: digest.value, sharedTags };
    });
  }

  async function untag(target: { repository: string; tag: string }): Promise<UntagResult> {
    const name = parseName(target.repository);
    const tag = parseTag(target.tag);
    return write(async () => {
      const digest = await tagStore.resolve(name, tag);
      if (!digest) throw new RegistryError("MANIFEST_UNKNOWN", { tag });
      await tagStore.untag(name, tag);
      const sharedTags = await tagStore.tagsOf(name, digest);
      options.logger?.info("tag deleted", { repository: name, tag, digest: digest.value, remaining: sharedTags });
      return { repository: name, tag, digest: digest.value, sharedTags, untagged: sharedTags.length === 0 };
    });
  }

  async function previewCleanup(input: CleanupRule[], previewOptions: { graceMs?: number } = {}): Promise<CleanupPreview> {
    const rules = cleanupRulesSchema.parse(input);
    const compiled = rules.map((rule) => ({ rule, glob: repositoryGlobToRegExp(rule.repository), keep: rule.keepTags ? new RegExp(rule.keepTags) : undefined }));
    const at = now();
    const graceMs = Math.max(0, previewOptions.graceMs ?? options.graceMs?.() ?? 0);
    const names = await walkRepositories(driver);
    const rows: CleanupRow[] = [];
    const manifests: CleanupManifest[] = [];
    const untags: CleanupPreview["untags"] = [];
    const matched: string[] = [];
    /** Per repository: revisions and the ones to delete, for the byte count. */
    const plans = new Map<string, { revisions: string[]; remove: Map<string, Doomed> }>();

    await mapLimit(names, 4, async (name) => {
      const revisions = [...(await listDigestDirs(driver, layout.revisionsDir(name))).keys()];
      const applicable = compiled.filter((c) => c.glob.test(name));
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

    // Bytes: blobs reachable from deleted manifests that nothing kept (anywhere) reaches.
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

    rows.sort((a, b) => compare(a.repository, b.repository) || compare(a.tag, b.tag));
    manifests.sort((a, b) => compare(a.repository, b.repository) || compare(a.digest, b.digest));
    untags.sort((a, b) => compare(a.repository, b.repository) || compare(a.tag, b.tag));
    return { rows, manifests, untags, totalBytes, graceMs, bytesInGrace, repositories: matched.sort(compare) };
  }

  async function applyCleanup(rules: CleanupRule[], applyOptions: { preview?: CleanupPreview } = {}): Promise<CleanupApplyResult> {
    // Before the preview's walk of every repository, not only before its deletes.
    requireDeletes();
    const preview = applyOptions.preview ?? (await previewCleanup(rules));
    const deleted: CleanupManifest[] = [];
    const untagged: CleanupApplyResult["untagged"] = [];
    const skipped: CleanupApplyResult["skipped"] = [];
    const plannedTags = new Map<string, Set<string>>();
    for (const row of preview.rows) {
      if (row.action !== "delete") continue;
      const key = `${row.repository}@${row.digest}`;
      plannedTags.set(key, (plannedTags.get(key) ?? new Set()).add(row.tag));
    }
    await write(async () => {
      for (const entry of preview.untags) {
        const digest = await tagStore.resolve(entry.repository, entry.tag);
        if (digest?.value !== entry.digest) {
          skipped.push({ repository: entry.repository, target: entry.tag, reason: "the tag moved since the preview" });
          continue;
        }
        await tagStore.untag(entry.repository, entry.tag);
        untagged.push(entry);
      }
      for (const entry of preview.manifests) {
        const digest = parseDigest(entry.digest);
        if (!(await manifestStore.exists(entry.repository, digest))) continue;
        const tags = await tagStore.tagsOf(entry.repository, digest);
        const planned = plannedTags.get(`${entry.repository}@${entry.digest}`) ?? new Set<string>();
        const unplanned = tags.filter((tag) => !planned.has(tag));
        if (unplanned.length > 0) {
          skipped.push({ repository: entry.repository, target: entry.digest, reason: `tagged ${unplanned.join(", ")} since the preview` });
          continue;
        }
        await manifestStore.delete(entry.repository, digest);
        deleted.push(entry);
      }
    });
    options.logger?.info("cleanup applied", { deleted: deleted.length, untagged: untagged.length, skipped: skipped.length });
    return { preview, deleted, untagged, skipped };
  }

  return { softDelete, untag, previewCleanup, applyCleanup };
}

interface Doomed {
  reason: string;
  deletedWith?: string;
}

interface Decision {
  action: "delete" | "keep";
  reason: string;
}

/** A tag is kept when any applicable rule keeps it. */
function decide(tag: TagInfo, rank: number, rules: { rule: CleanupRule; keep: RegExp | undefined }[], at: number): Decision {
  if (!tag.current) return { action: "keep", reason: "the tag has no readable current link" };
  const ageDays = tag.pushedAt ? (at - tag.pushedAt.getTime()) / dayMs : Infinity;
  const why: string[] = [];
  for (const { rule, keep } of rules) {
    if (keep?.test(tag.tag)) return { action: "keep", reason: `matches keepTags /${rule.keepTags}/ (rule ${rule.repository})` };
    if (rule.keepLast !== undefined && rank < rule.keepLast) return { action: "keep", reason: `among the ${rule.keepLast} most recently pushed (rule ${rule.repository})` };
    if (rule.olderThanDays !== undefined && ageDays < rule.olderThanDays) {
      return { action: "keep", reason: `pushed ${formatDays(ageDays)} ago, less than ${rule.olderThanDays} days (rule ${rule.repository})` };
    }
    const parts: string[] = [];
    if (rule.keepLast !== undefined) parts.push(`not among the ${rule.keepLast} most recent`);
    if (rule.olderThanDays !== undefined) parts.push(`pushed ${formatDays(ageDays)} ago`);
    if (rule.keepTags !== undefined) parts.push(`does not match /${rule.keepTags}/`);
    why.push(`${parts.join(", ")} (rule ${rule.repository})`);
  }
  return { action: "delete", reason: why.join("; ") };
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

function byPushTimeDesc(a: TagInfo, b: TagInfo): number {
  const ta = a.pushedAt?.getTime() ?? -Infinity;
  const tb = b.pushedAt?.getTime() ?? -Infinity;
  return tb - ta || compare(a.tag, b.tag);
}

function formatDays(days: number): string {
  if (!Number.isFinite(days)) return "an unknown time";
  if (days < 1) return `${Math.max(0, Math.round(days * 24))} h`;
  return `${Math.floor(days)} days`;
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

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
