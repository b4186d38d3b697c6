import { createHash, createPublicKey, X509Certificate, type KeyObject } from "node:crypto";

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 (standard alphabet), without padding. */
export function base32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

/** Anything a public key can be read from. A private key yields its public half. */
export type PublicKeyInput = KeyObject | X509Certificate | string | Buffer;

export function toPublicKey(input: PublicKeyInput): KeyObject {
  if (input instanceof X509Certificate) return input.publicKey;
  if (typeof input === "string" || Buffer.isBuffer(input)) return createPublicKey(input);
  return input.type === "public" ? input : createPublicKey(input);
}

/**
 * docker/libtrust's key ID, which distribution uses as the JWT `kid` to find the signing key:
 * SHA-256 of the DER SubjectPublicKeyInfo, truncated to 240 bits, base32 without padding, in
 * 12 groups of 4 characters joined by ":" (`ABCD:EFGH:...:MNOP`).
 */
export function libtrustKeyId(publicKey: PublicKeyInput): string {
  const der = toPublicKey(publicKey).export({ type: "spki", format: "der" });
  const digest = createHash("sha256").update(der).digest().subarray(0, 30);
  return base32(digest).match(/.{1,4}/g)!.join(":");
}
