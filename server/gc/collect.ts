import { dirname } from "node:path/posix";
import type { Logger } from "../log.js";
import type { RegistryEvents } from "../registry/events.js";
import { layout } from "../registry/layout.js";
import { tryParseDigest, type Digest } from "../registry/reference.js";
import { walkRepositories } from "../registry/repositories.js";
import { ignoreNotFound, isNotFound, objectExists, type StorageDriver } from "../registry/storage/driver.js";
import { manifestReferencesReader, UnreadableManifestError, type ManifestReferences } from "./references.js";
import {
  baseName,
  digestOf,
  listBlobDigests,
  listDigestDirs,
  listOrEmpty,
  listTags,
  modTimeOf,
  statIfPresent,
  referrersRoot,
  type TagInfo,
} from "./scan.js";
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
  /** Storage calls in flight at once. Default 8. */
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
  /** Revisions to delete (digest values). */
  remove: Set<string>;
}

export async function collectGarbage(options: CollectOptions): Promise<GcReport> {
  const { driver } = options;
  const now = options.now ?? Date.now;
  const started = now();
  const dryRun = options.dryRun ?? false;
  const deleteUntagged = options.deleteUntagged ?? false;
  const graceMs = Math.max(0, options.graceMs ?? 0);
  const graceLimit = started - graceMs;
  const concurrency = Math.max(1, options.concurrency ?? 16);
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    options.logger?.warn(`garbage collection: ${message}`);
    options.onEvent?.({ type: "warning", message });
  };
  const checkpoint = options.checkpoint ?? (() => undefined);

  const referencesOf = manifestReferencesReader(driver);

  /**
   * The revisions `--delete-untagged` removes: those no tag reaches, unless they or a revision
   * reaching them were written within the grace period. Only the candidates' links are stat'ed.
   */
  const untaggedRevisions = async (
    name: string,
    revisions: Map<string, Digest>,
    tagged: Map<string, Digest>,
    refs: Map<string, ManifestReferences | undefined>,
  ): Promise<Set<string>> => {
    const candidates = unreachableRevisions(revisions, tagged.keys(), refs);
    const young: string[] = [];
    await mapLimit([...candidates], concurrency, async (digest) => {
      const modTime = await modTimeOf(driver, layout.revisionLink(name, parse(digest)));
      if (modTime && modTime.getTime() > graceLimit) young.push(digest);
    });
    return young.length === 0 ? candidates : unreachableRevisions(revisions, [...tagged.keys(), ...young], refs);
  };

  // ---- mark: decide which revisions stay, per repository -------------------------------------
  const names = await walkRepositories(driver);
  let marked = 0;
  options.onProgress?.({ phase: "mark", done: 0, total: names.length });
  const repositories = await mapLimit(names, concurrency, async (name): Promise<RepositoryState> => {
    const revisions = await listDigestDirs(driver, layout.revisionsDir(name));
    const tagged = new Map<string, Digest>();
    const tags = await listTags(driver, name);
    for (const tag of tags) {
      if (!tag.current) {
        warn(`${name}: tag ${tag.tag} has no readable current link`);
        continue;
      }
      tagged.set(tag.current.value, tag.current);
      if (!revisions.has(tag.current.value)) warn(`${name}: tag ${tag.tag} points at ${tag.current.value}, which is not in the repository`);
    }
    const refs = new Map<string, ManifestReferences | undefined>();
    await mapLimit([...revisions.keys()], concurrency, async (digest) => {
      const found = await referencesOf(digest).catch((error: unknown) => {
        if (error instanceof UnreadableManifestError) throw new UnreadableManifestError(error.digest, error.reason, name);
        throw error;
      });
      if (!found) warn(`${name}: manifest ${digest} has a revision link but its content is missing`);
      refs.set(digest, found);
    });
    const remove = deleteUntagged ? await untaggedRevisions(name, revisions, tagged, refs) : new Set<string>();
    options.onProgress?.({ phase: "mark", done: ++marked, total: names.length });
    return { name, revisions, tagged, tags, remove };
  });

  // ---- mark: blobs reachable from what stays --------------------------------------------------
  const markedBlobs = new Set<string>();
  const visited = new Set<string>();
  const markManifest = async (digest: string): Promise<void> => {
    if (visited.has(digest)) return;
    visited.add(digest);
    markedBlobs.add(digest);
    const refs = await referencesOf(digest);
    if (!refs) return;
    for (const blob of refs.blobs) markedBlobs.add(blob);
    await Promise.all(refs.manifests.map(markManifest));
  };
  for (const repository of repositories) {
    const roots = [...repository.revisions.keys()].filter((digest) => !repository.remove.has(digest));
    await mapLimit(roots, concurrency, markManifest);
    // A tag naming a digest without a revision is broken, but its content is not ours to judge.
    for (const digest of repository.tagged.keys()) {
      if (repository.revisions.has(digest)) continue;
      await markManifest(digest).catch((error: unknown) => {
        if (!(error instanceof UnreadableManifestError)) throw error;
        markedBlobs.add(digest);
      });
    }
  }

  // ---- sweep: enumerate blobs -----------------------------------------------------------------
  // Only unmarked blobs are stat'ed (size for the report, age for the grace period); a blob
  // directory without `data` (an interrupted write) is not a blob, as in distribution.
  const present = new Set<string>();
  const doomed: { digest: Digest; size: number }[] = [];
  let blobsInGrace = 0;
  let blobsMarked = 0;
  const unmarked: Digest[] = [];
  for (const digest of await listBlobDigests(driver, concurrency)) {
    if (markedBlobs.has(digest.value)) {
      present.add(digest.value);
      blobsMarked++;
    } else unmarked.push(digest);
  }
  await mapLimit(unmarked, concurrency, async (digest) => {
    const info = await statIfPresent(driver, layout.blobData(digest));
    if (!info) return;
    present.add(digest.value);
    if (info.modTime.getTime() > graceLimit) blobsInGrace++;
    else doomed.push({ digest, size: info.size });
  });
  doomed.sort((a, b) => compare(a.digest.value, b.digest.value));
  const doomedSet = new Set(doomed.map((blob) => blob.digest.value));

  const manifestsDeleted = repositories.flatMap((r) => [...r.remove].sort(compare).map((digest) => ({ repository: r.name, digest })));
  const total = manifestsDeleted.length + doomed.length + repositories.length;
  let swept = 0;
  const progress = () => options.onProgress?.({ phase: "sweep", done: ++swept, total });
  options.onProgress?.({ phase: "sweep", done: 0, total });

  // ---- sweep: revision links first, so nothing served ever lacks its content -------------------
  await mapLimit(manifestsDeleted, concurrency, async ({ repository, digest }) => {
    options.onEvent?.({ type: "manifest", repository, digest });
    if (!dryRun) {
      checkpoint();
      await driver.delete(layout.revisionDir(repository, parse(digest))).catch(ignoreNotFound);
      options.events?.emit({ type: "manifest.delete", repository, digest });
    }
    progress();
  });

  const linksDeleted = { tagHistory: 0, referrers: 0, layers: 0 };
  const remove = async (path: string) => {
    if (dryRun) return;
    checkpoint();
    await driver.delete(path).catch(ignoreNotFound);
  };
  /** Deletes what may not exist; true when something was (or, in a dry run, would be) deleted. */
  const removeIfPresent = async (path: string): Promise<boolean> => {
    if (dryRun) return (await statIfPresent(driver, path)) !== undefined;
    checkpoint();
    try {
      await driver.delete(path);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  };
  // ---- sweep: blobs, and the links pointing at what is gone, side by side ----------------------
  // Neither needs the other done first: a `_layers` link to a blob is stale whether or not the
  // blob is already gone, and removing it first never makes a served blob unreachable.
  const sweepBlobs = mapLimit(doomed, concurrency, async ({ digest, size }) => {
    options.onEvent?.({ type: "blob", digest: digest.value, size });
    if (!dryRun) {
      checkpoint();
      await driver.delete(layout.blobDir(digest)).catch(ignoreNotFound);
    }
    progress();
  });
  // Handled at once, so a failure of one sweep is thrown by the await below, not left unhandled.
  sweepBlobs.catch(() => undefined);
  const sweepLinks = mapLimit(repositories, concurrency, async (repository) => {
    const { name } = repository;
    const live = (digest: Digest): boolean => repository.revisions.has(digest.value) && !repository.remove.has(digest.value);
    // A revision written after the mark (a write racing an offline GC) must keep its links.
    const gone = async (digest: Digest): Promise<boolean> => !live(digest) && (dryRun || !(await objectExists(driver, layout.revisionLink(name, digest))));

    // The three kinds of links are independent: swept side by side, as each is a chain of
    // small listings whose latency, not throughput, bounds the sweep.
    await Promise.all([
      // The history entries of the manifests this run deletes, by path, in every tag as the mark
      // read them (like distribution's RemoveManifest): no listing of every tag's history. Tags
      // created after the mark keep theirs: the sweep only ever removes less.
      (async () => {
        const deleted: Digest[] = [];
        for (const value of repository.remove) {
          const digest = parse(value);
          if (await gone(digest)) deleted.push(digest);
        }
        const entries = repository.tags.flatMap((tag) =>
          deleted.filter((digest) => digest.value !== tag.current?.value).map((digest) => dirname(layout.tagIndexLink(name, tag.tag, digest))),
        );
        await mapLimit(entries, 4, async (entry) => {
          if (await removeIfPresent(entry)) linksDeleted.tagHistory++;
        });
      })(),
      (async () => {
        for (const algorithmDir of await listOrEmpty(driver, referrersRoot(name))) {
          for (const subjectDir of await listOrEmpty(driver, algorithmDir)) {
            const subject = digestOf(baseName(algorithmDir), baseName(subjectDir));
            if (!subject) continue;
            const entries = await listDigestDirs(driver, layout.referrersDir(name, subject));
            let left = entries.size;
            for (const digest of entries.values()) {
              if (!(await gone(digest))) continue;
              await remove(layout.referrerDir(name, subject, digest));
              linksDeleted.referrers++;
              left--;
            }
            if (left === 0 && entries.size > 0) await remove(layout.referrersDir(name, subject));
          }
        }
      })(),
      // A link to a blob that is not there at all is stale unless it is young: a push in progress
      // writes the link when the blob lands, so only those few links need their age read.
      (async () => {
        const layers = await listDigestDirs(driver, layout.layersDir(name));
        await mapLimit([...layers.values()], 4, async (digest) => {
          if (present.has(digest.value) && !doomedSet.has(digest.value)) return;
          if (!doomedSet.has(digest.value) && ((await modTimeOf(driver, layout.layerLink(name, digest)))?.getTime() ?? 0) > graceLimit) return;
          await remove(layout.layerDir(name, digest));
          linksDeleted.layers++;
        });
      })(),
    ]);
    progress();
  });
  await Promise.all([sweepBlobs, sweepLinks]);

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


function parse(digest: string): Digest {
  const parsed = tryParseDigest(digest);
  if (!parsed) throw new Error(`not a digest: ${digest}`);
  return parsed;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
