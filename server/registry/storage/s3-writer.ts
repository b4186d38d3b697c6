import { finished } from "node:stream/promises";
import {
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
  type ServerSideEncryption,
  type StorageClass,
  type ObjectCannedACL,
} from "@aws-sdk/client-s3";
import { PartUploadWriter } from "./chunked-writer.js";
import type { FileWriter } from "./driver.js";
import { isMissingKey, partRanges } from "./s3-client.js";
import { abortUpload, completeUpload, copyParts, listParts, listUploads } from "./s3-multipart.js";
import { MAX_PARTS, MIN_PART_SIZE } from "./s3-options.js";

/** Headers every object write carries (PutObject, CreateMultipartUpload, CopyObject). */
export interface ObjectParams {
  ContentType: string;
  ServerSideEncryption?: ServerSideEncryption;
  SSEKMSKeyId?: string;
  StorageClass?: StorageClass;
  ACL?: ObjectCannedACL;
}

/** What a writer needs from its driver. */
export interface WriterContext {
  client: S3Client;
  bucket: string;
  key: string;
  /** Bytes per uploaded part (`chunksize`); at most this much is buffered, plus one part in flight. */
  partSize: number;
  copyChunkSize: number;
  copyConcurrency: number;
  objectParams: ObjectParams;
  /** Told about the object once a commit made it durable (`body`: its bytes, when one PutObject stored them). */
  onCommit?: (key: string, committed: Committed) => void;
  /** What this instance's last commit of `key` stored, if it remembers. */
  committed?: (key: string) => Committed | undefined;
}

/** An object as a writer of this instance committed it. */
export interface Committed {
  size: number;
  etag: string | undefined;
  body?: Buffer;
}

/** Small objects start with a small buffer that doubles; once one part was full, parts are allocated whole. */
const FIRST_BUFFER = 64 * 1024;

/**
 * Writes one object through S3's multipart upload, keeping memory bounded: bytes are buffered up
 * to `partSize`, then uploaded as a part while the next one fills (so at most two parts per
 * writer are in memory).
 *
 * - commit(): an object that never reached one part is stored with a single PutObject (the usual
 *   case for links, manifests and small layers); otherwise the rest is uploaded as the last part
 *   and the upload completed. Either way the object is readable afterwards.
 * - Appending (another request, another instance, after a restart) continues what is in storage:
 *   an in-progress multipart upload for the key (ListMultipartUploads + ListParts), left by a
 *   writer that was never committed, is continued where its parts end, as distribution does
 *   (not looked for when the object is as this instance last committed it)
 *   (unless the object was written after that upload began: then the upload is stale and
 *   aborted); otherwise the committed object is the start of the new content: downloaded into
 *   the buffer when below 5 MiB, else copied server-side (UploadPartCopy) as the first part(s).
 * - A writer destroyed without commit or cancel (a request body that broke off) completes the
 *   parts it had already uploaded, so what reached storage stays the object's content, as on a
 *   filesystem. Bytes still in the buffer then are dropped.
 * - cancel() aborts the upload and deletes the object.
 */
export class S3FileWriter extends PartUploadWriter implements FileWriter {
  readonly #ctx: WriterContext;

  #uploadId: string | undefined;
  #parts: CompletedPart[] = [];
  #nextPart = 1;
  /** Size of the committed object still to be copied in as the first part(s) when an upload starts. */
  #copyBase: number;

  #buffer: Buffer | undefined;
  #length = 0;
  #fullParts = 0;
  /** Full part buffers whose upload finished, reused so a long stream allocates two in all. */
  #spare: Buffer[] = [];

  #state: "open" | "committing" | "committed" | "cancelled" | "abandoned" = "open";
  readonly #closed: Promise<void>;

  private constructor(
    ctx: WriterContext,
    init: { initialSize: number; uploadId?: string; parts?: CompletedPart[]; copyBase?: number; buffer?: Buffer },
  ) {
    super(init.initialSize, 1 << 20);
    this.#ctx = ctx;
    this.#uploadId = init.uploadId;
    this.#parts = init.parts ?? [];
    this.#nextPart = this.#parts.reduce((max, part) => Math.max(max, part.PartNumber ?? 0), 0) + 1;
    this.#copyBase = init.copyBase ?? 0;
    if (init.buffer && init.buffer.length > 0) {
      this.#buffer = init.buffer;
      this.#length = init.buffer.length;
    }
    this.#closed = new Promise((resolve) => this.once("close", () => resolve()));
  }

