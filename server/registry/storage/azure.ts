import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
  BlobSASPermissions,
  BlobServiceClient,
  RestError,
  StorageSharedKeyCredential,
  type BlockBlobClient,
  type ContainerClient,
} from "@azure/storage-blob";
import pLimit from "p-limit";
import type { AzureDriverOptions } from "./azure-options.js";
import { ChunkedWriter, type PieceSink } from "./chunked-writer.js";
import { StorageError, type FileInfo, type FileWriter, type StorageDriver } from "./driver.js";
import { childPaths, walkObjects, type ListedObject } from "./flat-walk.js";
import { ROOT } from "./paths.js";
import type { WalkVisitor } from "./walk.js";

const MiB = 1024 * 1024;
/** Bytes per staged block: a blob holds at most 50,000 committed blocks, so up to ~195 GiB. */
const BLOCK_SIZE = 4 * MiB;
/** Requests a delete or a tree move keeps in flight. */
const PARALLEL = 16;
const REDIRECT_EXPIRY_MS = 20 * 60 * 1000;

/**
 * Azure Blob Storage, in distribution's key layout: path `/a/b` is the block blob
 * `<rootdirectory>/a/b` in one container; directories are name prefixes and exist while some
 * blob lies below them.
 *
 * Writers stage blocks and commit the block list, so an upload resumed by another writer (on
 * any instance) stages more blocks and commits the old list plus its own: nothing already
 * committed is read or copied again. Moves are server-side copies, then a delete.
 */
export class AzureDriver implements StorageDriver {
  readonly name = "azure";
  readonly container: ContainerClient;
  private readonly prefix: string;

  constructor(options: AzureDriverOptions) {
    const credential = new StorageSharedKeyCredential(options.accountName, options.accountKey);
    this.container = new BlobServiceClient(options.serviceURL, credential).getContainerClient(options.container);
    this.prefix = options.prefix;
  }

  async getContent(path: string): Promise<Buffer> {
    try {
      return await this.blob(path).downloadToBuffer();
    } catch (error) {
      throw this.translate(error, path);
    }
  }

  async putContent(path: string, content: Buffer | string): Promise<void> {
    const body = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    await this.blob(path).upload(body, body.length);
  }

  /** An upload with `If-None-Match: *`: the service refuses it (409 or 412) when the blob exists. */
  async putContentIfAbsent(path: string, content: Buffer | string): Promise<boolean> {
    const body = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    try {
      await this.blob(path).upload(body, body.length, { conditions: { ifNoneMatch: "*" } });
      return true;
    } catch (error) {
      if (status(error) === 409 || status(error) === 412) return false;
      throw error;
    }
  }

  async reader(path: string, offset = 0, end?: number): Promise<Readable> {
    if (end !== undefined && end <= offset) {
      await this.checkOffset(path, offset);
      return Readable.from([]);
    }
    try {
      const response = await this.blob(path).download(offset, end === undefined ? undefined : end - offset);
      return response.readableStreamBody as Readable;
    } catch (error) {
      // A range starting at the end of the blob (or of an empty one): empty there, invalid past it.
      if (status(error) === 416) {
        await this.checkOffset(path, offset);
        return Readable.from([]);
      }
      throw this.translate(error, path);
    }
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    const blob = this.blob(path);
    const blocks = append ? await this.committedBlocks(blob) : { ids: [], size: 0 };
    return new ChunkedWriter(new BlockSink(blob, blocks.ids), BLOCK_SIZE, blocks.size);
  }

  async stat(path: string): Promise<FileInfo> {
    if (path !== ROOT) {
      try {
        const properties = await this.blob(path).getProperties();
        return { path, size: properties.contentLength ?? 0, modTime: properties.lastModified ?? new Date(0), isDir: false };
      } catch (error) {
        if (status(error) !== 404) throw error;
      }
    }
    const page = await this.container.listBlobsFlat({ prefix: this.dirPrefix(path) }).byPage({ maxPageSize: 1 }).next();
    const first = page.done ? undefined : page.value.segment.blobItems[0];
    if (!first && path !== ROOT) throw new StorageError("not-found", path, this.name);
    return { path, size: 0, modTime: first?.properties.lastModified ?? new Date(0), isDir: true };
  }

  async fileExists(path: string): Promise<boolean> {
    return this.blob(path).exists();
  }

  async list(path: string): Promise<string[]> {
    const prefix = this.dirPrefix(path);
    const names: string[] = [];
    for await (const item of this.container.listBlobsByHierarchy("/", { prefix })) names.push(item.kind === "prefix" ? item.name.slice(0, -1) : item.name);
    return childPaths(this.name, path, prefix, names);
  }

  async move(source: string, dest: string): Promise<void> {
    if (!(await this.copy(source, dest, false))) return;
    await this.deleteBlob(this.key(source));
  }

  /** A copy on condition that the destination does not exist: the service refuses it atomically. */
  async moveIfAbsent(source: string, dest: string): Promise<boolean> {
    const copied = await this.copy(source, dest, true);
    if (copied === "exists") return false;
    if (copied) await this.deleteBlob(this.key(source));
    return true;
  }

  async delete(path: string): Promise<void> {
    if (path === ROOT) throw new StorageError("invalid-path", path, this.name);
    const key = this.key(path);
    const names: string[] = [];
    if (await this.blob(path).exists()) names.push(key);
    for await (const item of this.container.listBlobsFlat({ prefix: `${key}/` })) names.push(item.name);
    if (names.length === 0) throw new StorageError("not-found", path, this.name);
    await pLimit(PARALLEL).map(names, (name) => this.deleteBlob(name));
  }

