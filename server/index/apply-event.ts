import type { Logger } from "../log.js";
import type { RegistryEvent } from "../registry/events.js";
import { layout } from "../registry/layout.js";
import { parseDigest } from "../registry/reference.js";
import { isNotFound, type StorageDriver } from "../registry/storage/driver.js";
import { isMissingOrInvalid, type ManifestDescriber } from "./describe.js";
import type { ActivityInput, IndexStore } from "./store.js";
import type { ManifestRecord } from "./types.js";

export interface QueuedEvent {
  event: RegistryEvent;
  time: number;
}

/** What applying an event needs of the index. */
export interface EventTarget {
  /** Reads through the engine's own stores (with their manifest cache). */
  describer: ManifestDescriber;
  driver: StorageDriver;
  logger: Logger;
  /** Activity rows kept. */
  activityLimit: number;
  transaction<T>(fn: (tx: IndexStore) => Promise<T>): Promise<T>;
}

/** Brings the index's rows for the event's repository up to date, and records the activity. */
export async function applyEvent(target: EventTarget, { event, time }: QueuedEvent): Promise<void> {
  const repository = event.repository;
  if (event.type === "manifest.put") {
    const activity: ActivityInput = {
      time,
      type: "push",
      repository,
      tag: event.tag,
      digest: event.digest,
      mediaType: event.mediaType,
      size: event.size,
    };
    let record: ManifestRecord;
    let tagPushed: number | undefined;
    try {
      const digest = parseDigest(event.digest);
      const [facts, pushed] = await Promise.all([target.describer.describe(repository, event.digest), mtime(target.driver, layout.revisionLink(repository, digest))]);
      record = { ...facts, pushed };
      if (event.tag) tagPushed = await mtime(target.driver, layout.tagCurrentLink(repository, event.tag)).catch(ignoreMissing);
    } catch (error) {
      if (!isMissingOrInvalid(error)) throw error;
      // Deleted again before the update ran: the delete's own event follows.
      target.logger.debug("pushed manifest gone before it was indexed", { repository, digest: event.digest });
      await target.transaction((tx) => tx.addActivity(activity, target.activityLimit));
      return;
    }
    await target.transaction(async (tx) => {
      const id = await tx.ensureRepository(repository, null);
      await tx.putManifest(id, record);
      if (event.tag && tagPushed !== undefined) await tx.setTag(id, event.tag, event.digest, tagPushed);
      await tx.refreshRepository(id);
      await tx.addActivity(activity, target.activityLimit);
    });
    return;
  }
  // A repository is a directory holding `_manifests`; on drivers without real directories
  // (S3, in-memory) deleting its last manifest removes it from storage, and from the catalog.
  const gone = event.type === "manifest.delete" && !(await exists(target.driver, layout.manifestsDir(repository)));
  await target.transaction(async (tx) => {
    const id = await tx.repositoryId(repository);
    if (id !== undefined) {
      if (event.type === "tag.delete") await tx.deleteTag(id, event.tag);
      else await tx.deleteManifest(id, event.digest);
      if (gone) {
        await tx.deleteRepository(id);
      } else {
        await tx.refreshRepository(id);
        await tx.touch(id);
      }
    }
    await tx.addActivity(
      event.type === "tag.delete"
        ? { time, type: "tag-delete", repository, tag: event.tag }
        : { time, type: "manifest-delete", repository, digest: event.digest },
      target.activityLimit,
    );
  });
}

async function exists(driver: StorageDriver, path: string): Promise<boolean> {
  try {
    await driver.stat(path);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

async function mtime(driver: StorageDriver, path: string): Promise<number> {
  return (await driver.stat(path)).modTime.getTime();
}

function ignoreMissing(error: unknown): undefined {
  if (isNotFound(error)) return undefined;
  throw error;
}
