import type { FileHandle } from "node:fs/promises";
import { rm } from "node:fs/promises";
import { Writable } from "node:stream";
import type { FileWriter } from "./driver.js";

/** Large enough that a 1 MiB upload chunk is one writev, small enough to bound memory per upload. */
const HIGH_WATER_MARK = 1 << 20;

/**
 * Streams straight into the object's file through an open handle; nothing is buffered beyond the
 * stream's high-water mark. Writes go to the real path (upload data paths are private to one
 * upload), so an appending writer on another instance sees everything committed before it.
 */
export class FilesystemFileWriter extends Writable implements FileWriter {
  #written = 0;
  #cancelled = false;
  readonly #closed: Promise<void>;

  constructor(
    private readonly handle: FileHandle,
    private readonly initialSize: number,
    private readonly nativePath: string,
  ) {
    super({ highWaterMark: HIGH_WATER_MARK, decodeStrings: true });
    this.#closed = new Promise((resolve) => this.once("close", () => resolve()));
    // A failed write must not crash the process when the caller writes without a pipeline:
    // the error still reaches write callbacks, pipelines, and commit().
    this.on("error", () => {});
  }

  get size(): number {
    return this.initialSize + this.#written;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeAll([chunk]).then(() => callback(), callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.writeAll(chunks.map((entry) => entry.chunk)).then(() => callback(), callback);
  }

  // Syncing before "finish" means a pipeline that ends the writer has already made the data durable.
  override _final(callback: (error?: Error | null) => void): void {
    this.handle.sync().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.handle.close().then(
      () => callback(error),
      (closeError: Error) => callback(error ?? closeError),
    );
  }

  async commit(): Promise<void> {
    if (this.#cancelled) throw new Error(`writer for ${this.nativePath} was cancelled`);
    if (!this.writableEnded && !this.destroyed) this.end();
    await this.#closed;
    if (this.errored) throw this.errored;
    if (!this.writableFinished) throw new Error(`writer for ${this.nativePath} closed before commit`);
  }

  async cancel(): Promise<void> {
    this.#cancelled = true;
    if (!this.destroyed) this.destroy();
    await this.#closed;
    await rm(this.nativePath, { force: true });
  }

  /** writev may write short; keep going until every byte is on its way to disk. */
  private async writeAll(buffers: Buffer[]): Promise<void> {
    let pending = buffers.filter((buffer) => buffer.length > 0);
    while (pending.length > 0) {
      let { bytesWritten } = await this.handle.writev(pending);
      this.#written += bytesWritten;
      const rest: Buffer[] = [];
      for (const buffer of pending) {
        if (bytesWritten >= buffer.length) {
          bytesWritten -= buffer.length;
        } else {
          rest.push(bytesWritten > 0 ? buffer.subarray(bytesWritten) : buffer);
          bytesWritten = 0;
        }
      }
      pending = rest;
    }
  }
}
