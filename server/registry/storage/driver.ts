import type { Readable, Writable } from "node:stream";

export interface PutOptions {
  /**
   * A secret (Berth's session key, console users): a driver with file permissions creates it
   * readable by its owner only (filesystem: 0600). Object stores have no per-object mode and
   * ignore it; their bucket's policy is what protects it.
   */
  private?: boolean;
  /**
   * Content that need not survive a crash (an upload's claim or saved hash state: a lost one is
   * rebuilt or expires): a driver that would wait for the disk does not.
   */
  ephemeral?: boolean;
}

/**
 * The raw storage operations the registry needs. Paths are absolute, slash-separated keys
 * ("/docker/registry/v2/blobs/..."), the same on every driver; drivers never see HTTP input
 * directly, the base wrapper validates paths before a driver is called.
 */
export interface StorageDriver {
  /** Driver name as written in config.yml (`filesystem`, `inmemory`, `s3`, `oss`). */
  readonly name: string;

  /** Whole content of a small object (links, manifests, upload metadata). */
  getContent(path: string): Promise<Buffer>;
  /** Replaces an object atomically: readers see the old or the new content, never a mix. */
  putContent(path: string, content: Buffer | string, options?: PutOptions): Promise<void>;
  /**
   * Creates an object only when none is at `path`, atomically: of racing calls (on any instance
   * sharing the storage) exactly one gets true. Locks and first commits are built on it.
   */
  putContentIfAbsent(path: string, content: Buffer | string, options?: PutOptions): Promise<boolean>;

  /** Streams an object from `offset` (inclusive) to `end` (exclusive, default: object end). */
  reader(path: string, offset?: number, end?: number): Promise<Readable>;
  /**
   * A writer for a large object. With `append`, continues an object previously written by a
   * writer (an upload resumed across requests or instances); otherwise starts it empty.
   */
  writer(path: string, append: boolean): Promise<FileWriter>;

  stat(path: string): Promise<FileInfo>;
  /**
   * Whether an object (not a directory) is at `path`. The engine asks it of links on every blob
   * HEAD and manifest GET; a driver whose `stat` must list to tell objects from directories (S3)
   * answers it with one cheaper request. Without it, `stat` answers.
   */
  fileExists?(path: string): Promise<boolean>;
  /** Full paths of the direct children of a directory (not sorted). */
  list(path: string): Promise<string[]>;
  /** Moves an object, replacing any object at `dest`. */
  move(source: string, dest: string): Promise<void>;
  /**
   * Moves an object unless an object is at `dest`: false, with the source left as it was, when
   * one is. A committed blob is never replaced; where the store cannot refuse atomically
   * (S3's copy), racing moves can only be of verified bytes of one digest, so either wins.
   */
  moveIfAbsent(source: string, dest: string): Promise<boolean>;
  /** Deletes an object or a whole directory tree. */
  delete(path: string): Promise<void>;
  /**
   * Visits every object and directory under `path`, depth first, children in lexical order.
   * The visitor returns "skip" to not descend into a directory.
   */
  walk(path: string, visit: (info: FileInfo) => Promise<void | "skip"> | void | "skip"): Promise<void>;
  /**
   * Writes bytes [offset, end) of an object to `out`. A Readable must hand every chunk over for
   * good, so serving through `reader` allocates as much as it sends; a driver that can reuse its
   * read buffers (filesystem) implements this as the fast path for blob downloads.
   */
  sendTo?(path: string, out: Writable, offset: number, end: number): Promise<void>;
  /** A URL a client may fetch the object from directly, or null when the driver has none. */
  redirectURL(path: string, method: "GET" | "HEAD"): Promise<string | null>;
  /**
   * The same small operations over many paths at once, for scans that touch tens of thousands
   * of objects (garbage collection, cleanup, the repository walk). A driver implements it when
   * it can do better than one call per path; `batchOf` (batch.ts) answers for every driver.
   */
  readonly batch?: StorageBatch;
}

/**
 * Small operations over many paths. Results are in input order, and a missing path is an
 * answer (`undefined`), not a failure; any other failure rejects the whole call.
 */
export interface StorageBatch {
  /** Full paths of each directory's children (as `list`), or undefined where there is none. */
  list(paths: readonly string[]): Promise<(string[] | undefined)[]>;
  /** Each object's content (as `getContent`), or undefined where there is none. */
  getContent(paths: readonly string[]): Promise<(Buffer | undefined)[]>;
  /** What `stat` says of each path, or undefined where nothing is. */
  stat(paths: readonly string[]): Promise<(FileInfo | undefined)[]>;
  /** Deletes each object or tree (as `delete`); paths already gone are not errors. */
  delete(paths: readonly string[]): Promise<void>;
}

export interface FileInfo {
  path: string;
  size: number;
  modTime: Date;
  isDir: boolean;
}

/** A writable stream with distribution's writer semantics: write, then commit or cancel. */
export interface FileWriter extends Writable {
  /** Bytes in the object so far, including what earlier writers appended. */
  readonly size: number;
  /** Makes everything written durable; the writer is finished afterwards. */
  commit(): Promise<void>;
  /** Abandons the object and removes what was written. */
  cancel(): Promise<void>;
}

export type StorageErrorKind = "not-found" | "invalid-path" | "invalid-offset" | "unsupported";

/** Typed storage failure; anything else a driver throws is an unexpected I/O error. */
export class StorageError extends Error {
  constructor(
    readonly kind: StorageErrorKind,
    readonly path: string,
    readonly driver: string,
    message?: string,
    options?: { cause?: unknown },
  ) {
    super(message ?? `${driver}: ${kind}: ${path}`, options);
    this.name = "StorageError";
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof StorageError && error.kind === "not-found";
}

/**
 * Whether an object (not a directory) is at `path`: the driver's `fileExists` when it has one,
 * else its `stat`. The one answer to "is this link or blob there" for every caller.
 */
export async function objectExists(driver: StorageDriver, path: string): Promise<boolean> {
  if (driver.fileExists) return driver.fileExists(path);
  try {
    return !(await driver.stat(path)).isDir;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** For `.catch()` where a missing object is the desired end state (deleting what may be gone). */
export function ignoreNotFound(error: unknown): void {
  if (!isNotFound(error)) throw error;
}
