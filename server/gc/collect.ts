import { gcContext, type GcContext, type GcRunOptions } from "./context.js";
import { mark, type GcMark } from "./mark.js";
import { plan, type GcKept, type GcPlan } from "./plan.js";
import { loadReferencesCache, saveReferencesCache } from "./references-cache.js";
import { listBlobDigests } from "./scan.js";
import { sweep, type LinksDeleted } from "./sweep.js";

export type { GcEvent, GcProgress } from "./context.js";
export type { GcKept, GcPlan } from "./plan.js";

/**
 * Mark and sweep over distribution's storage layout, in phases, each in its own module:
 *
 * - mark (mark.ts): which revisions stay and which blobs they reach;
 * - plan (plan.ts): which blobs go, judged by the mark and by age, with what stays and why;
 * - protect: the caller's `protect` hook may shrink the plan before anything is deleted;
 * - sweep (sweep.ts): the deletions, in an order that never leaves a served manifest without its
 *   content, with the checkpoint before each batch;
 * - report: what was found, deleted and kept.
 *
 * Storage is read by listings, not walks, and only the blobs that may go are stat'ed: on the
 * filesystem a walk costs a stat per directory and file, several times the work of the listings.
 * Every read and delete goes in batches of many paths (storage/batch.ts), a level of the layout
 * at a time, which the filesystem driver runs on threads with synchronous calls.
 */
export interface CollectOptions extends GcRunOptions {
  /**
   * Between plan and sweep (dry runs included): may return the plan with entries removed, never
   * added (checked), e.g. to keep digests a running registry still needs. Default: the plan as is.
   */
  protect?: (plan: GcPlan) => Promise<GcPlan>;
  now?: () => number;
}

export interface GcReport {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  dryRun: boolean;
  deleteUntagged: boolean;
  graceMs: number;
  /** Repositories scanned. */
  repositories: number;
  /** Manifest revisions seen, over all repositories. */
  manifests: number;
  manifestsDeleted: { repository: string; digest: string }[];
  /** Blobs found in storage. */
  blobs: number;
  /** Blobs kept because something references them. */
  blobsMarked: number;
  /** Unreferenced blobs kept because they are younger than `graceMs`. */
  blobsInGrace: number;
  blobsDeleted: { digest: string; size: number }[];
  bytesFreed: number;
  /** Stale links removed (or that would be): tag history, referrers entries, `_layers` links. */
  linksDeleted: { tagHistory: number; referrers: number; layers: number };
  /** Oddities found (broken tags, revisions whose content is missing...): reported, never fatal. */
  warnings: string[];
  /** What stayed and why: referenced, within the grace period (`graceMs`), or kept by `protect`. */
  kept: GcKept & { protected: { blobs: number; bytes: number; manifests: number } };
}

export async function collectGarbage(options: CollectOptions): Promise<GcReport> {
  const now = options.now ?? Date.now;
  const started = now();
  const ctx = gcContext(options, started);
  // Blobs are listed while the mark runs: the listing needs nothing from it. A blob written
  // after its prefix was listed is never considered, so this only ever deletes less.
  const blobListing = listBlobDigests(ctx.batch);
  blobListing.catch(() => undefined);
  const cached = await loadReferencesCache(ctx.driver, ctx.warn);
  ctx.references.seed(cached);
  const marked = await mark(ctx);
  const planned = await plan(ctx, marked, await blobListing);
  const kept = options.protect ? shrinkOnly(planned, await options.protect(planned)) : planned;
  const linksDeleted = await sweep(ctx, marked.repositories, kept);
  if (!ctx.dryRun) await saveKeptReferences(ctx, marked, cached.size);
  return report(ctx, { started, finished: now() }, marked, planned, kept, linksDeleted);
}

/**
 * Saves the references of the manifests the mark kept for the next run. Only kept ones, so the
 * cache holds the live set and no more; a failure costs the next run its reads, nothing else.
 * When the run read no manifest and kept every cached one, the saved cache is already that.
 */
async function saveKeptReferences(ctx: GcContext, marked: GcMark, cachedCount: number): Promise<void> {
  const kept = [...(await ctx.references.read())].filter(([digest]) => marked.marked.has(digest));
  if (ctx.references.reads === 0 && kept.length === cachedCount) return;
  await saveReferencesCache(ctx.driver, kept).catch((error: unknown) => ctx.warn(`could not save the manifest references for the next run: ${String(error)}`));
}

/** The protect hook's answer, checked: it may keep more than the plan, never delete more. */
function shrinkOnly(planned: GcPlan, answer: GcPlan): GcPlan {
  const blobs = new Set(planned.blobs.map(({ digest }) => digest));
  const manifests = new Set(planned.manifests.map(({ repository, digest }) => `${repository}@${digest}`));
  const added = [
    ...answer.blobs.filter(({ digest }) => !blobs.has(digest)).map(({ digest }) => digest),
    ...answer.manifests.filter(({ repository, digest }) => !manifests.has(`${repository}@${digest}`)).map(({ repository, digest }) => `${repository}@${digest}`),
  ];
  if (added.length > 0) throw new Error(`garbage collection: the protect step added ${added.slice(0, 3).join(", ")}${added.length > 3 ? "…" : ""} to the plan; it may only remove entries`);
  return answer;
}

function report(ctx: GcContext, times: { started: number; finished: number }, marked: GcMark, planned: GcPlan, swept: GcPlan, linksDeleted: LinksDeleted): GcReport {
  const { repositories } = marked;
  const sweptBlobs = new Set(swept.blobs.map(({ digest }) => digest));
  const protectedBlobs = planned.blobs.filter(({ digest }) => !sweptBlobs.has(digest));
  return {
    startedAt: new Date(times.started).toISOString(),
    finishedAt: new Date(times.finished).toISOString(),
    durationMs: times.finished - times.started,
    dryRun: ctx.dryRun,
    deleteUntagged: ctx.deleteUntagged,
    graceMs: ctx.graceMs,
    repositories: repositories.length,
    manifests: repositories.reduce((sum, r) => sum + r.revisions.size, 0),
    manifestsDeleted: swept.manifests,
    blobs: planned.present.size,
    blobsMarked: planned.kept.referenced.blobs,
    blobsInGrace: planned.kept.inGrace.blobs,
    blobsDeleted: swept.blobs,
    bytesFreed: swept.blobs.reduce((sum, blob) => sum + blob.size, 0),
    linksDeleted,
    warnings: ctx.warnings,
    kept: {
      ...planned.kept,
      protected: {
        blobs: protectedBlobs.length,
        bytes: protectedBlobs.reduce((sum, blob) => sum + blob.size, 0),
        manifests: planned.manifests.length - swept.manifests.length,
      },
    },
  };
}
