import { layoutRoot, repositoriesRoot } from "../layout.js";
import { tryParseDigest, type Digest } from "../reference.js";
import type { StorageBatch, StorageDriver } from "../storage/driver.js";

/**
 * `storage.cache.blobdescriptor`: what a blob HEAD, GET or a manifest's reference check would
 * otherwise ask the storage, kept in front of it. A descriptor (digest → size) never changes
 * while the blob exists; a repository's membership (its `_layers` link) does, so only a cache
 * every instance shares and invalidates (`shared`) may answer for it.
 */
export interface BlobDescriptorCache {
  /** Redis is shared by every instance; an in-memory cache is this process's alone. */
  readonly shared: boolean;
  /** The stored size of the blob, when cached. */
  size(digest: Digest): Promise<number | undefined>;
  /** True when the repository is known to link the blob; false means "ask the storage". */
  linked(name: string, digest: Digest): Promise<boolean>;
  /** Records what the storage just said: the blob's size, and that `name` links it when given. */
  remember(digest: Digest, size: number, name?: string): Promise<void>;
  /** The storage lost something under `path` (a delete): drop what the cache says about it. */
  invalidate(path: string): Promise<void>;
  close(): Promise<void>;
}

/** What a deleted storage path invalidates, from the layout of blobs and repositories. */
export type Invalidation =
  | { kind: "blob"; digest: Digest }
  | { kind: "link"; name: string; digest: Digest }
  /** A whole repository, or every repository under a namespace ("" for all of them). */
  | { kind: "repositories"; prefix: string }
  | { kind: "everything" }
  | { kind: "nothing" };

export function invalidationOf(path: string): Invalidation {
  const clean = path.replace(/\/+$/, "");
  if (clean === "" || clean === layoutRoot || layoutRoot.startsWith(`${clean}/`)) return { kind: "everything" };
  const blobs = `${layoutRoot}/blobs`;
  if (clean === blobs || clean.startsWith(`${blobs}/`)) {
    const [algorithm, , hex] = clean.slice(blobs.length + 1).split("/");
    const digest = algorithm && hex ? tryParseDigest(`${algorithm}:${hex}`) : undefined;
    return digest ? { kind: "blob", digest } : { kind: "everything" };
  }
  if (clean === repositoriesRoot) return { kind: "repositories", prefix: "" };
  if (!clean.startsWith(`${repositoriesRoot}/`)) return { kind: "nothing" };
  const rest = clean.slice(repositoriesRoot.length + 1);
  const marker = rest.search(/(^|\/)_[a-z]+(\/|$)/);
  if (marker < 0) return { kind: "repositories", prefix: rest };
  const name = rest.slice(0, marker);
  const [section, algorithm, hex] = rest.slice(marker).replace(/^\//, "").split("/");
  if (section !== "_layers") return { kind: "nothing" };
  if (!algorithm || !hex) return { kind: "repositories", prefix: name };
  const digest = tryParseDigest(`${algorithm}:${hex}`);
  return digest ? { kind: "link", name, digest } : { kind: "repositories", prefix: name };
}

/**
 * The driver every part of the process uses (API, console, garbage collection), with each delete
 * also invalidating the cache: what it removes is never served from the cache afterwards.
 */
export function invalidatingDriver(driver: StorageDriver, cache: BlobDescriptorCache): StorageDriver {
  const invalidateAll = (paths: readonly string[]) => Promise.all(paths.map((path) => cache.invalidate(path)));
  const batch: StorageBatch | undefined = driver.batch && {
    list: (paths) => driver.batch!.list(paths),
    getContent: (paths) => driver.batch!.getContent(paths),
    stat: (paths) => driver.batch!.stat(paths),
    delete: async (paths) => {
      await driver.batch!.delete(paths);
      await invalidateAll(paths);
    },
  };
  return new Proxy(driver, {
    get(target, property, receiver) {
      if (property === "delete") {
        return async (path: string) => {
          await target.delete(path);
          await cache.invalidate(path);
        };
      }
      if (property === "batch") return batch;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
