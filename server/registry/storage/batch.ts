import pLimit from "p-limit";
import { isNotFound, type StorageBatch, type StorageDriver } from "./driver.js";

/** Calls in flight at once when a batch is answered one path at a time. */
const oneByOneConcurrency = 16;

/** The driver's own batch operations, or ones made of its single calls. */
export function batchOf(driver: StorageDriver): StorageBatch {
  return driver.batch ?? oneByOne(driver);
}

/**
 * Batch operations as single calls with bounded concurrency: what object stores do best, where
 * every call is a request anyway.
 */
export function oneByOne(driver: StorageDriver, concurrency = oneByOneConcurrency): StorageBatch {
  const each = <R>(paths: readonly string[], call: (path: string) => Promise<R>) =>
    pLimit(concurrency).map(paths, (path) => call(path).catch(absent));
  return {
    list: (paths) => each(paths, (path) => driver.list(path)),
    getContent: (paths) => each(paths, (path) => driver.getContent(path)),
    stat: (paths) => each(paths, (path) => driver.stat(path)),
    delete: async (paths) => {
      await each(paths, (path) => driver.delete(path));
    },
  };
}

function absent(error: unknown): undefined {
  if (isNotFound(error)) return undefined;
  throw error;
}
