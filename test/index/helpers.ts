/**
 * Shared by the metadata index tests: a registry behind the HTTP harness with an index on it,
 * and a few image builders for multi-platform pushes.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { IndexDatabaseSettings } from "../../server/index/database.js";
import { MetadataIndex, openMetadataIndex, type MetadataIndexOptions } from "../../server/index/metadata-index.js";
import { createLogger } from "../../server/log.js";
import {
  buildImage,
  descriptor,
  OCI_INDEX,
  putManifest,
  type Bytes,
  type PushedImage,
  type PushImageOptions,
  type TestRegistry,
} from "../http/harness.js";

export function tempDir(prefix = "berth-index-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface IndexUnderTest {
  index: MetadataIndex;
  /** Lines the index logged (level debug and above). */
  logs: string[];
}

/** An index on `r`; `path` is a SQLite file (default ":memory:") unless `database` says otherwise. */
export async function openIndex(
  r: TestRegistry,
  options: Partial<Omit<MetadataIndexOptions, "database">> & { path?: string; database?: IndexDatabaseSettings } = {},
): Promise<IndexUnderTest> {
  const logs: string[] = [];
  const { path = ":memory:", database = { backend: "sqlite", path }, ...rest } = options;
  const index = await openMetadataIndex({
    database,
    driver: r.driver,
    services: r.registry.services,
    logger: createLogger({ level: "debug", write: (line) => logs.push(line) }),
    ...rest,
  });
  return { index, logs };
}

/** Pushes an image by digest (untagged), as the children of an index are pushed. */
export async function pushUntagged(r: TestRegistry, name: string, options: PushImageOptions = {}): Promise<PushedImage> {
  const image = await buildImage(r, name, options);
  const res = await putManifest(r, name, image.digest, image.manifest, image.mediaType);
  await res.arrayBuffer();
  assert.equal(res.status, 201);
  return image;
}

export interface PushedIndex {
  digest: string;
  manifest: Bytes;
  children: PushedImage[];
}

/** An OCI index over one image per platform, tagged `tag`. */
export async function pushIndex(
  r: TestRegistry,
  name: string,
  tag: string,
  platforms: { os: string; architecture: string; variant?: string; created?: string }[],
): Promise<PushedIndex> {
  const children: PushedImage[] = [];
  for (const platform of platforms) {
    children.push(
      await pushUntagged(r, name, {
        layers: 2,
        configExtra: { os: platform.os, architecture: platform.architecture, ...(platform.variant ? { variant: platform.variant } : {}), created: platform.created },
      }),
    );
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: children.map((child, i) => {
        const { created: _created, ...platform } = platforms[i]!;
        return { ...descriptor(child.mediaType, child.manifest), platform };
      }),
    }),
  );
  const res = await putManifest(r, name, tag, manifest, OCI_INDEX);
  await res.arrayBuffer();
  assert.equal(res.status, 201);
  return { digest: res.headers.get("docker-content-digest")!, manifest, children };
}

/** Config + layers, as the index counts an image's size. */
export function imageSize(image: PushedImage): number {
  return image.config.length + image.layers.reduce((sum, layer) => sum + layer.length, 0);
}

export async function deleteRef(r: TestRegistry, name: string, reference: string): Promise<void> {
  const res = await r.fetch(`/v2/${name}/manifests/${reference}`, { method: "DELETE" });
  await res.arrayBuffer();
  assert.equal(res.status, 202, `DELETE ${name}:${reference}`);
}
