import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { objectExists, StorageError, type FileInfo, type FileWriter, type PutOptions, type StorageBatch, type StorageDriver } from "./driver.js";
import { isBelow, isValidPath } from "./paths.js";
import type { WalkVisitor } from "./walk.js";

/**
 * An unexpected driver failure (I/O, permissions, network) tagged with the driver it came from,
 * so logs and error responses can tell which backend broke without knowing its error types.
 */
export class StorageIOError extends Error {
  /** The native error code (e.g. "ENOSPC") when the driver's error had one. */
  readonly code: string | undefined;

  constructor(
    readonly driver: string,
    readonly path: string,
    cause: unknown,
  ) {
    super(`${driver}: ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "StorageIOError";
    const code = (cause as { code?: unknown } | null)?.code;
    this.code = typeof code === "string" ? code : undefined;
  }
}

/**
 * Wraps a driver so that it only ever sees valid paths and ranges, and so that everything a
 * call rejects with names the driver: a StorageError of this driver or a StorageIOError.
 * The root "/" is accepted only where it names a directory to inspect (stat, list, walk).
 */
export function withBase(driver: StorageDriver): StorageDriver {
  return driver instanceof BaseDriver ? driver : new BaseDriver(driver);
}

class BaseDriver implements StorageDriver {
  readonly name: string;
  readonly batch: StorageBatch | undefined;

  constructor(private readonly inner: StorageDriver) {
    this.name = inner.name;
    const batch = inner.batch;
    this.batch = batch && {
      list: (paths) => this.callMany(paths, true, () => batch.list(paths)),
      getContent: (paths) => this.callMany(paths, false, () => batch.getContent(paths)),
      stat: (paths) => this.callMany(paths, true, () => batch.stat(paths)),
      delete: (paths) => this.callMany(paths, false, () => batch.delete(paths)),
    };
  }

  getContent(path: string): Promise<Buffer> {
    return this.call(path, false, () => this.inner.getContent(path));
  }

  putContent(path: string, content: Buffer | string, options?: PutOptions): Promise<void> {
    return this.call(path, false, () => this.inner.putContent(path, content, options));
  }

  putContentIfAbsent(path: string, content: Buffer | string, options?: PutOptions): Promise<boolean> {
    return this.call(path, false, () => this.inner.putContentIfAbsent(path, content, options));
  }

  reader(path: string, offset = 0, end?: number): Promise<Readable> {
    return this.call(path, false, () => {
      const badEnd = end !== undefined && !(Number.isSafeInteger(end) && end >= offset);
      if (!Number.isSafeInteger(offset) || offset < 0 || badEnd) {
        throw new StorageError("invalid-offset", path, this.name, `${this.name}: invalid range [${offset}, ${end}) for ${path}`);
      }
      return this.inner.reader(path, offset, end);
    });
  }

  sendTo(path: string, out: Writable, offset: number, end: number): Promise<void> {
    return this.call(path, false, async () => {
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(end) || end < offset) {
        throw new StorageError("invalid-offset", path, this.name, `${this.name}: invalid range [${offset}, ${end}) for ${path}`);
      }
      if (this.inner.sendTo) return this.inner.sendTo(path, out, offset, end);
      await pipeline(await this.inner.reader(path, offset, end), out);
    });
  }

  writer(path: string, append: boolean): Promise<FileWriter> {
    return this.call(path, false, async () => this.tagWriter(path, await this.inner.writer(path, append)));
  }

  stat(path: string): Promise<FileInfo> {
    return this.call(path, true, () => this.inner.stat(path));
  }

  fileExists(path: string): Promise<boolean> {
    return this.call(path, false, () => objectExists(this.inner, path));
  }

  list(path: string): Promise<string[]> {
    return this.call(path, true, () => this.inner.list(path));
  }

  move(source: string, dest: string): Promise<void> {
    return this.call(source, false, () => {
      this.check(dest, false);
      // A tree cannot be moved into itself; filesystems refuse it and the in-memory tree would lose it.
      if (isBelow(dest, source)) {
        throw new StorageError("invalid-path", dest, this.name, `${this.name}: cannot move ${source} into itself (${dest})`);
      }
      return this.inner.move(source, dest);
    });
  }

  moveIfAbsent(source: string, dest: string): Promise<boolean> {
    return this.call(source, false, () => {
      this.check(dest, false);
      return this.inner.moveIfAbsent(source, dest);
    });
  }

  delete(path: string): Promise<void> {
    return this.call(path, false, () => this.inner.delete(path));
  }

  async walk(path: string, visit: WalkVisitor): Promise<void> {
    // The visitor's own failures belong to the caller and must come back untouched.
    let visitorFailure: { error: unknown } | undefined;
    const guarded: WalkVisitor = async (info) => {
      try {
        return await visit(info);
      } catch (error) {
        visitorFailure = { error };
        throw error;
      }
    };
    try {
      return await this.call(path, true, () => this.inner.walk(path, guarded));
    } catch (error) {
      if (visitorFailure) throw visitorFailure.error;
      throw error;
    }
  }

  redirectURL(path: string, method: "GET" | "HEAD"): Promise<string | null> {
    return this.call(path, false, () => this.inner.redirectURL(path, method));
  }

  private check(path: string, allowRoot: boolean): void {
    if (!isValidPath(path, allowRoot)) {
      throw new StorageError("invalid-path", String(path), this.name, `${this.name}: invalid path ${JSON.stringify(path)}`);
    }
  }

  private async call<T>(path: string, allowRoot: boolean, run: () => Promise<T>): Promise<T> {
    try {
      this.check(path, allowRoot);
      return await run();
    } catch (error) {
      throw this.tag(error, path);
    }
  }

  /** As `call`, for a batch: a failure is tagged with the path it names, else the first one. */
  private async callMany<T>(paths: readonly string[], allowRoot: boolean, run: () => Promise<T>): Promise<T> {
    try {
      for (const path of paths) this.check(path, allowRoot);
      return await run();
    } catch (error) {
      const named = (error as { path?: unknown } | null)?.path;
      throw this.tag(error, typeof named === "string" ? named : (paths[0] ?? ""));
    }
  }

  private tag(error: unknown, path: string): Error {
    if (error instanceof StorageError) {
      if (error.driver === this.name) return error;
      return new StorageError(error.kind, error.path, this.name, undefined, { cause: error });
    }
    if (error instanceof StorageIOError && error.driver === this.name) return error;
    return new StorageIOError(this.name, path, error);
  }

  /** commit/cancel are calls on the driver too; their rejections get the same tagging. */
  private tagWriter(path: string, writer: FileWriter): FileWriter {
    const commit = writer.commit.bind(writer);
    const cancel = writer.cancel.bind(writer);
    writer.commit = () => commit().catch((error: unknown) => Promise.reject(this.tag(error, path)));
    writer.cancel = () => cancel().catch((error: unknown) => Promise.reject(this.tag(error, path)));
    return writer;
  }
}
