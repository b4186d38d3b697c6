import type { Readable } from "node:stream";
import { batchOf } from "./batch.js";
import { objectExists, type FileInfo, type FileWriter, type PutOptions, type StorageBatch, type StorageDriver } from "./driver.js";
import type { WalkVisitor } from "./walk.js";

/**
 * A driver whose implementation is loaded on its first call. The object-store drivers pull in
 * the AWS SDK, about a tenth of a second of start-up that a filesystem registry, or a CLI run
 * that never touches storage, should not pay. Its batch is the loaded driver's, or one made of
 * single calls.
 */
export function lazyDriver(name: string, load: () => Promise<StorageDriver>): StorageDriver {
  let loading: Promise<StorageDriver> | undefined;
  const driver = () => (loading ??= load());
  const batch = async () => batchOf(await driver());
  const batchOps: StorageBatch = {
    list: async (paths) => (await batch()).list(paths),
    getContent: async (paths) => (await batch()).getContent(paths),
    stat: async (paths) => (await batch()).stat(paths),
    delete: async (paths) => (await batch()).delete(paths),
  };
  return {
    name,
    batch: batchOps,
    getContent: async (path: string): Promise<Buffer> => (await driver()).getContent(path),
    putContent: async (path: string, content: Buffer | string, options?: PutOptions): Promise<void> =>
      (await driver()).putContent(path, content, options),
    putContentIfAbsent: async (path: string, content: Buffer | string, options?: PutOptions): Promise<boolean> =>
      (await driver()).putContentIfAbsent(path, content, options),
    reader: async (path: string, offset?: number, end?: number): Promise<Readable> => (await driver()).reader(path, offset, end),
    writer: async (path: string, append: boolean): Promise<FileWriter> => (await driver()).writer(path, append),
    stat: async (path: string): Promise<FileInfo> => (await driver()).stat(path),
    fileExists: async (path: string): Promise<boolean> => objectExists(await driver(), path),
    list: async (path: string): Promise<string[]> => (await driver()).list(path),
    move: async (source: string, dest: string): Promise<void> => (await driver()).move(source, dest),
    moveIfAbsent: async (source: string, dest: string): Promise<boolean> => (await driver()).moveIfAbsent(source, dest),
    delete: async (path: string): Promise<void> => (await driver()).delete(path),
    walk: async (path: string, visit: WalkVisitor): Promise<void> => (await driver()).walk(path, visit),
    redirectURL: async (path: string, method: "GET" | "HEAD"): Promise<string | null> => (await driver()).redirectURL(path, method),
  };
}
