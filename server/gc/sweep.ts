import { dirname } from "node:path/posix";
import pLimit from "p-limit";
import { layout } from "../registry/layout.js";
import type { Digest } from "../registry/reference.js";
import { chunksOf, deleteChunk, parseDigestValue, repositoryChunk, type GcContext } from "./context.js";
import type { RepositoryState } from "./mark.js";
import type { GcPlan } from "./plan.js";
import { listDigestDirsMany, referrersRoot } from "./scan.js";

/**
 * Sweep: deletes what the plan names, in an order that never leaves a served manifest without
 * its content: revision links of deleted manifests first, then the blobs and the links left
 * pointing at what is gone (the deleted manifests' tag `index/` history entries, Berth's
 * `_referrers` entries, `_layers` links), side by side. History entries of manifests deleted
 * earlier through the API stay, as in distribution: finding them means listing every tag's
 * history, and nothing reads them. The checkpoint runs before every batch of deletions.
 */

export interface LinksDeleted {
  tagHistory: number;
  referrers: number;
  layers: number;
}

export async function sweep(ctx: GcContext, repositories: RepositoryState[], planned: GcPlan): Promise<LinksDeleted> {
  const { batch, dryRun, checkpoint } = ctx;
  const { onProgress, onEvent, events } = ctx.options;
  // The plan, not the mark, says which revisions go: the protect step may have kept some.
  const removed = new Map<string, Set<string>>();
  for (const { repository, digest } of planned.manifests) removed.set(repository, (removed.get(repository) ?? new Set()).add(digest));
  const removedFrom = (repository: RepositoryState) => removed.get(repository.name) ?? new Set<string>();
  const doomedBlobs = new Set(planned.blobs.map(({ digest }) => digest));

  const total = planned.manifests.length + planned.judged + repositories.length;
  let swept = 0;
  const progress = (done: number) => {
    swept += done;
    onProgress?.({ phase: "sweep", done: swept, total });
  };
  onProgress?.({ phase: "sweep", done: 0, total });

  /** Deletes `items` a chunk at a time, `concurrency` chunks at once, each after the checkpoint. */
  const removeAll = async <T>(items: T[], pathOf: (item: T) => string, announce: (items: T[]) => void, done: (items: T[]) => void = () => undefined) => {
    await pLimit(ctx.concurrency).map(chunksOf(items, deleteChunk), async (chunk) => {
      announce(chunk);
      if (!dryRun) {
        checkpoint();
        await batch.delete(chunk.map(pathOf));
        done(chunk);
      }
    });
  };

  // Revision links first, so nothing served ever lacks its content.
  await removeAll(
    planned.manifests,
    ({ repository, digest }) => layout.revisionDir(repository, parseDigestValue(digest)),
    (chunk) => {
      for (const { repository, digest } of chunk) onEvent?.({ type: "manifest", repository, digest });
      if (dryRun) progress(chunk.length);
    },
    (chunk) => {
      for (const { repository, digest } of chunk) events?.emit({ type: "manifest.delete", repository, digest });
      progress(chunk.length);
    },
  );

  // Blobs, and the links pointing at what is gone, side by side. Neither needs the other done
  // first: a `_layers` link to a blob is stale whether or not the blob is already gone, and
  // removing it first never makes a served blob unreachable.
  const sweepBlobs = (async () => {
    await removeAll(
      planned.blobs,
      ({ digest }) => layout.blobDir(parseDigestValue(digest)),
      (chunk) => {
        for (const { digest, size } of chunk) onEvent?.({ type: "blob", digest, size });
        if (dryRun) progress(chunk.length);
      },
      (chunk) => progress(chunk.length),
    );
    // The judged blobs that stay are done too.
    progress(planned.judged - planned.blobs.length);
  })();
  // Handled at once, so a failure of one sweep is thrown by the await below, not left unhandled.
  sweepBlobs.catch(() => undefined);

  const linksDeleted: LinksDeleted = { tagHistory: 0, referrers: 0, layers: 0 };
  const removeLinks = (paths: string[]) => removeAll(paths, (path) => path, () => undefined);
  /** Whether a link object is there (not a directory, not missing), for many paths. */
  const linksPresent = async (paths: string[]) => (await batch.stat(paths)).map((info) => info !== undefined && !info.isDir);

  /** Stale links of a chunk of repositories; the three kinds are independent, swept side by side. */
  const sweepLinksOf = async (chunk: RepositoryState[]): Promise<void> => {
    const live = (repository: RepositoryState, digest: Digest): boolean => repository.revisions.has(digest.value) && !removedFrom(repository).has(digest.value);
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
        const deletedItems = chunk.flatMap((repository) => [...removedFrom(repository)].map((value) => ({ repository, digest: parseDigestValue(value) })));
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
      // writes the link when the blob lands, so only those few links need their age read (and,
      // online, those to doomed blobs: a push may have stored one again).
      (async () => {
        const layerMaps = await listDigestDirsMany(batch, chunk.map((repository) => layout.layersDir(repository.name)));
        const stale: { name: string; digest: Digest }[] = [];
        const unknown: { name: string; digest: Digest }[] = [];
        chunk.forEach((repository, i) => {
          for (const digest of (layerMaps[i] as Map<string, Digest>).values()) {
            if (doomedBlobs.has(digest.value)) (ctx.options.online ? unknown : stale).push({ name: repository.name, digest });
            else if (!planned.present.has(digest.value)) unknown.push({ name: repository.name, digest });
          }
        });
        const ages = await batch.stat(unknown.map(({ name, digest }) => layout.layerLink(name, digest)));
        stale.push(...unknown.filter((_, i) => !ctx.young(ages[i])));
        await removeLinks(stale.map(({ name, digest }) => layout.layerDir(name, digest)));
        linksDeleted.layers += stale.length;
      })(),
    ]);
    progress(chunk.length);
  };
  const sweepLinks = pLimit(1).map(chunksOf(repositories, repositoryChunk), sweepLinksOf);
  await Promise.all([sweepBlobs, sweepLinks]);
  return linksDeleted;
}
