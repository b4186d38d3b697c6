import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import type { Digest, DigestAlgorithm } from "./reference.js";

export function digestOf(content: Buffer | string, algorithm: DigestAlgorithm = "sha256"): Digest {
  const hex = createHash(algorithm).update(content).digest("hex");
  return { algorithm, hex, value: `${algorithm}:${hex}` };
}

export function digestFromHash(hash: Hash, algorithm: DigestAlgorithm): Digest {
  const hex = hash.digest("hex");
  return { algorithm, hex, value: `${algorithm}:${hex}` };
}

/**
 * A pass-through stream that feeds every chunk to a hash and counts bytes, so a body is hashed
 * on its way to storage instead of being read twice.
 */
export class HashingStream extends Transform {
  bytes = 0;
  constructor(readonly hash: Hash) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}
