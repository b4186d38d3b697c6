import { randomUUID } from "node:crypto";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { BlobInfo, BlobStore } from "./blobs.js";
import { RegistryError } from "./errors.js";
import { layout } from "./layout.js";
import type { Digest } from "./reference.js";
import { ignoreNotFound, isNotFound, type StorageDriver } from "./storage/driver.js";
import { nativeHasher, resumableHasher, resumeHasher, type UploadHasher } from "./upload-hash.js";
import { UploadLeases, type UploadLease } from "./upload-lease.js";

export interface Upload {
  name: string;
  id: string;
  /** Bytes received so far. */
  offset: number;
  startedAt: string;
}

export type { UploadLease };

const maxCachedHashes = 4096;
const uploadId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Blob uploads in distribution's layout (`_uploads/<id>/data` + `startedat`). Storage is the
 * source of truth, so an upload survives a restart and can be continued by another instance.
 *
 * Every request that changes an upload holds its lease (upload-lease.ts), so one request at a
 * time, on any instance, appends to it, completes it or cancels it, and the running hash always
 * describes exactly the bytes in storage. The hash of an upload one instance carries alone stays
 * in that instance's memory (Node's fast hash); once a chunk lands on another instance, the
 * upload switches to a hash whose state is saved with it after every chunk, so alternating
 * instances cost no more than one.
 */
