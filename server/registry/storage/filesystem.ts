import { randomBytes } from "node:crypto";
import type { Stats } from "node:fs";
import { readFile } from "node:fs";
import { constants as fsConstants } from "node:fs";
import { copyFile, link, lstat, mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { Readable, type Writable } from "node:stream";
import { StorageError, type FileInfo, type FileWriter, type PutOptions, type StorageBatch, type StorageDriver } from "./driver.js";
import { BatchPathError, FilesystemBatchPool, type BatchOperation, type NativeInfo } from "./filesystem-batch.js";
import { errorCode, isMissing, removeTree } from "./filesystem-remove.js";
import { FilesystemFileWriter } from "./filesystem-writer.js";
import { ROOT, childPath, isValidComponent, isValidPath } from "./paths.js";
import { walkTree, type WalkVisitor } from "./walk.js";

/**
 * The callback `readFile`: fs/promises' version reads in chunks behind extra promise hops and
 * takes 2-3 times as long for the small objects (links, manifests) GC and the API read by the
 * thousand.
 */
const readWhole = promisify(readFile);

export interface FilesystemOptions {
  /** Directory the whole key space lives under; created on first write. */
  rootdirectory: string;
}

const READ_CHUNK = 1 << 20;
const SEND_CHUNK = 4 << 20;

/** Resolves once `out` has handed the chunk to the OS (its buffer may then be reused). */
function writeChunk(out: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.destroyed) return reject(new Error("destination closed"));
    out.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * Objects are plain files at root + path. Directories are real directories and stay after their
 * last object is deleted (as in distribution); the root counts as an empty directory until the
 * first write creates it, so a fresh registry lists and walks cleanly.
 */
export class FilesystemDriver implements StorageDriver {
  readonly name = "filesystem";
  readonly root: string;
  /** What a key is appended to: the root without a trailing slash. */
  private readonly rootPrefix: string;
  readonly batch: StorageBatch;
  private readonly pool = new FilesystemBatchPool();

  constructor(options: FilesystemOptions) {
    this.root = resolve(options.rootdirectory);
    this.rootPrefix = this.root === "/" ? "" : this.root;
    this.batch = {
      list: async (paths) => {
        const found = await this.runBatch("list", paths, true);
        return found.map((names, i) => (names ? this.keys(paths[i] as string, names as string[]) : paths[i] === ROOT ? [] : undefined));
      },
      getContent: async (paths) => {
        const found = await this.runBatch("getContent", paths, false);
        return found.map((bytes) => (bytes ? asBuffer(bytes as Uint8Array) : undefined));
      },
      stat: async (paths) => {
        const found = await this.runBatch("stat", paths, true);
        return found.map((info, i) => {
          const path = paths[i] as string;
          if (!info) return path === ROOT ? rootInfo() : undefined;
          const { size, modTimeMs, isDir } = info as NativeInfo;
          return { path, size, modTime: new Date(modTimeMs), isDir };
        });
      },
      delete: async (paths) => {
        await this.runBatch("delete", paths, false);
      },
    };
  }

  async getContent(path: string): Promise<Buffer> {
    try {
      return await readWhole(this.native(path));
    } catch (error) {
      throw this.translate(error, path, ["EISDIR"]);
    }
  }

  async putContent(path: string, content: Buffer | string, options?: PutOptions): Promise<void> {
    await this.placeContent(path, content, options, (temp, target) => rename(temp, target).then(() => true));
  }

  /** A hard link cannot replace what is there: of racing creators, one link succeeds. */
  async putContentIfAbsent(path: string, content: Buffer | string, options?: PutOptions): Promise<boolean> {
    return this.placeContent(path, content, options, async (temp, target) => {
      try {
        await link(temp, target);
        return true;
      } catch (error) {
        if (errorCode(error) === "EEXIST") return false;
        if (!cannotLink(error)) throw error;
      }
      // A filesystem without hard links: an exclusive copy (the content is small).
      return copyFile(temp, target, fsConstants.COPYFILE_EXCL).then(
        () => true,
        (error: unknown) => (errorCode(error) === "EEXIST" ? false : Promise.reject(error)),
      );
    });
  }

  /**
   * Writes a synced temporary file next to the target and lets `place` put it there, so the
   * target appears whole or not at all; the temporary file never outlives the call.
   */
  private async placeContent(
    path: string,
    content: Buffer | string,
    options: PutOptions | undefined,
    place: (temp: string, target: string) => Promise<boolean>,
  ): Promise<boolean> {
    const target = this.native(path);
    const dir = dirname(target);
    await mkdir(dir, { recursive: true });
    // Same directory as the target so the rename is atomic; the dot keeps it out of list/walk.
    const temp = join(dir, `.${basename(target)}.tmp-${randomBytes(8).toString("hex")}`);
    let placed: boolean;
    try {
      // Created with its final mode, so a secret is never readable by others, not even briefly.
      const handle = await open(temp, "wx", options?.private ? 0o600 : 0o666);
      try {
        await handle.writeFile(content);
        if (!options?.ephemeral) await handle.sync();
      } finally {
        await handle.close();
      }
      placed = await place(temp, target);
    } finally {
      // After a rename there is nothing left to remove; after a link, the temporary name.
      await rm(temp, { force: true });
    }
    if (placed && !options?.ephemeral) await syncDirectory(dir);
    return placed;
  }

  async reader(path: string, offset = 0, end?: number): Promise<Readable> {
    let handle;
    try {
      handle = await open(this.native(path), "r");
    } catch (error) {
      throw this.translate(error, path);
    }
    try {
      const info = await handle.stat();
      if (info.isDirectory()) throw new StorageError("not-found", path, this.name);
      if (offset > info.size) {
        throw new StorageError("invalid-offset", path, this.name, `${this.name}: offset ${offset} beyond size ${info.size} of ${path}`);
      }
      const stop = Math.min(end ?? info.size, info.size);
      if (stop > offset) {
        return handle.createReadStream({ start: offset, end: stop - 1, highWaterMark: READ_CHUNK });
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
    await handle.close();
    return emptyStream();
  }

  /**
   * Double-buffered: one buffer is read from disk while the other is being written to the
   * socket, and each is reused only after its write completed, so a download allocates two
   * buffers in all instead of one per chunk.
   */
  async sendTo(path: string, out: Writable, offset: number, end: number): Promise<void> {
    let handle;
    try {
      handle = await open(this.native(path), "r");
    } catch (error) {
      throw this.translate(error, path);
    }
    try {
      const size = (await handle.stat()).size;
      if (offset > size) throw new StorageError("invalid-offset", path, this.name);
      const stop = Math.min(end, size);
      const chunk = Math.min(SEND_CHUNK, Math.max(stop - offset, 1));
      const buffers = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)];
      let position = offset;
      let turn = 0;
      let previous: Promise<void> = Promise.resolve();
      while (position < stop) {
        const buffer = buffers[turn] as Buffer;
        turn ^= 1;
        const { bytesRead } = await handle.read(buffer, 0, Math.min(chunk, stop - position), position);
        if (bytesRead === 0) throw new StorageError("invalid-offset", path, this.name, `${this.name}: ${path} shrank while being read`);
        await previous;
        position += bytesRead;
        previous = writeChunk(out, buffer.subarray(0, bytesRead));
      }
      await previous;
    } finally {
      await handle.close();
    }
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    const target = this.native(path);
    await mkdir(dirname(target), { recursive: true });
    const handle = await open(target, append ? "a" : "w");
    try {
      const size = append ? (await handle.stat()).size : 0;
      return new FilesystemFileWriter(handle, size, target);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async stat(path: string): Promise<FileInfo> {
    let info: Stats;
    try {
      info = await stat(this.native(path));
    } catch (error) {
      if (path === ROOT && isMissing(error)) return rootInfo();
      throw this.translate(error, path);
    }
    const isDir = info.isDirectory();
    return { path, size: isDir ? 0 : info.size, modTime: info.mtime, isDir };
  }

  async list(path: string): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.native(path));
    } catch (error) {
      if (path === ROOT && isMissing(error)) return [];
      throw this.translate(error, path);
    }
    return this.keys(path, names);
  }

  /** Temp files and foreign entries (lost+found on a mounted volume) are not storage keys. */
  private keys(dir: string, names: string[]): string[] {
    return names.filter(isValidComponent).map((name) => childPath(dir, name));
  }

  async move(source: string, dest: string): Promise<void> {
    const from = this.native(source);
    const to = this.native(dest);
    try {
      // Checked first so a failed move does not leave the destination's parents behind.
      await lstat(from);
    } catch (error) {
      throw this.translate(error, source);
    }
    await mkdir(dirname(to), { recursive: true });
    try {
      await rename(from, to);
    } catch (error) {
      throw this.translate(error, source);
    }
    // Moves commit uploaded blobs; a link written after the move must not outlive it in a crash.
    await syncDirectory(dirname(to));
  }

  /**
   * A hard link to the destination, then the source's name removed: the link fails when the
   * destination exists, where a rename would replace it. Without hard links, a rename after an
   * existence check (racing moves of one digest's verified bytes are interchangeable).
   */
  async moveIfAbsent(source: string, dest: string): Promise<boolean> {
    const from = this.native(source);
    const to = this.native(dest);
    let isDir: boolean;
    try {
      isDir = (await lstat(from)).isDirectory();
    } catch (error) {
      throw this.translate(error, source);
    }
    if (isDir) throw new StorageError("invalid-path", source, this.name, `${this.name}: ${source} is a directory`);
    await mkdir(dirname(to), { recursive: true });
    try {
      await link(from, to);
    } catch (error) {
      if (errorCode(error) === "EEXIST") return false;
      if (!cannotLink(error)) throw this.translate(error, source);
      if (await lstat(to).then(() => true, () => false)) return false;
      await this.move(source, dest);
      return true;
    }
    await unlink(from).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
    await syncDirectory(dirname(to));
    return true;
  }

  /**
   * On libuv, not the batch threads: a request deleting one upload must not wait for a thread
   * to start.
   */
  async delete(path: string): Promise<void> {
    // Never rm -r the whole root, even when called without the base wrapper.
    if (path === ROOT) throw new StorageError("invalid-path", path, this.name);
    try {
      await removeTree(this.native(path));
    } catch (error) {
      throw this.translate(error, path);
    }
  }

  walk(path: string, visit: WalkVisitor): Promise<void> {
    return walkTree(this, path, visit);
  }

  async redirectURL(): Promise<string | null> {
    return null;
  }

  /**
   * Runs a batch on the threads, with paths checked first (the root only where `allowRoot`: a
   * batch never deletes the whole root) and a failure named by its key.
   */
  private async runBatch(op: BatchOperation, paths: readonly string[], allowRoot: boolean) {
    const native = paths.map((path) => this.native(path, allowRoot));
    try {
      return await this.pool.run(op, native);
    } catch (error) {
      if (!(error instanceof BatchPathError)) throw error;
      const path = paths[native.indexOf(error.path)] ?? error.path;
      // Named by its key from here on, as every other failure of this driver is.
      throw this.translate(new BatchPathError(path, error.code, error.message), path);
    }
  }

  /** Re-checks the path even behind the base wrapper: this is where a bad key would escape the root. */
  private native(path: string, allowRoot = true): string {
    if (!isValidPath(path, allowRoot)) throw new StorageError("invalid-path", String(path), this.name);
    // A valid key has no "." or ".." components and no doubled slashes: appending it is joining.
    return path === ROOT ? this.root : this.rootPrefix + path;
  }

  private translate(error: unknown, path: string, alsoNotFound: string[] = []): unknown {
    if (isMissing(error) || alsoNotFound.includes(errorCode(error) ?? "")) {
      return new StorageError("not-found", path, this.name, undefined, { cause: error });
    }
    return error;
  }
}

/** What a filesystem without hard links (some network and FUSE filesystems) answers to link(). */
function cannotLink(error: unknown): boolean {
  return ["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV", "EMLINK"].includes(errorCode(error) ?? "");
}

function rootInfo(): FileInfo {
  return { path: ROOT, size: 0, modTime: new Date(0), isDir: true };
}

/** A thread's content arrives as a plain Uint8Array: viewed as a Buffer without a copy. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Makes the rename itself durable; best effort because not every platform can fsync a directory. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The content is already synced; only the directory entry's durability is at stake.
  }
}

function emptyStream(): Readable {
  return new Readable({
    read() {
      this.push(null);
    },
  });
}
