import pLimit from "p-limit";
import { layout } from "../registry/layout.js";
import type { Digest } from "../registry/reference.js";
import { walkRepositories } from "../registry/repositories.js";
import { chunksOf, parseDigestValue, repositoryChunk, type GcContext } from "./context.js";
import { UnreadableManifestError, type ManifestReferences } from "./references.js";
import { listDigestDirsMany, listTagsMany, type TagInfo } from "./scan.js";

/**
 * Mark: what stays. Every manifest revision of every repository is kept, with everything it
 * references (config, layers, schema1 `fsLayers`, index children recursively). With
 * `deleteUntagged`, only tagged manifests are roots, and the kept set is closed over: index
 * children (never delete the children of a tagged index: distribution #3178), anything a kept
 * manifest references, a kept manifest's subject, and referrers of kept manifests (an untagged
 * artifact lives exactly as long as its subject). Revisions written in the last `graceMs` are
 * roots too.
 */

export interface RepositoryState {
  name: string;
  revisions: Map<string, Digest>;
  /** Digests tag `current` links name (may include digests without a revision: broken tags). */
  tagged: Map<string, Digest>;
  /** The tags as the mark read them, reused by the sweep of tag history. */
  tags: TagInfo[];
  /** Each revision's references (undefined: content missing). */
  refs: Map<string, ManifestReferences | undefined>;
  /** Revisions to delete (digest values). */
  remove: Set<string>;
}

export interface GcMark {
  repositories: RepositoryState[];
  /** Digests of every blob (manifests included) something kept references. */
  marked: Set<string>;
  /** Revisions `deleteUntagged` would have deleted but the grace period keeps (with what they reach). */
  revisionsInGrace: number;
}

/** Chunks of repositories read at once. */
const markConcurrency = 3;

export async function mark(ctx: GcContext): Promise<GcMark> {
  const { batch, references, warn, deleteUntagged } = ctx;
  const onProgress = ctx.options.onProgress;
  const names = await walkRepositories(ctx.driver);
  onProgress?.({ phase: "mark", done: 0, total: names.length });
  let marked = 0;
  let revisionsInGrace = 0;
  /** Reads a chunk of repositories: revisions, tags, manifests, what `--delete-untagged` removes. */
  const readChunk = async (chunk: string[]): Promise<RepositoryState[]> => {
    const [revisionMaps, tagLists] = await Promise.all([
      listDigestDirsMany(batch, chunk.map((name) => layout.revisionsDir(name))),
      listTagsMany(batch, chunk),
    ]);
    await references.load(revisionMaps.flatMap((revisions) => [...revisions.keys()]));
    const states = await Promise.all(
      chunk.map(async (name, i): Promise<RepositoryState> => {
        const revisions = revisionMaps[i] as Map<string, Digest>;
        const tags = tagLists[i] as TagInfo[];
        const tagged = new Map<string, Digest>();
        for (const tag of tags) {
          if (!tag.current) {
            warn(`${name}: tag ${tag.tag} has no readable current link`);
            continue;
          }
          tagged.set(tag.current.value, tag.current);
          if (!revisions.has(tag.current.value)) warn(`${name}: tag ${tag.tag} points at ${tag.current.value}, which is not in the repository`);
        }
        const refs = new Map<string, ManifestReferences | undefined>();
        for (const digest of revisions.keys()) {
          const found = await references.get(digest).catch((error: unknown) => {
            if (error instanceof UnreadableManifestError) throw new UnreadableManifestError(error.digest, error.reason, name);
            throw error;
          });
          if (!found) warn(`${name}: manifest ${digest} has a revision link but its content is missing`);
          refs.set(digest, found);
        }
        const remove = deleteUntagged ? unreachableRevisions(revisions, tagged.keys(), refs) : new Set<string>();
        return { name, revisions, tagged, tags, refs, remove };
      }),
    );
    if (deleteUntagged) revisionsInGrace += await spareYoungRevisions(ctx, states);
    marked += states.length;
    onProgress?.({ phase: "mark", done: marked, total: names.length });
    return states;
  };
  // A few chunks at once: each is a chain of batches, and one chunk's tail leaves threads idle.
  const repositories = (await pLimit(markConcurrency).map(chunksOf(names, repositoryChunk), readChunk)).flat();
  return { repositories, marked: await markBlobs(ctx, repositories), revisionsInGrace };
}

