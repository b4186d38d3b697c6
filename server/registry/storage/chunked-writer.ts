import { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type { FileWriter } from "./driver.js";

/**
 * Where a chunked writer's bytes go: an object store that builds an object from pieces uploaded
 * one after the other (Azure's staged blocks, Swift's segments).
 */
export interface PieceSink {
  /** Stores the next piece. Called in order, never while another call is in flight. */
  piece(body: Buffer): Promise<void>;
  /** Makes every piece stored so far (the object's earlier ones included) the object's content. */
  finish(): Promise<void>;
  /** Removes the object and every piece stored for it. */
  discard(): Promise<void>;
  /**
   * Removes the pieces of a writer destroyed before commit or cancel (a request that broke off),
   * leaving the object as its last commit made it. Optional where such pieces cannot show.
   */
  abandon?(): Promise<void>;
}

/**
 * What the object stores' writers share: a Writable that stays open after end() for commit() or
 * cancel(), counts the bytes it took after the `initialSize` already stored, and uploads one
 * part while the next fills, an upload's failure surfacing at the next write, end or commit.
 */
export abstract class PartUploadWriter extends Writable {
  readonly #initialSize: number;
  protected written = 0;
  protected inflight: Promise<void> | undefined;
  protected failure: { error: unknown } | undefined;

  constructor(initialSize: number, highWaterMark?: number) {
    // Ending the stream (a pipeline does) must leave it open for commit() or cancel().
    super({ decodeStrings: true, autoDestroy: false, ...(highWaterMark !== undefined && { highWaterMark }) });
    this.#initialSize = initialSize;
    // Failures reach write callbacks, pipelines and commit(); an unhandled "error" must not crash the process.
    this.on("error", () => {});
  }

  get size(): number {
    return this.#initialSize + this.written;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.accept(chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.settle().then(() => callback(), callback);
  }

  /** Buffers a written chunk, uploading each part it fills. */
  protected abstract accept(chunk: Buffer): Promise<void>;

  /** Makes `upload` the part in flight (after settle()); its failure is kept for settle(). */
  protected track(upload: Promise<void>): void {
    this.inflight = upload.catch((error: unknown) => {
      this.failure ??= { error };
    });
  }

  /** Waits for the part in flight; rethrows the first upload failure. */
  protected async settle(): Promise<void> {
    await this.inflight;
    this.inflight = undefined;
    if (this.failure) throw this.failure.error;
  }
}

/**
 * A FileWriter that cuts its stream into pieces of `pieceSize` bytes, uploading one while the
 * next fills, so a writer holds at most two pieces in memory whatever the object's size. The
 * last, shorter piece goes at commit.
 */
export class ChunkedWriter extends PartUploadWriter implements FileWriter {
  readonly #sink: PieceSink;
  readonly #pieceSize: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #state: "open" | "committed" | "cancelled" = "open";

  constructor(sink: PieceSink, pieceSize: number, initialSize: number) {
    super(initialSize);
    this.#sink = sink;
    this.#pieceSize = pieceSize;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#state !== "open" || !this.#sink.abandon) {
      callback(error);
      return;
    }
    this.#state = "cancelled";
    const abandon = this.#sink.abandon.bind(this.#sink);
    (this.inflight ?? Promise.resolve())
      .catch(() => undefined)
      .then(abandon)
      .then(
        () => callback(error),
        () => callback(error),
      );
  }

  async commit(): Promise<void> {
    if (this.#state === "cancelled") throw new Error("writer was cancelled");
    if (this.#state === "committed") return;
    if (this.destroyed) throw this.errored ?? new Error("writer closed before commit");
    if (!this.writableEnded) this.end();
    await finished(this, { cleanup: true });
    await this.settle();
    if (this.#buffered > 0) await this.#sink.piece(this.#take());
    await this.#sink.finish();
    this.#state = "committed";
    this.destroy();
  }

  async cancel(): Promise<void> {
    this.#state = "cancelled";
    if (!this.destroyed) this.destroy();
    await this.inflight?.catch(() => undefined);
    this.#chunks = [];
    await this.#sink.discard();
  }

  protected async accept(chunk: Buffer): Promise<void> {
    let rest = chunk;
    while (rest.length > 0) {
      const room = this.#pieceSize - this.#buffered;
      // Copied: the caller may reuse its buffer once the write callback ran.
      const part = Buffer.from(rest.subarray(0, room));
      this.#chunks.push(part);
      this.#buffered += part.length;
      this.written += part.length;
      rest = rest.subarray(part.length);
      if (this.#buffered === this.#pieceSize) await this.#flush();
    }
  }

  async #flush(): Promise<void> {
    const body = this.#take();
    await this.settle();
    this.track(this.#sink.piece(body));
  }

  #take(): Buffer {
    const body = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [];
    this.#buffered = 0;
    return body;
  }
}
