import { Readable } from "node:stream";
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type HeadObjectCommandOutput,
  type ObjectCannedACL,
  type S3Client,
  type ServerSideEncryption,
  type StorageClass,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { StorageError, type FileInfo, type FileWriter, type StorageDriver } from "./driver.js";
import { childPaths, walkObjects, type ListedObject } from "./flat-walk.js";
import { ROOT } from "./paths.js";
import { DELETE_BATCH, createS3Client, isMissingKey, runLimited, s3ErrorCode, s3Status } from "./s3-client.js";
import { abortUpload, copySource, listUploads } from "./s3-multipart.js";
import { copyObject, deleteKeys, listPages, type CopyContext } from "./s3-objects.js";
import { GiB, MAX_PART_SIZE, MIN_PART_SIZE, MiB, validatedChunkSize, type S3DriverOptions } from "./s3-options.js";
import { RecentCommits } from "./s3-recent.js";
import { S3FileWriter, type ObjectParams, type WriterContext } from "./s3-writer.js";
import type { WalkVisitor } from "./walk.js";

const DEFAULT_COPY_CHUNK_SIZE = 32 * MiB;
const DEFAULT_COPY_THRESHOLD = 32 * MiB;
const DEFAULT_COPY_CONCURRENCY = 100;

/**
 * Amazon S3 and S3-compatible object stores (radosgw, MinIO, OSS's S3 API), in distribution's
 * key layout: path `/a/b` is the object `<rootdirectory>/a/b`; directories are key prefixes and
 * exist while some object lies below them.
 */
export class S3Driver implements StorageDriver {
  readonly name: string;
  readonly client: S3Client;
  readonly bucket: string;
  /** "" or "root/dir/", prepended to every key. */
  readonly prefix: string;
  readonly chunkSize: number;
  private readonly copying: CopyContext;
  private readonly objectParams: ObjectParams;
  private readonly redirectExpiry: number;
  private readonly redirectClient: S3Client;
  /** What this instance's writers committed lately. */
  private readonly recent = new RecentCommits();

  constructor(options: S3DriverOptions) {
    this.name = options.name ?? "s3";
    if (!options.bucket) throw new Error(`${this.name}: bucket is required`);
    this.bucket = options.bucket;
    const root = (options.rootDirectory ?? "").replace(/^\/+|\/+$/g, "");
    this.prefix = root === "" ? "" : `${root}/`;
    this.chunkSize = validatedChunkSize(options);
    const maxSingleCopy = options.maxSingleCopySize ?? 5 * GiB;
    const encrypt = options.encrypt === true || options.keyId !== undefined;
    this.objectParams = {
      ContentType: "application/octet-stream",
      ...(encrypt ? { ServerSideEncryption: (options.keyId ? "aws:kms" : "AES256") as ServerSideEncryption } : {}),
      ...(options.keyId ? { SSEKMSKeyId: options.keyId } : {}),
      ...(options.storageClass ? { StorageClass: options.storageClass as StorageClass } : {}),
      ...(options.objectAcl ? { ACL: options.objectAcl as ObjectCannedACL } : {}),
    };
    this.redirectExpiry = options.redirectExpirySeconds ?? 20 * 60;
    this.client = options.client ?? createS3Client(options);
    // Signing needs no connection: a second client for another endpoint costs nothing until used.
    this.redirectClient =
      options.redirectEndpoint && options.redirectEndpoint !== options.endpoint
        ? createS3Client({ ...options, endpoint: options.redirectEndpoint })
        : this.client;
    this.copying = {
      client: this.client,
      bucket: this.bucket,
      objectParams: this.objectParams,
      threshold: Math.min(options.multipartCopyThresholdSize ?? DEFAULT_COPY_THRESHOLD, maxSingleCopy),
      chunkSize: Math.min(Math.max(options.multipartCopyChunkSize ?? DEFAULT_COPY_CHUNK_SIZE, MIN_PART_SIZE), MAX_PART_SIZE),
      concurrency: Math.max(1, options.multipartCopyMaxConcurrency ?? DEFAULT_COPY_CONCURRENCY),
    };
  }

