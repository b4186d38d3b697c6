import { createHash } from "node:crypto";
import type { Digest, DigestAlgorithm } from "./reference.js";

export function digestOf(content: Buffer | string, algorithm: DigestAlgorithm = "sha256"): Digest {
  const hex = createHash(algorithm).update(content).digest("hex");
  return { algorithm, hex, value: `${algorithm}:${hex}` };
}
