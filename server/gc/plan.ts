import { layout } from "../registry/layout.js";
import type { Digest } from "../registry/reference.js";
import { chunksOf, compare, deleteChunk, type GcContext } from "./context.js";
import type { GcMark } from "./mark.js";

/**
 * Plan: what goes, judged by the mark and by age. The manifests are the mark's verdict; of the
 * blobs, only the unmarked are stat'ed (size for the report, age for the grace period), a chunk
 * per batch, all chunks asked for at once. A blob directory without `data` (an interrupted
 * write) is not a blob, as in distribution. A blob written after its prefix was listed is never
 * considered, so the plan only ever errs towards keeping.
 *
 * Links are not in the plan: they are judged during the sweep, against the plan and against
 * storage as it is after the revisions are gone, so that a link written back meanwhile stays.
 */
export interface GcPlan {
  /** Manifest revisions to delete, in repository order, digests sorted within one. */
  manifests: { repository: string; digest: string }[];
  /** Unreferenced blobs older than the grace period, in digest order. */
  blobs: { digest: string; size: number }[];
  /** What stays, by reason. */
  kept: GcKept;
  /** Digests of the blobs in storage (with data): the report's count, and what `_layers` links may name. */
  present: Set<string>;
  /** Unreferenced blobs judged (the sweep's progress counts them). */
  judged: number;
}

export interface GcKept {
  /** Blobs something kept references. */
  referenced: { blobs: number };
  /**
   * Unreferenced blobs modified within the grace period, with their bytes, and the untagged
   * manifests `deleteUntagged` keeps for the same reason (with what they reach).
   */
  inGrace: { blobs: number; bytes: number; manifests: number };
}

export async function plan(ctx: GcContext, marked: GcMark, blobs: readonly Digest[]): Promise<GcPlan> {
  const present = new Set<string>();
  const unmarked: Digest[] = [];
  for (const digest of blobs) {
    if (marked.marked.has(digest.value)) present.add(digest.value);
    else unmarked.push(digest);
  }
  const referenced = present.size;
  unmarked.sort((a, b) => compare(a.value, b.value));
  const inGrace = { blobs: 0, bytes: 0, manifests: marked.revisionsInGrace };
  const verdicts = await Promise.all(
    chunksOf(unmarked, deleteChunk).map(async (chunk) => {
      const infos = await ctx.batch.stat(chunk.map((digest) => layout.blobData(digest)));
      return { chunk, infos };
    }),
  );
  const doomed: GcPlan["blobs"] = [];
  // Judged in digest order once every stat is in, so the plan does not depend on their timing.
  for (const { chunk, infos } of verdicts) {
    chunk.forEach((digest, i) => {
      const info = infos[i];
      if (!info) return;
      present.add(digest.value);
      if (ctx.young(info)) {
        inGrace.blobs++;
        inGrace.bytes += info.size;
      } else doomed.push({ digest: digest.value, size: info.size });
    });
  }
  const manifests = marked.repositories.flatMap((r) => [...r.remove].sort(compare).map((digest) => ({ repository: r.name, digest })));
  return { manifests, blobs: doomed, kept: { referenced: { blobs: referenced }, inGrace }, present, judged: unmarked.length };
}