export class UploadStore {
  /** Since start: sessions begun, completed into a blob, and cancelled or discarded. */
  readonly counts = { started: 0, completed: 0, cancelled: 0 };
  /** Hashers at rest between requests; a request takes its upload's out while it works. */
  private readonly hashers = new Map<string, UploadHasher>();
  private readonly leases: UploadLeases;

  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
  ) {
    this.leases = new UploadLeases(driver);
  }

  async start(name: string): Promise<Upload> {
    const id = randomUUID();
    const startedAt = new Date().toISOString();
    // Independent writes; a crash between them leaves a directory the purge removes by its age.
    await Promise.all([
      this.driver.putContent(layout.uploadStartedAt(name, id), startedAt),
      this.driver.writer(layout.uploadData(name, id), false).then((writer) => writer.commit()),
    ]);
    this.rest(name, id, nativeHasher());
    this.counts.started += 1;
    return { name, id, offset: 0, startedAt };
  }

  /**
   * The upload as storage has it. `startedAt`, known from the signed state of the request's URL,
   * spares reading it again; the offset always comes from storage.
   */
  async get(name: string, id: string, startedAt?: string): Promise<Upload> {
    const unknown = () => new RegistryError("BLOB_UPLOAD_UNKNOWN", { uuid: id });
    if (!uploadId.test(id)) throw unknown();
    try {
      const [started, data] = await Promise.all([
        startedAt ?? this.driver.getContent(layout.uploadStartedAt(name, id)).then((content) => content.toString("utf8")),
        this.driver.stat(layout.uploadData(name, id)),
      ]);
      if (data.isDir) throw unknown();
      return { name, id, offset: data.size, startedAt: started };
    } catch (error) {
      if (isNotFound(error)) throw unknown();
      throw error;
    }
  }

  /**
   * Runs `work` as the only writer of the upload, with the upload as storage has it once the
   * lease is held (a completed or cancelled upload is unknown by then). Refused with 416 while
   * another request writes it. The lease is gone when this resolves, before any answer is sent.
   */
  async exclusive<T>(name: string, id: string, startedAt: string | undefined, work: (upload: Upload, lease: UploadLease) => Promise<T>): Promise<T> {
    // Known first, so that no claim is ever written for an upload that does not exist.
    await this.get(name, id, startedAt);
    let lease: UploadLease;
    try {
      lease = await this.leases.claim(name, id);
    } catch (error) {
      // The upload may have been completed or cancelled (its directory removed) meanwhile.
      await this.get(name, id, startedAt);
      throw error;
    }
    try {
      return await work(await this.get(name, id, startedAt), lease);
    } finally {
      await lease.release();
    }
  }

  /**
   * Appends a request body at the upload's end. `expectedLength` (from Content-Length) must
   * equal what arrives. With a lease, each chunk is written only while the lease holds.
   * `onHashed` learns the sha256 of the whole upload (hex) and its length as soon as the last
   * byte is hashed, before the data is flushed to storage.
   */
  async append(upload: Upload, body: Readable, expectedLength: number | undefined, lease?: UploadLease, onHashed?: (hex: string, bytes: number) => void): Promise<Upload> {
    const hasher = await this.hasherAt(upload, "append");
    const writer = await this.driver.writer(layout.uploadData(upload.name, upload.id), true);
    if (writer.size !== upload.offset) {
      // Bytes a crashed instance left in flight (an open S3 multipart upload) surfaced only now:
      // appending would hash one content and store another. The client re-reads the status.
      writer.destroy();
      throw new RegistryError("BLOB_UPLOAD_INVALID", { expectedOffset: upload.offset, storedSize: writer.size }, "the upload's stored data changed; get its status and resume from there", { status: 416 });
    }
    const hashing = new HashingStream(hasher, lease ? () => lease.check(upload.id) : undefined, onHashed && (() => onHashed(hasher.peekHex(), hasher.offset)));
    // What reached storage on a failure is still the upload's content; the hash state is not
    // kept, so the next request rebuilds it from storage.
    await pipeline(body, hashing, writer);
    await writer.commit();
    const written = { ...upload, offset: hasher.offset };
    if (expectedLength !== undefined && hashing.bytes !== expectedLength) {
      throw new RegistryError("SIZE_INVALID", { expected: expectedLength, received: hashing.bytes });
    }
    await this.keep(written, hasher);
    return written;
  }

  /**
   * Verifies the upload against `digest` and moves it into the blob store, linked into the
   * repository. A mismatch discards the upload: nothing unverified is ever stored. An existing
   * blob is never replaced or appended to: the upload's bytes are then dropped.
   */
  async finish(upload: Upload, digest: Digest): Promise<BlobInfo> {
    const actual = (await this.hasherAt(upload, "finish", digest.algorithm)).digestHex();
    if (actual !== digest.hex) {
      await this.discard(upload.name, upload.id);
      throw new RegistryError("DIGEST_INVALID", { expected: digest.value, actual: `${digest.algorithm}:${actual}` });
    }
    const data = layout.uploadData(upload.name, upload.id);
    const blob = layout.blobData(digest);
    // The stored bytes must be exactly the hashed ones: a size that moved means a write this
    // request did not see, and the hash no longer describes the data.
    const stored = await this.driver.stat(data);
    if (stored.size !== upload.offset) {
      await this.discard(upload.name, upload.id);
      throw new RegistryError("BLOB_UPLOAD_INVALID", { hashed: upload.offset, stored: stored.size }, "the upload changed while it was completed; upload the blob again");
    }
    // A blob a running garbage collection is deleting is stored again from this upload's bytes.
    const size = await this.blobs.restore(digest, async () => {
      const existing = await this.blobs.statData(digest);
      if (existing === undefined && (await this.driver.moveIfAbsent(data, blob))) {
        const placed = await this.driver.stat(blob);
        if (placed.size !== upload.offset) {
          // Bytes landed between the check and the move: this request's own new blob is wrong.
          await this.driver.delete(blob).catch(ignoreNotFound);
          throw new RegistryError("BLOB_UPLOAD_INVALID", { hashed: upload.offset, stored: placed.size }, "the upload changed while it was completed; upload the blob again");
        }
        return upload.offset;
      }
      // Gone now, so a late request on this upload finds it unknown instead of writing to it.
      await this.driver.delete(data).catch(ignoreNotFound);
      return existing ?? (await this.driver.stat(blob)).size;
    });
    await this.blobs.link(upload.name, digest);
    // The blob is complete and linked; the client need not wait for the leftovers (on S3 a
    // listing and a deletion) to go. One that fails is the purge's, like any abandoned upload.
    this.hashers.delete(key(upload.name, upload.id));
    void this.driver.delete(layout.uploadDir(upload.name, upload.id)).catch(() => undefined);
    this.counts.completed += 1;
    return { digest, size };
  }

  /** Cancels an upload: its data goes first, so nothing can be appended to it any more. */
  async cancel(name: string, id: string): Promise<void> {
    await this.discard(name, id);
  }

  private async discard(name: string, id: string): Promise<void> {
    this.hashers.delete(key(name, id));
    this.counts.cancelled += 1;
    await this.driver.delete(layout.uploadData(name, id)).catch(ignoreNotFound);
    await this.driver.delete(layout.uploadDir(name, id)).catch(ignoreNotFound);
  }

  /**
   * The hash positioned at the upload's offset, taken out of the cache so that no other request
   * can touch it: this instance's own when it wrote the last chunk, else the state saved with the
   * upload, else rebuilt from storage. An upload that will be appended to again is rebuilt
   * resumable (its chunks are changing instances); one being completed, with Node's hash.
   */
  private async hasherAt(upload: Upload, purpose: "append" | "finish", algorithm = "sha256"): Promise<UploadHasher> {
    const id = key(upload.name, upload.id);
    const cached = this.hashers.get(id);
    this.hashers.delete(id);
    if (algorithm === "sha256") {
      if (cached && cached.offset === upload.offset) return cached;
      if (upload.offset === 0) return nativeHasher();
    }
    const saved = algorithm === "sha256" ? await this.savedHasher(upload) : undefined;
    if (saved?.offset === upload.offset) return saved;
    if (purpose === "finish") {
      const hasher = nativeHasher(algorithm);
      await this.feed(upload, hasher, 0);
      return hasher;
    }
    const hasher = saved ?? (await resumableHasher());
    await this.feed(upload, hasher, hasher.offset);
    return hasher;
  }

  /** Keeps the hash for the next request: in memory, and in storage when it is resumable. */
  private async keep(upload: Upload, hasher: UploadHasher): Promise<void> {
    const state = hasher.save();
    if (state) {
      const record = JSON.stringify({ offset: hasher.offset, state: state.toString("base64") });
      // Lost in a crash, it is rebuilt from the data.
      await this.driver.putContent(layout.uploadHashState(upload.name, upload.id), record, { ephemeral: true });
    }
    this.rest(upload.name, upload.id, hasher);
  }

  private async savedHasher(upload: Upload): Promise<UploadHasher | undefined> {
    let record: { offset?: unknown; state?: unknown };
    try {
      record = JSON.parse((await this.driver.getContent(layout.uploadHashState(upload.name, upload.id))).toString("utf8")) as typeof record;
    } catch (error) {
      if (isNotFound(error) || error instanceof SyntaxError) return undefined;
      throw error;
    }
    const { offset, state } = record;
    if (typeof offset !== "number" || typeof state !== "string" || offset > upload.offset) return undefined;
    return resumeHasher(Buffer.from(state, "base64"), offset);
  }

  /** Feeds the upload's stored bytes from `from` to its offset into `hasher`. */
  private async feed(upload: Upload, hasher: UploadHasher, from: number): Promise<void> {
    if (from >= upload.offset) return;
    const reader = await this.driver.reader(layout.uploadData(upload.name, upload.id), from, upload.offset);
    for await (const chunk of reader) hasher.update(chunk as Buffer);
  }

  /** Abandoned uploads must not pin hashers forever: the oldest are dropped (and rebuilt if used). */
  private rest(name: string, id: string, hasher: UploadHasher): void {
    this.hashers.set(key(name, id), hasher);
    if (this.hashers.size > maxCachedHashes) {
      const oldest = this.hashers.keys().next().value;
      if (oldest !== undefined) this.hashers.delete(oldest);
    }
  }
}

/**
 * Feeds every chunk to the upload's hash on its way to storage (a body is never read twice),
 * after asking `mayWrite`: a request whose lease ran out stops before its next chunk lands.
 */
class HashingStream extends Transform {
  bytes = 0;
  constructor(
    private readonly hasher: UploadHasher,
    private readonly mayWrite?: () => void,
    private readonly onEnd?: () => void,
  ) {
    super();
  }
  override _flush(callback: TransformCallback): void {
    this.onEnd?.();
    callback();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.mayWrite?.();
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.hasher.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

function key(name: string, id: string): string {
  return `${name}\0${id}`;
}
