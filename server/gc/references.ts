import { layout } from "../registry/layout.js";
import { manifestKind } from "../registry/media-types.js";
import { isDigestString, tryParseDigest, type Digest } from "../registry/reference.js";
import type { StorageBatch } from "../registry/storage/driver.js";

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
 * Extracts references from manifest bytes as stored, field by field and conservatively: every
 * digest in a referencing position counts, whatever the format (Docker schema1 from old LAIN
 * registries, schema2, OCI, formats the engine does not know). The engine's validating parser is
 * not used: it costs several times the JSON parse, and what it rejects would be read this way
 * anyway. `kind` comes from the declared media type, or the shape where OCI allows none.
 */
export function manifestReferences(digest: string, content: Buffer): ManifestReferences {
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
    if (typeof candidate === "string" && isDigestString(candidate)) target.add(candidate);
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
  return { kind: kindOf(fields), blobs: [...blobs], manifests: [...manifests], ...(subject ? { subject } : {}) };
}

function kindOf(fields: Record<string, unknown>): ManifestReferences["kind"] {
  if (fields.schemaVersion === 1) return "schema1";
  if (typeof fields.mediaType === "string") return manifestKind(fields.mediaType) ?? "unknown";
  if (Array.isArray(fields.manifests)) return "index";
  return fields.config !== null && typeof fields.config === "object" ? "image" : "unknown";
}

function arrayOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * Reads manifests' references by digest, each at most once: content is immutable, so one read
 * serves every repository. `load` reads many in one batch; `get` answers from what was loaded
 * (or reads the one manifest), and concurrent callers share the read in flight.
 */
export class ManifestReferencesReader {
  private readonly known = new Map<string, Promise<ManifestReferences | undefined>>();
  /** Manifests read from storage (not seeded) so far. */
  reads = 0;

  constructor(private readonly batch: StorageBatch) {}

  /** Takes references known without reading (the last run's, references-cache.ts) as read. */
  seed(known: Map<string, ManifestReferences>): void {
    for (const [digest, references] of known) if (!this.known.has(digest)) this.known.set(digest, Promise.resolve(references));
  }

  /** Every manifest read or seeded so far whose references are known. */
  async read(): Promise<Map<string, ManifestReferences>> {
    const entries = await Promise.all([...this.known].map(async ([digest, pending]) => [digest, await pending.catch(() => undefined)] as const));
    return new Map(entries.filter((entry): entry is [string, ManifestReferences] => entry[1] !== undefined));
  }

  /** The references of the manifest stored under `digest`; undefined when its content is missing. */
  async get(digest: string): Promise<ManifestReferences | undefined> {
    await this.load([digest]);
    return this.known.get(digest);
  }

  /** Reads every manifest of `digests` not read yet, in one batch. */
  async load(digests: Iterable<string>): Promise<void> {
    const wanted: { digest: string; parsed: Digest }[] = [];
    for (const digest of new Set(digests)) {
      if (this.known.has(digest)) continue;
      const parsed = tryParseDigest(digest);
      if (parsed) wanted.push({ digest, parsed });
      else this.known.set(digest, Promise.resolve(undefined));
    }
    if (wanted.length === 0) return;
    this.reads += wanted.length;
    const contents = this.batch.getContent(wanted.map(({ parsed }) => layout.blobData(parsed)));
    wanted.forEach(({ digest }, i) => {
      const references = contents.then((all) => {
        const content = all[i];
        return content ? manifestReferences(digest, content) : undefined;
      });
      // Unreadable manifests reject when asked for (`get`), not here.
      references.catch(() => undefined);
      this.known.set(digest, references);
    });
    await contents;
  }
}
