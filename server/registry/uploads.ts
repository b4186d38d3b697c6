import { createHash, randomUUID, type Hash } from "node:crypto";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { BlobInfo, BlobStore } from "./blobs.js";
import { digestFromHash, HashingStream } from "./digest.js";
import { RegistryError } from "./errors.js";
import { layout } from "./layout.js";
import type { Digest } from "./reference.js";
import { ignoreNotFound, isNotFound, type StorageDriver } from "./storage/driver.js";

export interface Upload {
  name: string;
  id: string;
  /** Bytes received so far. */
  offset: number;
  startedAt: string;
}

const maxCachedHashes = 4096;
/**
 * Below this size finish() moves an upload without first asking whether the blob exists: a
 * needless move of a small blob costs less than the question (a listing on S3), and rewriting a
 * blob with the verified bytes of its digest changes nothing.
 */
const checkBeforeMoveBytes = 8 * 1024 * 1024;
const uploadId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Blob uploads in distribution's layout (`_uploads/<id>/data` + `startedat`). Storage is the
 * source of truth, so an upload survives a restart and can be continued by another instance;
 * the running sha256 is kept in memory only as a shortcut and recomputed from the data when
 * missing.
 */
export class UploadStore {
  /** Since start: sessions begun, completed into a blob, and cancelled or discarded. */
  readonly counts = { started: 0, completed: 0, cancelled: 0 };
  private readonly hashes = new Map<string, { hash: Hash; offset: number }>();

  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
  ) {}

  async start(name: string): Promise<Upload> {
    const id = randomUUID();
    const startedAt = new Date().toISOString();
    // Independent writes; a crash between them leaves a directory the purge removes by its age.
    await Promise.all([
      this.driver.putContent(layout.uploadStartedAt(name, id), startedAt),
      this.driver.writer(layout.uploadData(name, id), false).then((writer) => writer.commit()),
    ]);
    this.remember(key(name, id), { hash: createHash("sha256"), offset: 0 });
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
      return { name, id, offset: data.size, startedAt: started };
    } catch (error) {
      if (isNotFound(error)) throw unknown();
      throw error;
    }
  }

  /**
   * Appends a request body. `expectedStart` (from Content-Range) must equal the current size;
   * `expectedLength` (from Content-Length) must equal what arrives.
   */
  async append(upload: Upload, body: Readable, expectedLength?: number): Promise<Upload> {
    const state = await this.hashAt(upload);
    const writer = await this.driver.writer(layout.uploadData(upload.name, upload.id), true);
    if (writer.size !== upload.offset) {
      // Bytes a crashed instance left in flight (an open S3 multipart upload) surfaced only now:
      // appending would hash one content and store another. The client re-reads the status.
      writer.destroy();
      this.hashes.delete(key(upload.name, upload.id));
      throw new RegistryError("BLOB_UPLOAD_INVALID", { expectedOffset: upload.offset, storedSize: writer.size }, "the upload's stored data changed; get its status and resume from there");
    }
    const hashing = new HashingStream(state.hash);
    try {
      await pipeline(body, hashing, writer);
      await writer.commit();
    } catch (error) {
      // What reached storage is still the upload's content; the hash is rebuilt from it later.
      this.hashes.delete(key(upload.name, upload.id));
      throw error;
    }
    state.offset += hashing.bytes;
    if (expectedLength !== undefined && hashing.bytes !== expectedLength) {
      this.hashes.delete(key(upload.name, upload.id));
      throw new RegistryError("SIZE_INVALID", { expected: expectedLength, received: hashing.bytes });
    }
    return { ...upload, offset: state.offset };
  }

  /**
   * Verifies the upload against `digest` and moves it into the blob store, linked into the
   * repository. A mismatch discards the upload: nothing half-verified is ever stored.
   */
  async finish(upload: Upload, digest: Digest): Promise<BlobInfo> {
    const actual =
      digest.algorithm === "sha256"
        ? digestFromHash((await this.hashAt(upload)).hash, "sha256")
        : await this.rehash(upload, digest.algorithm).then((h) => digestFromHash(h, digest.algorithm));
    this.hashes.delete(key(upload.name, upload.id));
    if (actual.value !== digest.value) {
      await this.cancel(upload.name, upload.id);
      throw new RegistryError("DIGEST_INVALID", { expected: digest.value, actual: actual.value });
    }
    const size = upload.offset < checkBeforeMoveBytes ? undefined : await this.blobs.statData(digest);
    if (size === undefined) {
      await this.driver.move(layout.uploadData(upload.name, upload.id), layout.blobData(digest));
    }
    await this.blobs.link(upload.name, digest);
    // The blob is complete and linked; the client need not wait for the leftovers (on S3 a
    // listing and a deletion) to go. One that fails is the purge's, like any abandoned upload.
    void this.driver.delete(layout.uploadDir(upload.name, upload.id)).catch(() => undefined);
    this.counts.completed += 1;
    return { digest, size: size ?? upload.offset };
  }

  async cancel(name: string, id: string): Promise<void> {
    this.hashes.delete(key(name, id));
    this.counts.cancelled += 1;
    await this.driver.delete(layout.uploadDir(name, id)).catch(ignoreNotFound);
  }

  /** The running hash positioned at the upload's current size. */
  private async hashAt(upload: Upload): Promise<{ hash: Hash; offset: number }> {
    const cached = this.hashes.get(key(upload.name, upload.id));
    if (cached && cached.offset === upload.offset) return cached;
    const state = { hash: await this.rehash(upload, "sha256"), offset: upload.offset };
    this.remember(key(upload.name, upload.id), state);
    return state;
  }

  /** Abandoned uploads must not pin hashes forever: the oldest are dropped (and rebuilt if used). */
  private remember(id: string, state: { hash: Hash; offset: number }): void {
    this.hashes.set(id, state);
    if (this.hashes.size > maxCachedHashes) {
      const oldest = this.hashes.keys().next().value;
      if (oldest !== undefined) this.hashes.delete(oldest);
    }
  }

  private async rehash(upload: Upload, algorithm: string): Promise<Hash> {
    const hash = createHash(algorithm);
    if (upload.offset === 0) return hash;
    const reader = await this.driver.reader(layout.uploadData(upload.name, upload.id), 0, upload.offset);
    for await (const chunk of reader) hash.update(chunk as Buffer);
    return hash;
  }
}

function key(name: string, id: string): string {
  return `${name}\0${id}`;
}
