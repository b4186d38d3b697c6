import type { Logger } from "../log.js";
import type { WriteTracker } from "../maintenance/readonly.js";
import { RegistryError } from "../registry/errors.js";
import { layout } from "../registry/layout.js";
import type { ManifestStore } from "../registry/manifests.js";
import { parseDigest, parseName, parseTag } from "../registry/reference.js";
import type { StorageDriver } from "../registry/storage/driver.js";
import { batchOf } from "../registry/storage/batch.js";
import type { TagStore } from "../registry/tags.js";
import { planCleanup, type CleanupManifest, type CleanupPreview } from "./cleanup-plan.js";
import { cleanupRulesSchema, type CleanupRule } from "./cleanup-rules.js";
import { ManifestReferencesReader } from "./references.js";
import { listDigestDirs } from "./scan.js";

export { cleanupRuleSchema, cleanupRulesSchema, type CleanupRule } from "./cleanup-rules.js";

/**
 * Soft deletes (what `DELETE /v2/<name>/manifests/<ref>` does, for the console) and tag cleanup
 * rules. Nothing here frees space: it removes manifests and tags, and the next garbage
 * collection deletes the blobs nothing references any more.
 */

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
    const graceMs = Math.max(0, previewOptions.graceMs ?? options.graceMs?.() ?? 0);
    return planCleanup({ driver, references, at: now(), graceMs }, rules);
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
