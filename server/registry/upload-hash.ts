import { createHash, type Hash } from "node:crypto";
import type { IHasher } from "hash-wasm";

/**
 * The running sha256 of an upload's bytes. Two implementations: Node's own (OpenSSL, several
 * times faster, but its state cannot leave the process) for uploads that one instance carries
 * from start to end, and a resumable one whose state is saved with the upload, so a chunk that
 * lands on another instance continues the hash instead of re-reading everything before it.
 */
export interface UploadHasher {
  /** Bytes hashed so far: the upload's offset this state belongs to. */
  readonly offset: number;
  readonly resumable: boolean;
  update(chunk: Buffer): void;
  /** Hex digest of everything so far; the hasher is finished afterwards. */
  digestHex(): string;
  /** Hex digest of everything so far, the hasher going on as before. */
  peekHex(): string;
  /** A state `resumeHasher` continues from, or undefined when this one cannot leave the process. */
  save(): Buffer | undefined;
}

class NativeHasher implements UploadHasher {
  readonly resumable = false;
  constructor(
    private readonly hash: Hash,
    public offset: number,
  ) {}
  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.offset += chunk.length;
  }
  digestHex(): string {
    return this.hash.digest("hex");
  }
  peekHex(): string {
    return this.hash.copy().digest("hex");
  }
  save(): undefined {
    return undefined;
  }
}

class ResumableHasher implements UploadHasher {
  readonly resumable = true;
  constructor(
    private readonly hasher: IHasher,
    public offset: number,
  ) {}
  update(chunk: Buffer): void {
    this.hasher.update(chunk);
    this.offset += chunk.length;
  }
  digestHex(): string {
    return this.hasher.digest("hex");
  }
  peekHex(): string {
    const state = this.hasher.save();
    const hex = this.hasher.digest("hex");
    this.hasher.load(state);
    return hex;
  }
  save(): Buffer {
    return Buffer.from(this.hasher.save());
  }
}

/** Node's hash; `algorithm` for the other digests a client may name (sha512), never resumable. */
export function nativeHasher(algorithm = "sha256"): UploadHasher {
  return new NativeHasher(createHash(algorithm), 0);
}

/**
 * hash-wasm (~10 MiB resident: every algorithm's WebAssembly) is loaded at the first resumable
 * hash, which a single instance holding its uploads never needs.
 */
async function createSHA256(): Promise<IHasher> {
  return (await import("hash-wasm")).createSHA256();
}

export async function resumableHasher(): Promise<UploadHasher> {
  const hasher = await createSHA256();
  hasher.init();
  return new ResumableHasher(hasher, 0);
}

/**
 * Continues a saved state at `offset`, or undefined when it cannot be read (another version of
 * the hashing library wrote it, or it is damaged): the caller rebuilds the hash from the data.
 */
export async function resumeHasher(state: Buffer, offset: number): Promise<UploadHasher | undefined> {
  const hasher = await createSHA256();
  try {
    hasher.load(new Uint8Array(state.buffer, state.byteOffset, state.byteLength));
  } catch {
    return undefined;
  }
  return new ResumableHasher(hasher, offset);
}