  async walk(path: string, visit: WalkVisitor): Promise<void> {
    const prefix = this.dirPrefix(path);
    const objects: ListedObject[] = [];
    for await (const item of this.container.listBlobsFlat({ prefix })) {
      objects.push({ rel: item.name.slice(prefix.length), size: item.properties.contentLength ?? 0, modTime: item.properties.lastModified });
    }
    await walkObjects(this.name, path, objects, visit);
  }

  /** A read-only shared access signature, valid for 20 minutes. */
  async redirectURL(path: string): Promise<string | null> {
    return this.blob(path).generateSasUrl({ permissions: BlobSASPermissions.parse("r"), expiresOn: new Date(Date.now() + REDIRECT_EXPIRY_MS) });
  }

  private key(path: string): string {
    return path === ROOT ? this.prefix : `${this.prefix}${path.slice(1)}`;
  }

  private dirPrefix(path: string): string {
    return path === ROOT ? this.prefix : `${this.key(path)}/`;
  }

  private blob(path: string): BlockBlobClient {
    return this.container.getBlockBlobClient(this.key(path));
  }

  /**
   * The blob's committed blocks, to be kept in front of a resumed writer's. A blob uploaded in
   * one request (putContent) has none: its bytes are staged again as blocks, once.
   */
  private async committedBlocks(blob: BlockBlobClient): Promise<{ ids: string[]; size: number }> {
    let list;
    try {
      list = await blob.getBlockList("committed");
    } catch (error) {
      if (status(error) === 404) return { ids: [], size: 0 };
      throw error;
    }
    const blocks = list.committedBlocks ?? [];
    const listed = blocks.reduce((sum, block) => sum + block.size, 0);
    if (listed === (list.blobContentLength ?? listed)) return { ids: blocks.map((block) => block.name), size: listed };
    const sink = new BlockSink(blob, []);
    const body = (await blob.download()).readableStreamBody as Readable;
    let size = 0;
    for await (const chunk of body) {
      await sink.piece(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { ids: sink.ids, size };
  }

  /**
   * Copies one blob (false when the source is a directory, whose blobs are moved one by one;
   * "exists" when `ifAbsent` and the destination is taken). Copies within an account are
   * authorized by the destination request's own signature.
   */
  private async copy(source: string, dest: string, ifAbsent: boolean): Promise<boolean | "exists"> {
    const from = this.blob(source);
    const to = this.blob(dest);
    if (from.name === to.name) {
      if (!(await from.exists())) throw new StorageError("not-found", source, this.name);
      return ifAbsent ? "exists" : false;
    }
    try {
      const poller = await to.beginCopyFromURL(from.url, ifAbsent ? { conditions: { ifNoneMatch: "*" } } : {});
      await poller.pollUntilDone();
      return true;
    } catch (error) {
      if (ifAbsent && (status(error) === 409 || status(error) === 412) && !isMissingSource(error)) return "exists";
      if (!isMissingSource(error)) throw error;
    }
    await this.moveTree(source, dest);
    return false;
  }

  private async moveTree(source: string, dest: string): Promise<void> {
    const prefix = this.dirPrefix(source);
    const names: string[] = [];
    for await (const item of this.container.listBlobsFlat({ prefix })) names.push(item.name);
    if (names.length === 0) throw new StorageError("not-found", source, this.name);
    const destPrefix = this.dirPrefix(dest);
    await pLimit(PARALLEL).map(names, async (name) => {
      const to = this.container.getBlockBlobClient(destPrefix + name.slice(prefix.length));
      await (await to.beginCopyFromURL(this.container.getBlobClient(name).url)).pollUntilDone();
      await this.deleteBlob(name);
    });
  }

  private async deleteBlob(name: string): Promise<void> {
    await this.container.getBlobClient(name).deleteIfExists();
  }

  /** For empty reads: the blob must exist and `offset` must not lie beyond its end. */
  private async checkOffset(path: string, offset: number): Promise<void> {
    const { size, isDir } = await this.stat(path);
    if (isDir) throw new StorageError("not-found", path, this.name);
    if (offset > size) throw new StorageError("invalid-offset", path, this.name, `${this.name}: offset ${offset} beyond size ${size} of ${path}`);
  }

  private translate(error: unknown, path: string): unknown {
    return status(error) === 404 ? new StorageError("not-found", path, this.name, undefined, { cause: error }) : error;
  }
}

/**
 * A writer's blocks: staged as they come, committed behind the blob's earlier blocks. Block ids
 * must all have one length within a blob: a random writer id and a counter, both fixed-width.
 */
class BlockSink implements PieceSink {
  readonly ids: string[];
  private readonly writer = randomBytes(12).toString("hex");
  private count = 0;

  constructor(
    private readonly blob: BlockBlobClient,
    earlier: string[],
  ) {
    this.ids = [...earlier];
  }

  async piece(body: Buffer): Promise<void> {
    const id = Buffer.from(`${this.writer}${String(this.count++).padStart(8, "0")}`).toString("base64");
    await this.blob.stageBlock(id, body, body.length);
    this.ids.push(id);
  }

  async finish(): Promise<void> {
    await this.blob.commitBlockList(this.ids);
  }

  /** Deleting the blob drops its uncommitted blocks too (the service expires orphans after a week). */
  async discard(): Promise<void> {
    await this.blob.deleteIfExists();
  }
}

function status(error: unknown): number | undefined {
  return error instanceof RestError ? error.statusCode : undefined;
}

function isMissingSource(error: unknown): boolean {
  return error instanceof RestError && (error.code === "CannotVerifyCopySource" || error.code === "BlobNotFound" || error.statusCode === 404);
}
