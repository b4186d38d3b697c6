import { dirname } from "node:path/posix";
import type { Logger } from "../log.js";
import type { RegistryEvents } from "../registry/events.js";
import { layout } from "../registry/layout.js";
import { tryParseDigest, type Digest } from "../registry/reference.js";
import { walkRepositories } from "../registry/repositories.js";
import { batchOf } from "../registry/storage/batch.js";
import type { FileInfo, StorageDriver } from "../registry/storage/driver.js";
import { ManifestReferencesReader, UnreadableManifestError, type ManifestReferences } from "./references.js";
import { listBlobDigests, listDigestDirsMany, listTagsMany, referrersRoot, type TagInfo } from "./scan.js";
import { mapLimit } from "../concurrency.js";

/**
 * Mark and sweep over distribution's storage layout.
 *
 * Mark: every manifest revision of every repository is kept, with everything it references
 * (config, layers, schema1 `fsLayers`, index children recursively). With `deleteUntagged`, only
 * tagged manifests are roots, and the kept set is closed over: index children (never delete the
 * children of a tagged index: distribution #3178), anything a kept manifest references, a kept
 * manifest's subject, and referrers of kept manifests (an untagged artifact lives exactly as long
 * as its subject). Revisions written in the last `graceMs` are roots too.
 *
 * Sweep, in an order that never leaves a served manifest without its content: revision links of
 * deleted manifests first, then unmarked blobs older than `graceMs` and the links left pointing
 * at what is gone (the deleted manifests' tag `index/` history entries, Berth's `_referrers`
 * entries, `_layers` links). History entries of manifests deleted earlier through the API stay,
 * as in distribution: finding them means listing every tag's history, and nothing reads them.
 *
 * Storage is read by listings, not walks, and only the blobs that may go are stat'ed: on the
 * filesystem a walk costs a stat per directory and file, several times the work of the listings.
 * Every read and delete goes in batches of many paths (storage/batch.ts), a level of the layout
 * at a time, which the filesystem driver runs on threads with synchronous calls.
 */
export interface CollectOptions {
  driver: StorageDriver;
  logger?: Logger;
  /** Report what would be deleted; change nothing. */
  dryRun?: boolean;
  /** Also delete manifests no tag reaches (see above for what is never deleted). */
  deleteUntagged?: boolean;
  /** Blobs and revisions modified less than this long ago are never deleted. Default 0. */
  graceMs?: number;
  /** Batches of deletions in flight at once (each a few hundred paths). Default 2. */
  concurrency?: number;
  onProgress?: (progress: GcProgress) => void;
  /** Each deletion (or would-be deletion in a dry run) as it is decided, for live output. */
  onEvent?: (event: GcEvent) => void;
  /** The engine's event bus (`registry.services.events`): a `manifest.delete` per deleted manifest. */
  events?: Pick<RegistryEvents, "emit">;
  /** Called before every deletion; throws to abort the sweep (read-only mode lost, lock lost). */
  checkpoint?: () => void;
  now?: () => number;
}

export interface GcProgress {
  phase: "mark" | "sweep";
  done: number;
  total: number;
}

export type GcEvent =
  | { type: "manifest"; repository: string; digest: string }
  | { type: "blob"; digest: string; size: number }
  | { type: "warning"; message: string };

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
}

interface RepositoryState {
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

/** Repositories read (and swept) per batch: bounds memory and paces the progress events. */
const repositoryChunk = 128;
/** Chunks of repositories read at once. */
const markConcurrency = 3;
/** Paths per batch delete: the checkpoint runs before each. */
const deleteChunk = 256;

export async function collectGarbage(options: CollectOptions): Promise<GcReport> {
  const { driver } = options;
  const batch = batchOf(driver);
  const now = options.now ?? Date.now;
  const started = now();
  const dryRun = options.dryRun ?? false;
  const deleteUntagged = options.deleteUntagged ?? false;
  const graceMs = Math.max(0, options.graceMs ?? 0);
  const graceLimit = started - graceMs;
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    options.logger?.warn(`garbage collection: ${message}`);
    options.onEvent?.({ type: "warning", message });
  };
  const checkpoint = options.checkpoint ?? (() => undefined);
  const references = new ManifestReferencesReader(batch);
  const young = (info: FileInfo | undefined) => info !== undefined && info.modTime.getTime() > graceLimit;
  /** Whether a link object is there (not a directory, not missing), for many paths. */
  const linksPresent = async (paths: string[]) => (await batch.stat(paths)).map((info) => info !== undefined && !info.isDir);

