import { layout } from "../registry/layout.js";
import { ManifestFormatError, parseManifest } from "../registry/media-types.js";
import { tryParseDigest } from "../registry/reference.js";
import { isNotFound, type StorageDriver } from "../registry/storage/driver.js";

/**
 * What a stored manifest points at, as garbage collection needs it: blobs it keeps alive
 * (config, layers, schema1 `fsLayers`), manifests it keeps alive (index children) and its
 * `subject` (a weak reference: it decides whether an untagged referrer is kept, it never keeps
 * the subject's content alive by itself).
 */
export interface ManifestReferences {
  kind: "image" | "index" | "schema1" | "unknown";
  /** Digest strings (`sha256:...`) of blobs the manifest needs. */
  blobs: string[];
  /** Digest strings of child manifests (an index's `manifests`). */
  manifests: string[];
  subject?: string;
}

/** A stored manifest whose references cannot be known: collecting around it could destroy data. */
export class UnreadableManifestError extends Error {
  constructor(
    readonly digest: string,
    readonly reason: string,
    readonly repository?: string,
  ) {
    super(`manifest ${digest}${repository ? ` in ${repository}` : ""} cannot be read (${reason}); garbage collection refuses to run while its references are unknown`);
    this.name = "UnreadableManifestError";
  }
}

/**
 * Extracts references from manifest bytes as stored. Known formats go through the engine's
 * parser; schema1 (old LAIN registries) and anything else that is JSON are read field by field,
 * conservatively: every digest-looking value in a referencing position is kept.
 */
export function manifestReferences(digest: string, content: Buffer): ManifestReferences {
  let parsed;
  try {
    parsed = parseManifest(content, undefined, { stored: true });
  } catch (error) {
    if (!(error instanceof ManifestFormatError)) throw error;
    return looseReferences(digest, content, "unknown");
  }
  if (parsed.kind === "schema1") return looseReferences(digest, content, "schema1");
  const subject = parsed.manifest.subject?.digest;
  if (parsed.kind === "index") {
    return { kind: "index", blobs: [], manifests: parsed.manifest.manifests.map((d) => d.digest), ...(subject ? { subject } : {}) };
  }
  // Every layer counts, foreign ones too: marking a digest that is not stored is harmless.
  const blobs = [parsed.manifest.config.digest, ...parsed.manifest.layers.map((d) => d.digest)];
  return { kind: "image", blobs, manifests: [], ...(subject ? { subject } : {}) };
}

function looseReferences(digest: string, content: Buffer, kind: "schema1" | "unknown"): ManifestReferences {
  let json: unknown;
  try {
    json = JSON.parse(content.toString("utf8"));
  } catch {
    throw new UnreadableManifestError(digest, "not JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new UnreadableManifestError(digest, "not a JSON object");
  const fields = json as Record<string, unknown>;
  const blobs = new Set<string>();
  const manifests = new Set<string>();
  const add = (target: Set<string>, value: unknown, key = "digest") => {
    const candidate = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
    if (typeof candidate === "string" && isDigest(candidate)) target.add(candidate);
  };
  // Docker schema1: layers are `fsLayers[].blobSum`; there is no separate config blob.
  for (const layer of arrayOf(fields.fsLayers)) add(blobs, layer, "blobSum");
  add(blobs, fields.config);
  for (const layer of arrayOf(fields.layers)) add(blobs, layer);
  // The withdrawn OCI artifact manifest (`application/vnd.oci.artifact.manifest.v1+json`).
  for (const blob of arrayOf(fields.blobs)) add(blobs, blob);
  for (const child of arrayOf(fields.manifests)) add(manifests, child);
  const subjectSet = new Set<string>();
  add(subjectSet, fields.subject);
  const [subject] = subjectSet;
  return { kind, blobs: [...blobs], manifests: [...manifests], ...(subject ? { subject } : {}) };
}

function arrayOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function isDigest(value: string): boolean {
  try {
    return tryParseDigest(value) !== undefined;
  } catch {
    return false;
  }
}

/**
 * Reads manifests' references by digest, each at most once: content is immutable, so one read
 * serves every repository (and concurrent callers share the read in flight).
 */
export function manifestReferencesReader(driver: StorageDriver): (digest: string) => Promise<ManifestReferences | undefined> {
  const references = new Map<string, Promise<ManifestReferences | undefined>>();
  return (digest) => {
    let pending = references.get(digest);
    if (!pending) {
      pending = readManifestReferences(driver, digest);
      references.set(digest, pending);
    }
    return pending;
  };
}

/** The references of the manifest stored under `digest`; undefined when its content is missing. */
async function readManifestReferences(driver: StorageDriver, digest: string): Promise<ManifestReferences | undefined> {
  const parsed = tryParseDigest(digest);
  if (!parsed) return undefined;
  let content: Buffer;
  try {
    content = await driver.getContent(layout.blobData(parsed));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  return manifestReferences(digest, content);
}