  async getContent(path: string): Promise<Buffer> {
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
      const bytes = (await object.Body?.transformToByteArray()) ?? new Uint8Array();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      throw this.translate(error, path);
    }
  }

  async putContent(path: string, content: Buffer | string): Promise<void> {
    const body = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: this.key(path), Body: body, ContentLength: body.length, ...this.objectParams }),
    );
  }

  /**
   * A PutObject with `If-None-Match: *`: the store refuses it (412) when the key exists; of
   * racing writes one wins (AWS may answer 409 to the others, which lost too).
   */
  async putContentIfAbsent(path: string, content: Buffer | string): Promise<boolean> {
    const body = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.key(path), Body: body, ContentLength: body.length, IfNoneMatch: "*", ...this.objectParams }),
      );
      return true;
    } catch (error) {
      const status = s3Status(error);
      if (status === 412 || status === 409) return false;
      throw error;
    }
  }

  async reader(path: string, offset = 0, end?: number): Promise<Readable> {
    const key = this.key(path);
    if (end !== undefined && end <= offset) {
      await this.checkOffset(path, offset);
      return emptyStream();
    }
    const range = offset === 0 && end === undefined ? undefined : `bytes=${offset}-${end === undefined ? "" : end - 1}`;
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range }));
      return object.Body as Readable;
    } catch (error) {
      // A range starting at (or past) the end: empty when exactly at the end, else invalid.
      if (s3ErrorCode(error) === "InvalidRange" || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416) {
        await this.checkOffset(path, offset);
        return emptyStream();
      }
      throw this.translate(error, path);
    }
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    return S3FileWriter.open(this.writerContext(this.key(path)), append);
  }

  /**
   * One ListObjectsV2 (prefix = the key, delimiter "/") answers both "is it an object" and "is it
   * a directory", so a missing path costs one request, not a HEAD plus a listing. A directory
   * takes one more listing for a modification time (the first object below it).
   */
  async stat(path: string): Promise<FileInfo> {
    if (path !== ROOT) {
      const key = this.key(path);
      // A key this instance committed is most likely still an object: a HEAD (no body, so no
      // wait for a delayed ACK on servers with Nagle on) answers; a miss falls back to the listing.
      if (this.recent.has(key)) {
        const head = await this.head(key);
        if (head) return { path, size: head.ContentLength ?? 0, modTime: head.LastModified ?? new Date(0), isDir: false };
      }
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: key, Delimiter: "/", MaxKeys: 100 }),
      );
      const file = page.Contents?.find((object) => object.Key === key);
      if (file) return { path, size: file.Size ?? 0, modTime: file.LastModified ?? new Date(0), isDir: false };
      // Siblings such as "name-2" sort before "name/"; a truncated page leaves the question open.
      const dir = page.CommonPrefixes?.some((common) => common.Prefix === `${key}/`) || page.IsTruncated === true;
      if (!dir) throw new StorageError("not-found", path, this.name);
    }
    const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.dirPrefix(path), MaxKeys: 1 }));
    const first = page.Contents?.[0];
    if (!first && path !== ROOT) throw new StorageError("not-found", path, this.name);
    return { path, size: 0, modTime: first?.LastModified ?? new Date(0), isDir: true };
  }

  /** A HEAD: no listing, and no body to wait a delayed ACK for on servers with Nagle on. */
  async fileExists(path: string): Promise<boolean> {
    try {
      return (await this.head(this.key(path))) !== undefined;
    } catch (error) {
      throw this.translate(error, path);
    }
  }

  async list(path: string): Promise<string[]> {
    const prefix = this.dirPrefix(path);
    const names: string[] = [];
    for await (const page of listPages(this, prefix, "/")) {
      for (const object of page.Contents ?? []) if (object.Key) names.push(object.Key);
      for (const common of page.CommonPrefixes ?? []) if (common.Prefix) names.push(common.Prefix.slice(0, -1));
    }
    return childPaths(this.name, path, prefix, names);
  }

  /**
   * Server-side copy, then delete of the source: one CopyObject up to the multipart copy
   * threshold, above it a parallel UploadPartCopy. A directory is moved object by object.
   */
  async move(source: string, dest: string): Promise<void> {
    const from = this.key(source);
    const to = this.key(dest);
    const known = this.recent.forget(from);
    // A small object this instance committed is rewritten from memory when a HEAD shows it
    // unchanged: a PutObject and a DeleteObject answer without a body, where a CopyObject's XML
    // answer waits for a delayed ACK on servers with Nagle on (radosgw's default front end).
    if (known?.body && known.etag !== undefined && from !== to) {
      const head = await this.head(from);
      if (head?.ETag === known.etag && head.ContentLength === known.size) {
        await this.putContent(dest, known.body);
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: from }));
        return;
      }
    }
    // An upload this instance just committed needs no HEAD: its size says one CopyObject will do.
    // The hint may be stale (another instance wrote since): CopyObject copies whatever is there,
    // and if that is too big for one copy the HEAD path below takes over.
    if (known !== undefined && known.size <= this.copying.threshold && from !== to) {
      try {
        await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: copySource(this.bucket, from), ...this.objectParams }));
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: from }));
        return;
      } catch (error) {
        if (isMissingKey(error)) return this.moveTree(source, dest);
      }
    }
    let size: number;
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: from }));
      size = head.ContentLength ?? 0;
    } catch (error) {
      if (!isMissingKey(error)) throw error;
      return this.moveTree(source, dest);
    }
    if (from === to) return;
    await copyObject(this.copying, from, to, size);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: from }));
  }

  /**
   * A HEAD of the destination, then the move. S3 has no conditional copy: two moves racing past
   * the HEAD both store the verified bytes of one digest, so the object is the same either way.
   */
  async moveIfAbsent(source: string, dest: string): Promise<boolean> {
    if ((await this.head(this.key(dest))) !== undefined) return false;
    await this.move(source, dest);
    return true;
  }

  /**
   * Deletes the object at `path` and everything below it, in batches of 1000 keys, and aborts
   * multipart uploads in progress there (an abandoned upload would otherwise be billed forever
   * and could be continued later by an appending writer).
   */
  async delete(path: string): Promise<void> {
    if (path === ROOT) throw new StorageError("invalid-path", path, this.name);
    const key = this.key(path);
    const below = `${key}/`;
    const matches = (candidate: string) => candidate === key || candidate.startsWith(below);
    const abortUploads = (async () => {
      const uploads = await listUploads({ client: this.client, bucket: this.bucket, key }, key);
      await Promise.all(
        uploads.filter((upload) => matches(upload.key)).map((upload) => abortUpload({ client: this.client, bucket: this.bucket, key: upload.key }, upload.uploadId)),
      );
    })();
    let deleted = 0;
    try {
      let batch: string[] = [];
      const pending: Promise<void>[] = [];
      const take = (keys: Array<string | undefined>) => {
        for (const candidate of keys) {
          if (candidate === undefined || !matches(candidate)) continue;
          batch.push(candidate);
          deleted += 1;
          if (batch.length === DELETE_BATCH) {
            pending.push(deleteKeys(this, batch));
            batch = [];
          }
        }
      };
      // One listing finds both the object and its subtree, usually in one request. Its prefix has
      // no slash, so siblings such as "name-2/..." (sorted between "name" and "name/") come along:
      // when it does not fit one page, the rest is listed below "name/" only.
      const first = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: key }));
      const keys = (first.Contents ?? []).map((object) => object.Key);
      take(keys);
      if (first.IsTruncated) {
        const last = keys.at(-1);
        for await (const page of listPages(this, below, undefined, last !== undefined && last > below ? last : undefined)) {
          take((page.Contents ?? []).map((object) => object.Key));
        }
      }
      if (batch.length > 0) pending.push(deleteKeys(this, batch));
      await Promise.all(pending);
    } finally {
      await abortUploads.catch(() => undefined);
    }
    if (deleted === 0) throw new StorageError("not-found", path, this.name);
  }

  /**
   * One flat listing of the whole subtree (1000 keys per request instead of one request per
   * directory), sorted so that each directory's children come in lexical order and a directory's
   * contents right after it; directories are derived from the keys.
   */
  async walk(path: string, visit: WalkVisitor): Promise<void> {
    const prefix = this.dirPrefix(path);
    const objects: ListedObject[] = [];
    for await (const page of listPages(this, prefix, undefined)) {
      for (const object of page.Contents ?? []) {
        const rel = object.Key?.slice(prefix.length);
        if (rel) objects.push({ rel, size: object.Size ?? 0, modTime: object.LastModified ?? new Date(0) });
      }
    }
    await walkObjects(this.name, path, objects, visit);
  }

  /** A presigned URL, valid for 20 minutes by default. */
  async redirectURL(path: string, method: "GET" | "HEAD"): Promise<string | null> {
    const input = { Bucket: this.bucket, Key: this.key(path) };
    const command = method === "HEAD" ? new HeadObjectCommand(input) : new GetObjectCommand(input);
    return getSignedUrl(this.redirectClient, command, { expiresIn: this.redirectExpiry });
  }

  /** The object key of a path. */
  key(path: string): string {
    return path === ROOT ? this.prefix : `${this.prefix}${path.slice(1)}`;
  }

  private dirPrefix(path: string): string {
    return path === ROOT ? this.prefix : `${this.key(path)}/`;
  }

  private writerContext(key: string): WriterContext {
    return {
      client: this.client,
      bucket: this.bucket,
      key,
      partSize: this.chunkSize,
      copyChunkSize: this.copying.chunkSize,
      copyConcurrency: this.copying.concurrency,
      objectParams: this.objectParams,
      onCommit: (key, committed) => this.recent.remember(key, committed),
      committed: (key) => this.recent.get(key),
    };
  }

  /** HeadObject, or undefined when the key is no object. */
  private async head(key: string): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (isMissingKey(error)) return undefined;
      throw error;
    }
  }

  private async moveTree(source: string, dest: string): Promise<void> {
    const prefix = this.dirPrefix(source);
    const objects: Array<{ key: string; size: number }> = [];
    for await (const page of listPages(this, prefix, undefined)) {
      for (const object of page.Contents ?? []) if (object.Key !== undefined) objects.push({ key: object.Key, size: object.Size ?? 0 });
    }
    if (objects.length === 0) throw new StorageError("not-found", source, this.name);
    const destPrefix = this.dirPrefix(dest);
    await runLimited(
      16,
      objects.map((object) => () => copyObject(this.copying, object.key, destPrefix + object.key.slice(prefix.length), object.size)),
    );
    for (let i = 0; i < objects.length; i += DELETE_BATCH) {
      await deleteKeys(this, objects.slice(i, i + DELETE_BATCH).map((object) => object.key));
    }
  }

  /** For empty reads: the object must exist and `offset` must not lie beyond its end. */
  private async checkOffset(path: string, offset: number): Promise<void> {
    let size: number;
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
      size = head.ContentLength ?? 0;
    } catch (error) {
      throw this.translate(error, path);
    }
    if (offset > size) {
      throw new StorageError("invalid-offset", path, this.name, `${this.name}: offset ${offset} beyond size ${size} of ${path}`);
    }
  }

  private translate(error: unknown, path: string): unknown {
    return isMissingKey(error) ? new StorageError("not-found", path, this.name, undefined, { cause: error }) : error;
  }
}

function emptyStream(): Readable {
  return Readable.from([]);
}
