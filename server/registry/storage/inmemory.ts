import { Readable, Writable } from "node:stream";
import { StorageError, type FileInfo, type FileWriter, type StorageDriver } from "./driver.js";
import { Tree, newFile, type FileNode } from "./inmemory-tree.js";
import { childPath } from "./paths.js";
import { walkTree, type WalkVisitor } from "./walk.js";

/**
 * Keeps everything in process memory: for tests and throwaway registries. Stored bytes are
 * copies, so callers may reuse or mutate the buffers they pass in or get back.
 */
export class InMemoryDriver implements StorageDriver {
  readonly name = "inmemory";
  private readonly tree = new Tree();

  async getContent(path: string): Promise<Buffer> {
    return Buffer.concat(this.file(path).chunks);
  }

  async putContent(path: string, content: Buffer | string): Promise<void> {
    const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : Buffer.from(content);
    this.tree.set(path, newFile([bytes]));
  }

  async putContentIfAbsent(path: string, content: Buffer | string): Promise<boolean> {
    if (this.tree.find(path)?.kind === "file") return false;
    await this.putContent(path, content);
    return true;
  }

  async reader(path: string, offset = 0, end?: number): Promise<Readable> {
    const file = this.file(path);
    if (offset > file.size) {
      throw new StorageError("invalid-offset", path, this.name, `${this.name}: offset ${offset} beyond size ${file.size} of ${path}`);
    }
    const stop = Math.min(end ?? file.size, file.size);
    return Readable.from(slice(file.chunks.slice(), offset, stop), { objectMode: false });
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    const existing = this.tree.find(path);
    let file: FileNode;
    if (append && existing?.kind === "file") {
      file = existing;
    } else {
      file = newFile();
      this.tree.set(path, file);
    }
    return new InMemoryFileWriter(file, () => this.tree.remove(path, file));
  }

  async stat(path: string): Promise<FileInfo> {
    const node = this.tree.find(path);
    if (!node) throw new StorageError("not-found", path, this.name);
    return node.kind === "dir"
      ? { path, size: 0, modTime: node.modTime, isDir: true }
      : { path, size: node.size, modTime: node.modTime, isDir: false };
  }

  async list(path: string): Promise<string[]> {
    const node = this.tree.find(path);
    if (node?.kind !== "dir") throw new StorageError("not-found", path, this.name);
    return [...node.children.keys()].map((name) => childPath(path, name));
  }

  async move(source: string, dest: string): Promise<void> {
    const node = this.tree.find(source);
    if (!node) throw new StorageError("not-found", source, this.name);
    if (source === dest) return;
    // Attach first: if the destination is refused, the source is still where it was.
    this.tree.set(dest, node);
    this.tree.remove(source, node);
  }

  /**
   * Attaches a copy of the source's chunk list, not the node: a writer still holding the upload's
   * node can never add to the blob.
   */
  async moveIfAbsent(source: string, dest: string): Promise<boolean> {
    const node = this.file(source);
    if (this.tree.find(dest)?.kind === "file") return false;
    this.tree.set(dest, newFile(node.chunks.slice()));
    this.tree.remove(source, node);
    return true;
  }

  async delete(path: string): Promise<void> {
    if (!this.tree.remove(path)) throw new StorageError("not-found", path, this.name);
  }

  walk(path: string, visit: WalkVisitor): Promise<void> {
    return walkTree(this, path, visit);
  }

  async redirectURL(): Promise<string | null> {
    return null;
  }

  private file(path: string): FileNode {
    const node = this.tree.find(path);
    if (node?.kind !== "file") throw new StorageError("not-found", path, this.name);
    return node;
  }
}

function* slice(chunks: Buffer[], start: number, stop: number): Generator<Buffer> {
  if (start >= stop) return;
  let position = 0;
  for (const chunk of chunks) {
    const chunkEnd = position + chunk.length;
    if (chunkEnd > start && position < stop) {
      yield chunk.subarray(Math.max(start - position, 0), Math.min(stop - position, chunk.length));
    }
    if (chunkEnd >= stop) return;
    position = chunkEnd;
  }
}

/** Appends copies of each chunk to the object as it arrives; visible to readers before commit, like a file. */
class InMemoryFileWriter extends Writable implements FileWriter {
  readonly #initialSize: number;
  #written = 0;
  #cancelled = false;
  readonly #closed: Promise<void>;

  constructor(
    private readonly file: FileNode,
    private readonly discard: () => void,
  ) {
    super({ decodeStrings: true });
    this.#initialSize = file.size;
    this.#closed = new Promise((resolve) => this.once("close", () => resolve()));
    // Same contract as the filesystem writer: failures surface through callbacks and commit().
    this.on("error", () => {});
  }

  get size(): number {
    return this.#initialSize + this.#written;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (chunk.length > 0) {
      this.file.chunks.push(Buffer.from(chunk));
      this.file.size += chunk.length;
      this.file.modTime = new Date();
      this.#written += chunk.length;
    }
    callback();
  }

  async commit(): Promise<void> {
    if (this.#cancelled) throw new Error("writer was cancelled");
    if (!this.writableEnded && !this.destroyed) this.end();
    await this.#closed;
    if (this.errored) throw this.errored;
    if (!this.writableFinished) throw new Error("writer closed before commit");
  }

  async cancel(): Promise<void> {
    this.#cancelled = true;
    if (!this.destroyed) this.destroy();
    await this.#closed;
    this.discard();
  }
}