  // Blobs are listed while the mark runs: the listing needs nothing from it. A blob written
  // after its prefix was listed is never considered, so this only ever deletes less.
  const blobListing = listBlobDigests(batch);
  blobListing.catch(() => undefined);

  // ---- mark: decide which revisions stay, per repository -------------------------------------
  const names = await walkRepositories(driver);
  options.onProgress?.({ phase: "mark", done: 0, total: names.length });
  let marked = 0;
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
    if (deleteUntagged) await spareYoungRevisions(states);
    marked += states.length;
    options.onProgress?.({ phase: "mark", done: marked, total: names.length });
    return states;
  };
  // A few chunks at once: each is a chain of batches, and one chunk's tail leaves threads idle.
  const repositories = (await mapLimit(chunksOf(names, repositoryChunk), markConcurrency, readChunk)).flat();

  /**
   * `--delete-untagged` spares the candidates written within the grace period, and what they
   * reach. Only the candidates' links are stat'ed, a batch per chunk of repositories.
   */
  async function spareYoungRevisions(states: RepositoryState[]): Promise<void> {
    const candidates = states.flatMap((state) => [...state.remove].map((digest) => ({ state, digest })));
    const infos = await batch.stat(candidates.map(({ state, digest }) => layout.revisionLink(state.name, parse(digest))));
    const spared = new Map<RepositoryState, string[]>();
    candidates.forEach(({ state, digest }, i) => {
      if (young(infos[i])) spared.set(state, [...(spared.get(state) ?? []), digest]);
    });
    for (const [state, digests] of spared) {
      state.remove = unreachableRevisions(state.revisions, [...state.tagged.keys(), ...digests], state.refs);
    }
  }

  // ---- mark: blobs reachable from what stays, a level of index children at a time --------------
  const markedBlobs = new Set<string>();
  const visited = new Set<string>();
  /** Marks `roots` and everything they reach; `tolerant` marks an unreadable manifest and goes on. */
  const markFrom = async (roots: string[], tolerant: boolean): Promise<void> => {
    let level = roots.filter((digest) => !visited.has(digest));
    for (const digest of level) visited.add(digest);
    while (level.length > 0) {
      await references.load(level);
      const next: string[] = [];
      for (const digest of level) {
        markedBlobs.add(digest);
        let refs: ManifestReferences | undefined;
        try {
          refs = await references.get(digest);
        } catch (error) {
          if (tolerant && error instanceof UnreadableManifestError) continue;
          throw error;
        }
        if (!refs) continue;
        for (const blob of refs.blobs) markedBlobs.add(blob);
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

  // ---- sweep: which blobs go, judged a chunk at a time ------------------------------------------
  // Only unmarked blobs are stat'ed (size for the report, age for the grace period); a blob
  // directory without `data` (an interrupted write) is not a blob, as in distribution. The stats
  // are all asked for now and each chunk is deleted as soon as it is judged: the reads and the
  // deletions (which wait on the disk) overlap.
  const present = new Set<string>();
  let blobsInGrace = 0;
  let blobsMarked = 0;
  const unmarked: Digest[] = [];
  for (const digest of await blobListing) {
    if (markedBlobs.has(digest.value)) {
      present.add(digest.value);
      blobsMarked++;
    } else unmarked.push(digest);
  }
  unmarked.sort((a, b) => compare(a.value, b.value));
  const judge = async (chunk: Digest[]): Promise<{ digest: Digest; size: number }[]> => {
    const infos = await batch.stat(chunk.map((digest) => layout.blobData(digest)));
    const doomedHere: { digest: Digest; size: number }[] = [];
    chunk.forEach((digest, i) => {
      const info = infos[i];
      if (!info) return;
      present.add(digest.value);
      if (young(info)) blobsInGrace++;
      else doomedHere.push({ digest, size: info.size });
    });
    return doomedHere;
  };
  const candidateChunks = chunksOf(unmarked, deleteChunk);
  const verdicts = candidateChunks.map(judge);
  // Every verdict is awaited below; a failure must not surface as unhandled before that.
  for (const verdict of verdicts) verdict.catch(() => undefined);
  /** The blobs that go, once every chunk is judged (the `_layers` sweep needs all of them). */
  const doomedBlobs = Promise.all(verdicts).then((chunks) => chunks.flat());
  doomedBlobs.catch(() => undefined);
  const doomedDigests = doomedBlobs.then((blobs) => new Set(blobs.map(({ digest }) => digest.value)));
  doomedDigests.catch(() => undefined);

  const manifestsDeleted = repositories.flatMap((r) => [...r.remove].sort(compare).map((digest) => ({ repository: r.name, digest })));
  const total = manifestsDeleted.length + unmarked.length + repositories.length;
  let swept = 0;
  const progress = (done: number) => {
    swept += done;
    options.onProgress?.({ phase: "sweep", done: swept, total });
  };
  options.onProgress?.({ phase: "sweep", done: 0, total });

  /** Deletes `paths` a chunk at a time, `concurrency` chunks at once, each after the checkpoint. */
  const removeAll = async <T>(items: T[], pathOf: (item: T) => string, announce: (items: T[]) => void, done: (items: T[]) => void = () => undefined) => {
    await mapLimit(chunksOf(items, deleteChunk), concurrency, async (chunk) => {
      announce(chunk);
      if (!dryRun) {
        checkpoint();
        await batch.delete(chunk.map(pathOf));
        done(chunk);
      }
    });
  };

  // ---- sweep: revision links first, so nothing served ever lacks its content -------------------
  await removeAll(
    manifestsDeleted,
    ({ repository, digest }) => layout.revisionDir(repository, parse(digest)),
    (chunk) => {
      for (const { repository, digest } of chunk) options.onEvent?.({ type: "manifest", repository, digest });
      if (dryRun) progress(chunk.length);
    },
    (chunk) => {
      for (const { repository, digest } of chunk) options.events?.emit({ type: "manifest.delete", repository, digest });
      progress(chunk.length);
    },
  );

  // ---- sweep: blobs, and the links pointing at what is gone, side by side ----------------------
  // Neither needs the other done first: a `_layers` link to a blob is stale whether or not the
  // blob is already gone, and removing it first never makes a served blob unreachable.
  const sweepBlobs = mapLimit(verdicts, concurrency, async (verdict, i) => {
    const chunk = await verdict;
    for (const { digest, size } of chunk) options.onEvent?.({ type: "blob", digest: digest.value, size });
    if (!dryRun && chunk.length > 0) {
      checkpoint();
      await batch.delete(chunk.map(({ digest }) => layout.blobDir(digest)));
    }
    progress((candidateChunks[i] as Digest[]).length);
  });
  // Handled at once, so a failure of one sweep is thrown by the await below, not left unhandled.
  sweepBlobs.catch(() => undefined);

  const linksDeleted = { tagHistory: 0, referrers: 0, layers: 0 };
  const removeLinks = (paths: string[]) => removeAll(paths, (path) => path, () => undefined);

  /** Stale links of a chunk of repositories; the three kinds are independent, swept side by side. */
  const sweepLinksOf = async (chunk: RepositoryState[]): Promise<void> => {
    const live = (repository: RepositoryState, digest: Digest): boolean => repository.revisions.has(digest.value) && !repository.remove.has(digest.value);
    /** Whether each revision is gone: not live, and (a write racing an offline GC) no link written since the mark. */
    const gone = async (items: { repository: RepositoryState; digest: Digest }[]): Promise<boolean[]> => {
      const unknown = items.filter(({ repository, digest }) => !live(repository, digest));
      const linked = dryRun ? [] : await linksPresent(unknown.map(({ repository, digest }) => layout.revisionLink(repository.name, digest)));
      const answers = new Map(unknown.map((item, i) => [item, !linked[i]]));
      return items.map((item) => answers.get(item) ?? false);
    };

    await Promise.all([
      // The history entries of the manifests this run deletes, by path, in every tag as the mark
      // read them (like distribution's RemoveManifest): no listing of every tag's history. Tags
      // created after the mark keep theirs: the sweep only ever removes less.
      (async () => {
        const deletedItems = chunk.flatMap((repository) => [...repository.remove].map((value) => ({ repository, digest: parse(value) })));
        const isGone = await gone(deletedItems);
        const entries = deletedItems
          .filter((_, i) => isGone[i])
          .flatMap(({ repository, digest }) =>
            repository.tags.filter((tag) => tag.current?.value !== digest.value).map((tag) => dirname(layout.tagIndexLink(repository.name, tag.tag, digest))),
          );
        const there = (await batch.stat(entries)).map((info) => info !== undefined);
        const existing = entries.filter((_, i) => there[i]);
        await removeLinks(existing);
        linksDeleted.tagHistory += existing.length;
      })(),
      (async () => {
        const subjectMaps = await listDigestDirsMany(batch, chunk.map((repository) => referrersRoot(repository.name)));
        const subjects = chunk.flatMap((repository, i) => [...(subjectMaps[i] as Map<string, Digest>).values()].map((subject) => ({ repository, subject })));
        const entryMaps = await listDigestDirsMany(
          batch,
          subjects.map(({ repository, subject }) => layout.referrersDir(repository.name, subject)),
        );
        const items = subjects.flatMap((entry, i) => [...(entryMaps[i] as Map<string, Digest>).values()].map((digest) => ({ entry, repository: entry.repository, digest })));
        const isGone = await gone(items);
        const doomedEntries = items.filter((_, i) => isGone[i]);
        const paths = doomedEntries.map(({ entry, digest }) => layout.referrerDir(entry.repository.name, entry.subject, digest));
        // A subject none of whose referrers is left goes as a whole.
        const left = new Map(subjects.map((entry, i) => [entry, (entryMaps[i] as Map<string, Digest>).size]));
        for (const { entry } of doomedEntries) left.set(entry, (left.get(entry) ?? 0) - 1);
        for (const [{ repository, subject }, count] of left) if (count === 0) paths.push(layout.referrersDir(repository.name, subject));
        await removeLinks(paths);
        linksDeleted.referrers += doomedEntries.length;
      })(),
      // A link to a blob that is not there at all is stale unless it is young: a push in progress
      // writes the link when the blob lands, so only those few links need their age read.
      (async () => {
        const [layerMaps, doomedSet] = await Promise.all([
          listDigestDirsMany(batch, chunk.map((repository) => layout.layersDir(repository.name))),
          doomedDigests,
        ]);
        const stale: { name: string; digest: Digest }[] = [];
        const unknown: { name: string; digest: Digest }[] = [];
        chunk.forEach((repository, i) => {
          for (const digest of (layerMaps[i] as Map<string, Digest>).values()) {
            if (doomedSet.has(digest.value)) stale.push({ name: repository.name, digest });
            else if (!present.has(digest.value)) unknown.push({ name: repository.name, digest });
          }
        });
        const ages = await batch.stat(unknown.map(({ name, digest }) => layout.layerLink(name, digest)));
        stale.push(...unknown.filter((_, i) => !young(ages[i])));
        await removeLinks(stale.map(({ name, digest }) => layout.layerDir(name, digest)));
        linksDeleted.layers += stale.length;
      })(),
    ]);
    progress(chunk.length);
  };
  const sweepLinks = mapLimit(chunksOf(repositories, repositoryChunk), 1, sweepLinksOf);
  await Promise.all([sweepBlobs, sweepLinks]);
  const doomed = await doomedBlobs;

  const finished = now();
  return {
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    durationMs: finished - started,
    dryRun,
    deleteUntagged,
    graceMs,
    repositories: repositories.length,
    manifests: repositories.reduce((sum, r) => sum + r.revisions.size, 0),
    manifestsDeleted,
    blobs: present.size,
    blobsMarked,
    blobsInGrace,
    blobsDeleted: doomed.map(({ digest, size }) => ({ digest: digest.value, size })),
    bytesFreed: doomed.reduce((sum, blob) => sum + blob.size, 0),
    linksDeleted,
    warnings,
  };
}

/**
 * Revisions of one repository not reachable from `roots` through child, reference, subject and
 * referrer edges.
 */
function unreachableRevisions(
  revisions: Map<string, Digest>,
  roots: Iterable<string>,
  refs: Map<string, ManifestReferences | undefined>,
): Set<string> {
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


function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}

function parse(digest: string): Digest {
  const parsed = tryParseDigest(digest);
  if (!parsed) throw new Error(`not a digest: ${digest}`);
  return parsed;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
