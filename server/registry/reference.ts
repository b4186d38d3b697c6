import { RegistryError } from "./errors.js";

/**
 * The spec's grammar for what clients put in URLs: repository names, tags and digests. Everything
 * that reaches storage paths passes through here first, so no client input can step outside the
 * storage root (no "..", no "_" components, no empty components).
 */
const nameComponent = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const digestPattern = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const lowerHex = /^[0-9a-f]+$/;

export const maxNameLength = 255;

/** Digest algorithms Berth can verify, with the length of their hex encoding. */
export const digestAlgorithms = { sha256: 64, sha384: 96, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof digestAlgorithms;

export interface Digest {
  algorithm: DigestAlgorithm;
  hex: string;
  /** `algorithm:hex`, as clients send and storage links hold it. */
  value: string;
}

export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= maxNameLength && name.split("/").every((c) => nameComponent.test(c));
}

export function parseName(name: string): string {
  if (!isValidName(name)) throw new RegistryError("NAME_INVALID", { name });
  return name;
}

export function isValidTag(tag: string): boolean {
  return tagPattern.test(tag);
}

export function parseTag(tag: string): string {
  if (!isValidTag(tag)) throw new RegistryError("TAG_INVALID", { tag }, "invalid tag");
  return tag;
}

/** Parses a digest, or returns undefined when it is not one; throws only for unsupported ones. */
export function tryParseDigest(value: string): Digest | undefined {
  const match = digestPattern.exec(value);
  if (!match) return undefined;
  const algorithm = match[1] as string;
  const hex = match[2] as string;
  if (!Object.hasOwn(digestAlgorithms, algorithm)) {
    throw new RegistryError("DIGEST_INVALID", { digest: value }, `unsupported digest algorithm ${algorithm}`);
  }
  const digest = digestFromParts(algorithm, hex);
  if (!digest) throw new RegistryError("DIGEST_INVALID", { digest: value }, `invalid ${algorithm} digest`);
  return digest;
}

/**
 * The digest stored as `<algorithm>/<hex>` directories, or undefined when the two do not make a
 * supported one. Scans call this for every blob and link directory, so it runs no grammar regex.
 */
export function digestFromParts(algorithm: string, hex: string): Digest | undefined {
  const length = Object.hasOwn(digestAlgorithms, algorithm) ? digestAlgorithms[algorithm as DigestAlgorithm] : undefined;
  if (hex.length !== length || !lowerHex.test(hex)) return undefined;
  return { algorithm: algorithm as DigestAlgorithm, hex, value: `${algorithm}:${hex}` };
}

/** Whether `value` is a digest Berth can verify (unsupported algorithms are not). */
export function isDigestString(value: string): boolean {
  try {
    return tryParseDigest(value) !== undefined;
  } catch {
    return false;
  }
}

export function parseDigest(value: string): Digest {
  const digest = tryParseDigest(value);
  if (!digest) throw new RegistryError("DIGEST_INVALID", { digest: value }, "invalid digest");
  return digest;
}

/** A manifest reference: a digest if it has the shape of one, a tag otherwise. */
export type ManifestReference = { kind: "digest"; digest: Digest } | { kind: "tag"; tag: string };

/**
 * `invalidTag` is the answer to a reference that is neither: TAG_INVALID where it would create a
 * tag, MANIFEST_UNKNOWN where it looks one up (no manifest can have such a tag, and the spec's
 * conformance suite expects a pull of one to get 404).
 */
export function parseReference(reference: string, invalidTag: "TAG_INVALID" | "MANIFEST_UNKNOWN" = "TAG_INVALID"): ManifestReference {
  if (reference.includes(":")) return { kind: "digest", digest: parseDigest(reference) };
  if (invalidTag === "MANIFEST_UNKNOWN" && !isValidTag(reference)) {
    throw new RegistryError("MANIFEST_UNKNOWN", { tag: reference }, "manifest unknown: the reference is not a valid tag");
  }
  return { kind: "tag", tag: parseTag(reference) };
}
