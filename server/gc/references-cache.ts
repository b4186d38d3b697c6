import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import { z } from "zod";
import { layoutRoot } from "../registry/layout.js";
import { isDigestString } from "../registry/reference.js";
import { isNotFound, type StorageDriver } from "../registry/storage/driver.js";
import type { ManifestReferences } from "./references.js";

/**
 * What the last collection read of every manifest it kept: the references of a digest, saved in
 * the storage so the next run (on any instance, or the CLI) does not read those manifests again.
 * Reading manifests is most of the mark's work (one read per manifest; on S3 one request each),
 * while the manifests themselves rarely change between runs.
 *
 * Trusting it is safe because a digest names immutable content: the references of sha256:X are
 * the same today as when they were read. Nothing else is taken from it (which revisions and tags
 * exist is always listed afresh), so a stale cache can only hold digests nobody asks for. A cache
 * that does not parse whole (a torn write, another version's format) is ignored with a warning.
 */
export const referencesCachePath = `${layoutRoot}/_berth/gc/references.json.gz`;

const kinds = ["image", "index", "schema1", "unknown"] as const;
const digest = z.string().refine(isDigestString, "not a digest");
/** `[digest, kind, blobs, manifests, subject?]`: compact, since a registry has many thousands. */
const entrySchema = z.union([
  z.tuple([digest, z.enum(kinds), z.array(digest), z.array(digest)]),
  z.tuple([digest, z.enum(kinds), z.array(digest), z.array(digest), digest]),
]);
const cacheSchema = z.object({ version: z.literal(1), entries: z.array(entrySchema) });

export async function loadReferencesCache(driver: StorageDriver, warn: (message: string) => void): Promise<Map<string, ManifestReferences>> {
  let packed: Buffer;
  try {
    packed = await driver.getContent(referencesCachePath);
  } catch (error) {
    if (isNotFound(error)) return new Map();
    throw error;
  }
  try {
    const parsed = cacheSchema.parse(JSON.parse((await promisify(gunzip)(packed)).toString("utf8")));
    return new Map(
      parsed.entries.map(([digest, kind, blobs, manifests, subject]) => [digest, { kind, blobs, manifests, ...(subject ? { subject } : {}) }]),
    );
  } catch (error) {
    warn(`the saved manifest references (${referencesCachePath}) are unreadable and were ignored: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
    return new Map();
  }
}

export async function saveReferencesCache(driver: StorageDriver, references: Iterable<[string, ManifestReferences]>): Promise<void> {
  const entries = [...references].map(([digest, { kind, blobs, manifests, subject }]) =>
    subject ? [digest, kind, blobs, manifests, subject] : [digest, kind, blobs, manifests],
  );
  await driver.putContent(referencesCachePath, await promisify(gzip)(JSON.stringify({ version: 1, entries })));
}
