/**
 * Synthetic index content, written through the index's own insert API (no storage reads):
 * for query semantics and timings.
 */
import { createHash } from "node:crypto";
import type { IndexDatabaseSettings } from "../../server/index/database.js";
import { openMetadataIndex, type MetadataIndex } from "../../server/index/metadata-index.js";
import type { BlobRef, ManifestRecord, Platform } from "../../server/index/types.js";
import { createLogger } from "../../server/log.js";
import { createRegistry } from "../../server/registry/handler.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST } from "../http/harness.js";

export function fakeDigest(label: string): string {
  return `sha256:${createHash("sha256").update(label).digest("hex")}`;
}

export function blob(label: string, size: number, mediaType = OCI_LAYER): BlobRef {
  return { digest: fakeDigest(label), size, mediaType };
}

export function imageRecord(options: {
  label: string;
  config: BlobRef;
  layers: BlobRef[];
  created?: string | null;
  pushed: number;
  platform?: Platform;
}): ManifestRecord {
  return {
    digest: fakeDigest(options.label),
    mediaType: OCI_MANIFEST,
    kind: "image",
    manifestSize: 500,
    size: options.config.size + options.layers.reduce((sum, layer) => sum + layer.size, 0),
    children: 0,
    created: options.created ? Date.parse(options.created) : null,
    platforms: [options.platform ?? { os: "linux", architecture: "amd64" }],
    artifactType: null,
    config: { ...options.config, mediaType: OCI_CONFIG },
    layers: options.layers,
    pushed: options.pushed,
  };
}

export function indexRecord(label: string, children: { record: ManifestRecord; platform: Platform }[], pushed: number): ManifestRecord {
  const created = children.map((c) => c.record.created).filter((t): t is number => t !== null);
  return {
    digest: fakeDigest(label),
    mediaType: OCI_INDEX,
    kind: "index",
    manifestSize: 300,
    size: children.reduce((sum, c) => sum + c.record.size, 0),
    children: children.length,
    created: created.length ? Math.max(...created) : null,
    platforms: children.map((c) => c.platform),
    artifactType: null,
    config: null,
    layers: [],
    pushed,
  };
}

/** An index (SQLite in memory unless `database` says otherwise) over an empty in-memory registry, for content written through `replaceRepositories`. */
export function standaloneIndex(database: IndexDatabaseSettings = { backend: "sqlite", path: ":memory:" }): Promise<MetadataIndex> {
  const driver = createDriver("inmemory");
  const logger = createLogger({ level: "error", write: () => undefined });
  const registry = createRegistry({ driver, logger, secret: "test" });
  return openMetadataIndex({ database, driver, services: registry.services, logger });
}