  /** Opens a writer for `ctx.key`; with `append`, positioned after what storage already holds. */
  static async open(ctx: WriterContext, append: boolean): Promise<S3FileWriter> {
    if (!append) return new S3FileWriter(ctx, { initialSize: 0 });
    // An object unchanged since this instance committed it needs no listing (a round trip with a
    // body): a multipart upload for the key can only be an append that died with its instance,
    // whose bytes nobody acknowledged, so they are dropped. Otherwise both requests go at once.
    const known = ctx.committed?.(ctx.key);
    let head: Awaited<ReturnType<typeof headObject>>;
    let uploads: Awaited<ReturnType<typeof listUploads>>;
    let unchanged: Committed | undefined;
    if (known?.etag !== undefined) {
      head = await headObject(ctx);
      if (head?.etag === known.etag && head.size === known.size) unchanged = known;
      uploads = unchanged ? [] : await listUploads(ctx);
    } else {
      [head, uploads] = await Promise.all([headObject(ctx), listUploads(ctx)]);
    }
    uploads.sort((a, b) => b.initiated - a.initiated);
    let [latest, ...stale] = uploads;
    // An upload begun before the object was last written belongs to content that was replaced
    // since (putContent, a new writer, a move onto the key). Last-Modified has whole seconds, so
    // anything within a second (or two of clock skew between gateways) counts as older: dropping
    // uncommitted bytes is always safe, continuing from replaced ones never is.
    if (latest && head && head.lastModified >= latest.initiated - 2000) {
      stale = uploads;
      latest = undefined;
    }
    await Promise.all(stale.map((upload) => abortUpload(ctx, upload.uploadId)));
    let committed = head?.size;
    if (latest) {
      const parts = await listParts(ctx, latest.uploadId);
      const small = parts.findIndex((part) => part.size < MIN_PART_SIZE);
      if (parts.length > 0 && small === -1) {
        return new S3FileWriter(ctx, {
          initialSize: parts.reduce((sum, part) => sum + part.size, 0),
          uploadId: latest.uploadId,
          parts: parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })),
        });
      }
      // A short part can only be the last one of a finished upload: distribution closes every
      // request's upload with one. Complete it, then continue from the object it makes.
      if (parts.length > 0 && small === parts.length - 1) {
        try {
          await completeUpload(ctx, latest.uploadId, parts);
          committed = (await headObject(ctx))?.size;
        } catch {
          await abortUpload(ctx, latest.uploadId);
        }
      } else {
        await abortUpload(ctx, latest.uploadId);
      }
    }
    if (committed === undefined || committed === 0) return new S3FileWriter(ctx, { initialSize: 0 });
    if (committed >= MIN_PART_SIZE) return new S3FileWriter(ctx, { initialSize: committed, copyBase: committed });
    // The writer copies its buffer before it appends to it, so the remembered bytes can be shared.
    const buffer = unchanged?.body ?? (await download(ctx));
    return new S3FileWriter(ctx, { initialSize: buffer.length, buffer });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#state !== "open" || this.#uploadId === undefined) {
      callback(error);
      return;
    }
    this.#state = "abandoned";
    this.#salvage().then(
      () => callback(error),
      () => callback(error),
    );
  }

  async commit(): Promise<void> {
    if (this.#state === "cancelled") throw new Error(`writer for ${this.#ctx.key} was cancelled`);
    if (this.#state === "committed") return;
    if (this.#state !== "open" || this.destroyed) {
      throw this.errored ?? new Error(`writer for ${this.#ctx.key} closed before commit`);
    }
    if (!this.writableEnded) this.end();
    await finished(this, { cleanup: true });
    this.#state = "committing";
    try {
      await this.settle();
      let committed: Committed;
      if (this.#uploadId === undefined && this.#copyBase === 0) {
        const body = this.#take();
        const put = await this.#ctx.client.send(
          new PutObjectCommand({ Bucket: this.#ctx.bucket, Key: this.#ctx.key, Body: body, ContentLength: body.length, ...this.#ctx.objectParams }),
        );
        committed = { size: body.length, etag: put.ETag, body };
      } else {
        await this.#ensureUpload();
        if (this.#length > 0 || this.#parts.length === 0) await this.#uploadPart(this.#nextPart++, this.#take());
        committed = { size: this.size, etag: await completeUpload(this.#ctx, this.#uploadId!, this.#parts) };
      }
      this.#state = "committed";
      this.#ctx.onCommit?.(this.#ctx.key, committed);
    } finally {
      this.destroy();
      await this.#closed;
    }
  }

  async cancel(): Promise<void> {
    this.#state = "cancelled";
    if (!this.destroyed) this.destroy();
    await this.#closed;
    await this.inflight;
    this.#buffer = undefined;
    if (this.#uploadId !== undefined) await abortUpload(this.#ctx, this.#uploadId);
    await this.#ctx.client.send(new DeleteObjectCommand({ Bucket: this.#ctx.bucket, Key: this.#ctx.key }));
  }

  protected async accept(chunk: Buffer): Promise<void> {
    const partSize = this.#ctx.partSize;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#buffer === undefined || this.#length === this.#buffer.length) this.#grow(chunk.length - offset);
      const buffer = this.#buffer!;
      const copied = chunk.copy(buffer, this.#length, offset, offset + Math.min(chunk.length - offset, buffer.length - this.#length));
      this.#length += copied;
      this.written += copied;
      offset += copied;
      if (this.#length === partSize) await this.#flushPart();
    }
  }

  #grow(incoming: number): void {
    const partSize = this.#ctx.partSize;
    const current = this.#buffer?.length ?? 0;
    const capacity =
      this.#fullParts > 0 ? partSize : Math.min(partSize, Math.max(FIRST_BUFFER, current * 2, this.#length + incoming));
    const next = (capacity === partSize ? this.#spare.pop() : undefined) ?? Buffer.allocUnsafe(capacity);
    if (this.#buffer && this.#length > 0) this.#buffer.copy(next, 0, 0, this.#length);
    this.#buffer = next;
  }

  /** The buffered bytes, handed over (the writer keeps no reference). */
  #take(): Buffer {
    const body = this.#buffer ? this.#buffer.subarray(0, this.#length) : Buffer.alloc(0);
    this.#buffer = undefined;
    this.#length = 0;
    return body;
  }

  async #flushPart(): Promise<void> {
    const body = this.#take();
    this.#fullParts += 1;
    // One part uploads while the next fills; a second full part waits for the first.
    await this.settle();
    await this.#ensureUpload();
    const partNumber = this.#nextPart++;
    this.track(
      this.#uploadPart(partNumber, body).then(() => {
        // The SDK is done with the bytes (retries included): the buffer can take the next part.
        if (body.buffer.byteLength === body.length && this.#spare.length === 0) this.#spare.push(body);
      }),
    );
  }

  async #ensureUpload(): Promise<void> {
    if (this.#uploadId !== undefined) return;
    const { client, bucket, key, objectParams } = this.#ctx;
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...objectParams }));
    if (!created.UploadId) throw new Error(`CreateMultipartUpload for ${key} returned no upload id`);
    this.#uploadId = created.UploadId;
    if (this.#copyBase > 0) {
      const { copyChunkSize: chunkSize, copyConcurrency: concurrency } = this.#ctx;
      const firstPart = this.#nextPart;
      this.#nextPart += partRanges(this.#copyBase, chunkSize).length;
      const copied = await copyParts(this.#ctx, created.UploadId, { source: key, size: this.#copyBase, chunkSize, concurrency, firstPart });
      this.#parts.push(...copied);
      this.#copyBase = 0;
    }
  }

  async #uploadPart(partNumber: number, body: Buffer): Promise<void> {
    if (partNumber > MAX_PARTS) {
      throw new Error(`${this.#ctx.key}: more than ${MAX_PARTS} parts of ${this.#ctx.partSize} bytes; raise chunksize`);
    }
    const result = await this.#ctx.client.send(
      new UploadPartCommand({
        Bucket: this.#ctx.bucket,
        Key: this.#ctx.key,
        UploadId: this.#uploadId,
        PartNumber: partNumber,
        Body: body,
        ContentLength: body.length,
      }),
    );
    this.#parts.push({ PartNumber: partNumber, ETag: result.ETag });
  }

  /** Best effort after an abandoned write: complete what was uploaded, buffer included. */
  async #salvage(): Promise<void> {
    await this.inflight;
    this.inflight = undefined;
    if (this.failure) return;
    if (this.#length > 0) await this.#uploadPart(this.#nextPart++, this.#take());
    if (this.#parts.length > 0) await completeUpload(this.#ctx, this.#uploadId!, this.#parts);
  }
}

async function headObject(ctx: WriterContext): Promise<{ size: number; lastModified: number; etag: string | undefined } | undefined> {
  try {
    const head = await ctx.client.send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: ctx.key }));
    return { size: head.ContentLength ?? 0, lastModified: head.LastModified?.getTime() ?? 0, etag: head.ETag };
  } catch (error) {
    if (isMissingKey(error)) return undefined;
    throw error;
  }
}

async function download(ctx: WriterContext): Promise<Buffer> {
  const object = await ctx.client.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: ctx.key }));
  const bytes = (await object.Body?.transformToByteArray()) ?? new Uint8Array();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
