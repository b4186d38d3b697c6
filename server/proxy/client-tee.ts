import type { ServerResponse } from "node:http";
import { Transform, type TransformCallback } from "node:stream";

/**
 * Passes an upstream blob through on its way to storage and copies it to the client that asked
 * for it, at the client's pace (a slow client slows the fill, nothing is buffered beyond a chunk).
 * The last chunk is held back until the bytes are verified (`release`): a client never receives a
 * whole response of bytes that do not hash to the digest it asked for; on a mismatch (`abort`)
 * it sees the connection close short of Content-Length. A client that goes away leaves the fill
 * running, so the next pull finds the blob cached.
 */
export class ClientTee extends Transform {
  private held: Buffer | undefined;

  constructor(private readonly res: ServerResponse | undefined) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const previous = this.held;
    this.held = chunk;
    if (!previous || !this.clientLive()) {
      callback(null, chunk);
      return;
    }
    const res = this.res as ServerResponse;
    if (res.write(previous)) {
      callback(null, chunk);
      return;
    }
    const resume = () => {
      res.off("drain", resume);
      res.off("close", resume);
      callback(null, chunk);
    };
    res.once("drain", resume);
    res.once("close", resume);
  }

  /** The bytes are verified: the client gets the last chunk and the end of the response (once; later calls do nothing). */
  release(): void {
    if (this.clientLive()) this.res?.end(this.held);
  }

  /** The fill failed: the client's response is cut short. */
  abort(): void {
    if (this.res && !this.res.writableEnded) this.res.destroy();
  }

  private clientLive(): boolean {
    return this.res !== undefined && !this.res.destroyed && !this.res.writableEnded;
  }
}