/**
 * `--delete-untagged` spares the candidates written within the grace period, and what they
 * reach. Only the candidates' links are stat'ed, a batch per chunk of repositories. Returns how
 * many revisions that spared.
 */
async function spareYoungRevisions(ctx: GcContext, states: RepositoryState[]): Promise<number> {
  const candidates = states.flatMap((state) => [...state.remove].map((digest) => ({ state, digest })));
  const infos = await ctx.batch.stat(candidates.map(({ state, digest }) => layout.revisionLink(state.name, parseDigestValue(digest))));
  const spared = new Map<RepositoryState, string[]>();
  candidates.forEach(({ state, digest }, i) => {
    if (ctx.young(infos[i])) spared.set(state, [...(spared.get(state) ?? []), digest]);
  });
  let count = 0;
  for (const [state, digests] of spared) {
    const before = state.remove.size;
    state.remove = unreachableRevisions(state.revisions, [...state.tagged.keys(), ...digests], state.refs);
    count += before - state.remove.size;
  }
  return count;
}

/** Blobs reachable from what stays, a level of index children at a time. */
async function markBlobs(ctx: GcContext, repositories: RepositoryState[]): Promise<Set<string>> {
  const { references } = ctx;
  const marked = new Set<string>();
  const visited = new Set<string>();
  /** Marks `roots` and everything they reach; `tolerant` marks an unreadable manifest and goes on. */
  const markFrom = async (roots: string[], tolerant: boolean): Promise<void> => {
    let level = roots.filter((digest) => !visited.has(digest));
    for (const digest of level) visited.add(digest);
    while (level.length > 0) {
      await references.load(level);
      const next: string[] = [];
      for (const digest of level) {
        marked.add(digest);
        let refs: ManifestReferences | undefined;
        try {
          refs = await references.get(digest);
        } catch (error) {
          if (tolerant && error instanceof UnreadableManifestError) continue;
          throw error;
        }
        if (!refs) continue;
        for (const blob of refs.blobs) marked.add(blob);
        for (const child of refs.manifests) {
          if (visited.has(child)) continue;
          visited.add(child);
          next.push(child);
        }
      }
      level = next;
    }
  };
  await markFrom(
    repositories.flatMap((r) => [...r.revisions.keys()].filter((digest) => !r.remove.has(digest))),
    false,
  );
  // A tag naming a digest without a revision is broken, but its content is not ours to judge.
  await markFrom(
    repositories.flatMap((r) => [...r.tagged.keys()].filter((digest) => !r.revisions.has(digest))),
    true,
  );
  return marked;
}

/**
 * Revisions of one repository not reachable from `roots` through child, reference, subject and
 * referrer edges.
 */
function unreachableRevisions(revisions: Map<string, Digest>, roots: Iterable<string>, refs: Map<string, ManifestReferences | undefined>): Set<string> {
  const referrers = new Map<string, string[]>();
  for (const [digest, found] of refs) {
    if (!found?.subject) continue;
    const list = referrers.get(found.subject) ?? [];
    list.push(digest);
    referrers.set(found.subject, list);
  }
  const keep = new Set<string>();
  const queue: string[] = [];
  const visit = (digest: string) => {
    if (!revisions.has(digest) || keep.has(digest)) return;
    keep.add(digest);
    queue.push(digest);
  };
  for (const digest of roots) visit(digest);
  while (queue.length > 0) {
    const digest = queue.pop() as string;
    const found = refs.get(digest);
    if (found) {
      for (const child of found.manifests) visit(child);
      for (const blob of found.blobs) visit(blob);
      if (found.subject) visit(found.subject);
    }
    for (const referrer of referrers.get(digest) ?? []) visit(referrer);
  }
  return new Set([...revisions.keys()].filter((digest) => !keep.has(digest)));
}
