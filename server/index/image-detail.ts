import { BlobTooLargeError } from "../registry/blobs.js";
import { RegistryError } from "../registry/errors.js";
import type { Services } from "../registry/http/context.js";
import { parseName, parseReference, type Digest } from "../registry/reference.js";
import { isNotFound } from "../registry/storage/driver.js";
import { configHistory, imageConfigMediaTypes, isMissingOrInvalid, maxConfigBytes, parseImageConfig, readConfig, summarizeConfig } from "./describe.js";
import { IndexNotFoundError } from "./errors.js";
import type { IndexStore } from "./store.js";
import type { ChildRow, ConfigSummary, HistoryRow, ImageDetail } from "./types.js";

/**
 * A manifest's detail, read from storage (one manifest and, for an image, its config blob):
 * children of an index, or layers, config summary and history of an image; referrers; the
 * raw manifest. `reference` is a tag or a digest. The index adds what it knows: push time,
 * tags, children's sizes.
 */
export async function imageDetail(services: Services, store: IndexStore, repository: string, reference: string): Promise<ImageDetail> {
  parseName(repository);
  const ref = parseReference(reference);
  let digest: Digest;
  if (ref.kind === "tag") {
    const resolved = await services.tags.resolve(repository, ref.tag);
    if (!resolved) throw new IndexNotFoundError(`tag ${repository}:${ref.tag} not found`);
    digest = resolved;
  } else {
    digest = ref.digest;
  }
  let stored;
  try {
    stored = await services.manifests.get(repository, digest);
  } catch (error) {
    if (error instanceof RegistryError && error.code === "MANIFEST_UNKNOWN") {
      throw new IndexNotFoundError(`manifest ${repository}@${digest.value} not found`, { cause: error });
    }
    throw error;
  }
  const referrers = await services.manifests.referrers(repository, digest);
  const id = await store.repositoryId(repository);
  const [row, tags] = id === undefined ? [undefined, []] : await Promise.all([store.manifest(id, digest.value), store.tagsSharing(id, digest.value)]);
  const { parsed } = stored;
  const base = {
    repository,
    digest: digest.value,
    mediaType: stored.mediaType,
    manifestSize: stored.content.length,
    tags,
    pushed: row?.pushed ?? null,
    annotations: parsed.manifest.annotations ?? {},
    subject: parsed.manifest.subject?.digest ?? null,
    referrers: referrers.map((d) => ({
      digest: d.digest,
      mediaType: d.mediaType,
      artifactType: d.artifactType ?? null,
      size: d.size,
      annotations: d.annotations ?? {},
    })),
    raw: stored.content.toString("utf8"),
  };
  if (parsed.kind === "index") {
    const sizes = await Promise.all(parsed.manifest.manifests.map(async (child) => (id === undefined ? undefined : await store.manifest(id, child.digest))?.size ?? null));
    const children: ChildRow[] = parsed.manifest.manifests.map((child, i) => ({
      digest: child.digest,
      mediaType: child.mediaType,
      platform: child.platform
        ? { os: child.platform.os, architecture: child.platform.architecture, ...(child.platform.variant ? { variant: child.platform.variant } : {}) }
        : null,
      manifestSize: child.size,
      size: sizes[i] ?? null,
      annotations: child.annotations ?? {},
      artifactType: child.artifactType ?? null,
    }));
    return {
      ...base,
      kind: "index",
      artifactType: parsed.manifest.artifactType ?? null,
      size: children.reduce((sum, child) => sum + (child.size ?? 0), 0),
      children,
    };
  }
  if (parsed.kind === "schema1") return { ...base, kind: "schema1", artifactType: null, size: 0 };
  const manifest = parsed.manifest;
  const config = { digest: manifest.config.digest, size: manifest.config.size, mediaType: manifest.config.mediaType };
  const layers = manifest.layers.map((layer) => ({ digest: layer.digest, size: layer.size, mediaType: layer.mediaType }));
  let configSummary: ConfigSummary | null = null;
  let history: HistoryRow[] = [];
  let configError: string | null = null;
  if (!imageConfigMediaTypes.has(config.mediaType)) {
    configError = `the config is a ${config.mediaType}, not an image config`;
  } else if (config.size > maxConfigBytes) {
    configError = `the config is too large to show (${config.size} bytes)`;
  } else {
    try {
      const raw = parseImageConfig(await readConfig(services.blobs, config.digest));
      configSummary = summarizeConfig(raw);
      history = configHistory(raw);
    } catch (error) {
      if (!isMissingOrInvalid(error)) throw error;
      configError = isNotFound(error)
        ? "the config blob is missing from storage"
        : error instanceof BlobTooLargeError
          ? `the config is too large to show (${error.size} bytes stored, though the manifest says ${config.size})`
          : `the config blob is not valid JSON: ${(error as Error).message}`;
    }
  }
  return {
    ...base,
    kind: "image",
    artifactType: manifest.artifactType ?? (imageConfigMediaTypes.has(config.mediaType) ? null : config.mediaType),
    size: config.size + layers.reduce((sum, layer) => sum + layer.size, 0),
    config,
    layers,
    configSummary,
    configError,
    history,
  };
}
