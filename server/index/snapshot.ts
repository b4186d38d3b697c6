import type { LimitFunction } from "p-limit";
import type { Services } from "../registry/http/context.js";
import { layout } from "../registry/layout.js";
import { parseManifest } from "../registry/media-types.js";
import { digestFromParts, parseDigest, type Digest } from "../registry/reference.js";
import { isNotFound, type StorageDriver } from "../registry/storage/driver.js";
import { isMissingOrInvalid, readConfig, type DescribeSource, type ManifestDescriber } from "./describe.js";
import type { ManifestRecord, RepositorySnapshot, TagRecord } from "./types.js";

// What a rebuild reads of one repository from storage.

export interface SnapshotSource {
  driver: StorageDriver;
  services: Services;
}

/** Rebuild reads bypass the engine's manifest cache, so serving keeps its hot entries. */
export function uncachedSource(services: Services): DescribeSource {
  return {
    manifest: async (_repository, digest) => {
      const content = await services.blobs.getContent(parseDigest(digest));
      return { content, parsed: parseManifest(content, undefined, { stored: true }) };
    },
    config: (digest) => readConfig(services.blobs, digest),
  };
}

/**
 * The repository's manifests (with their push times) and the tags that name one of them;
 * `skipped` counts revisions whose manifest is missing or invalid.
 */
export async function readRepositorySnapshot(
  { driver, services }: SnapshotSource,
  name: string,
  describer: ManifestDescriber,
  limit: LimitFunction,
): Promise<{ snapshot: RepositorySnapshot; skipped: number }> {
  const [tagNames, revisions] = await Promise.all([limit(() => services.tags.list(name)), listRevisions(driver, name, limit)]);
  let skipped = 0;
  const manifests = await Promise.all(
    revisions.map(async (digest): Promise<ManifestRecord | undefined> => {
      try {
        const [info, facts] = await Promise.all([limit(() => driver.stat(layout.revisionLink(name, digest))), describer.describe(name, digest.value)]);
        return { ...facts, pushed: info.modTime.getTime() };
      } catch (error) {
        if (!isMissingOrInvalid(error)) throw error;
        skipped += 1;
        return undefined;
      }
    }),
  );
  const present = manifests.filter((m): m is ManifestRecord => m !== undefined);
  const known = new Set(present.map((m) => m.digest));
  const tags = await Promise.all(
    (tagNames ?? []).map(async (tag): Promise<TagRecord | undefined> => {
      try {
        const [digest, info] = await Promise.all([
          limit(() => services.tags.resolve(name, tag)),
          limit(() => driver.stat(layout.tagCurrentLink(name, tag))),
        ]);
        // A tag on a manifest the repository lacks cannot be pulled: not listed.
        if (!digest || !known.has(digest.value)) return undefined;
        return { tag, digest: digest.value, pushed: info.modTime.getTime() };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    }),
  );
  return { snapshot: { name, manifests: present, tags: tags.filter((t): t is TagRecord => t !== undefined) }, skipped };
}

async function listRevisions(driver: StorageDriver, name: string, limit: LimitFunction): Promise<Digest[]> {
  let algorithms: string[];
  try {
    algorithms = await limit(() => driver.list(layout.revisionsDir(name)));
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const lists = await Promise.all(
    algorithms.map(async (dir) => {
      const algorithm = dir.slice(dir.lastIndexOf("/") + 1);
      const entries = await limit(() => driver.list(dir)).catch((error: unknown) => {
        if (isNotFound(error)) return [] as string[];
        throw error;
      });
      return entries.flatMap((entry) => {
        const digest = digestFromParts(algorithm, entry.slice(entry.lastIndexOf("/") + 1));
        return digest ? [digest] : [];
      });
    }),
  );
  return lists.flat();
}
