import pLimit, { type LimitFunction } from "p-limit";
import { BlobTooLargeError, type BlobStore } from "../registry/blobs.js";
import { RegistryError } from "../registry/errors.js";
import { ManifestFormatError, type Descriptor, type ParsedManifest } from "../registry/media-types.js";
import { parseDigest } from "../registry/reference.js";
import type { Services } from "../registry/http/context.js";
import { isNotFound } from "../registry/storage/driver.js";
import type { BlobRef, ConfigSummary, HistoryRow, ManifestFacts, Platform } from "./types.js";

/** Config media types whose blob is an image config (JSON with `created`, `config`, `history`). */
export const imageConfigMediaTypes: ReadonlySet<string> = new Set([
  "application/vnd.docker.container.image.v1+json",
  "application/vnd.oci.image.config.v1+json",
]);

/** Configs larger than this are not read (real ones are a few KiB; long histories ~100 KiB). */
export const maxConfigBytes = 4 * 1024 * 1024;

/** Where the describer reads manifests and image configs: the engine's stores. */
export interface DescribeSource {
  manifest(repository: string, digest: string): Promise<{ content: Buffer; parsed: ParsedManifest }>;
  /** An image config blob, read only when it is at most `maxConfigBytes` (else BlobTooLargeError). */
  config(digest: string): Promise<Buffer>;
}

/** Reads a config blob within `maxConfigBytes`, whatever size its descriptor claims. */
export function readConfig(blobs: Pick<BlobStore, "getContentUpTo">, digest: string): Promise<Buffer> {
  return blobs.getContentUpTo(parseDigest(digest), maxConfigBytes);
}

export function servicesSource(services: Pick<Services, "manifests" | "blobs">): DescribeSource {
  return {
    manifest: (repository, digest) => services.manifests.get(repository, parseDigest(digest)),
    config: (digest) => readConfig(services.blobs, digest),
  };
}

/** A manifest or blob that is gone, too large to read, or not what it claims: skipped, not an I/O failure. */
export function isMissingOrInvalid(error: unknown): boolean {
  if (isNotFound(error) || error instanceof ManifestFormatError || error instanceof SyntaxError || error instanceof BlobTooLargeError) return true;
  return error instanceof RegistryError && ["MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "DIGEST_INVALID", "MANIFEST_INVALID"].includes(error.code);
}

const maxDepth = 3;

/**
 * Reads manifests (and image configs) into `ManifestFacts`. Content is immutable per digest, so
 * results are memoised by digest, concurrent requests for one digest share one read, and each
 * storage read goes through `limit`.
 */
export class ManifestDescriber {
  private readonly memo = new Map<string, Promise<ManifestFacts>>();

  constructor(
    private readonly source: DescribeSource,
    // No limit by default: the event path, which describes one manifest at a time anyway.
    private readonly limit: LimitFunction = pLimit(Number.POSITIVE_INFINITY),
    private readonly memoSize = 10_000,
  ) {}

  describe(repository: string, digest: string, depth = 0): Promise<ManifestFacts> {
    const known = this.memo.get(digest);
    if (known) return known;
    const loading = this.load(repository, digest, depth);
    this.memo.set(digest, loading);
    if (this.memo.size > this.memoSize) {
      const oldest = this.memo.keys().next().value;
      if (oldest !== undefined) this.memo.delete(oldest);
    }
    loading.catch(() => {
      if (this.memo.get(digest) === loading) this.memo.delete(digest);
    });
    return loading;
  }

  private async load(repository: string, digest: string, depth: number): Promise<ManifestFacts> {
    const { content, parsed } = await this.limit(() => this.source.manifest(repository, digest));
    const base = { digest, mediaType: parsed.mediaType, manifestSize: content.length };
    if (parsed.kind === "image") {
      const manifest = parsed.manifest;
      const config = blobRef(manifest.config);
      const layers = manifest.layers.map(blobRef);
      let created: number | null = null;
      let platforms: Platform[] = [];
      if (imageConfigMediaTypes.has(config.mediaType) && config.size <= maxConfigBytes) {
        try {
          const raw = parseImageConfig(await this.limit(() => this.source.config(config.digest)));
          created = parseTime(raw.created);
          const platform = platformOf(raw);
          if (platform) platforms = [platform];
        } catch (error) {
          if (!isMissingOrInvalid(error)) throw error;
        }
      }
      const artifactType = manifest.artifactType ?? (imageConfigMediaTypes.has(config.mediaType) ? null : config.mediaType);
      return {
        ...base,
        kind: "image",
        size: config.size + layers.reduce((sum, layer) => sum + layer.size, 0),
        children: 0,
        created,
        platforms,
        artifactType,
        config,
        layers,
      };
    }
    if (parsed.kind === "index") {
      const children = parsed.manifest.manifests;
      const facts = await Promise.all(
        children.map(async (child) => {
          if (depth >= maxDepth) return undefined;
          try {
            return await this.describe(repository, child.digest, depth + 1);
          } catch (error) {
            if (isMissingOrInvalid(error)) return undefined;
            throw error;
          }
        }),
      );
      const createdTimes = facts.map((f) => f?.created).filter((t): t is number => typeof t === "number");
      return {
        ...base,
        kind: "index",
        size: facts.reduce((sum, f) => sum + (f?.size ?? 0), 0),
        children: children.length,
        created: createdTimes.length > 0 ? Math.max(...createdTimes) : null,
        platforms: children.flatMap((child) => (child.platform ? [platformFrom(child.platform)] : [])),
        artifactType: parsed.manifest.artifactType ?? null,
        config: null,
        layers: [],
      };
    }
    const legacy = schema1Facts(content);
    return { ...base, kind: "schema1", size: 0, children: 0, created: legacy.created, platforms: legacy.platforms, artifactType: null, config: null, layers: [] };
  }
}

function blobRef(descriptor: Descriptor): BlobRef {
  return { digest: descriptor.digest, size: descriptor.size, mediaType: descriptor.mediaType };
}

function platformFrom(platform: { os: string; architecture: string; variant?: string }): Platform {
  const result: Platform = { os: platform.os, architecture: platform.architecture };
  if (platform.variant) result.variant = platform.variant;
  return result;
}

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);
const str = (value: unknown): string | null => (typeof value === "string" ? value : null);
const strings = (value: unknown): string[] | null => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : null);

/** An image config blob as a JSON object; throws SyntaxError when it is not one. */
export function parseImageConfig(content: Buffer): JsonObject {
  const json: unknown = JSON.parse(content.toString("utf8"));
  if (!isObject(json)) throw new SyntaxError("image config is not a JSON object");
  return json;
}

/** Go's zero time ("0001-01-01T00:00:00Z") and unparsable values mean "unknown". */
export function parseTime(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const time = Date.parse(value);
  if (Number.isNaN(time) || time < Date.UTC(1970, 0, 1) - 100 * 365 * 86_400_000) return null;
  return time;
}

function platformOf(raw: JsonObject): Platform | undefined {
  const os = str(raw.os);
  const architecture = str(raw.architecture);
  if (!os || !architecture) return undefined;
  return platformFrom({ os, architecture, variant: str(raw.variant) ?? undefined });
}

export function summarizeConfig(raw: JsonObject): ConfigSummary {
  const config = isObject(raw.config) ? raw.config : {};
  const labels: Record<string, string> = {};
  if (isObject(config.Labels)) {
    for (const [key, value] of Object.entries(config.Labels)) if (typeof value === "string") labels[key] = value;
  }
  return {
    os: str(raw.os),
    architecture: str(raw.architecture),
    variant: str(raw.variant),
    created: parseTime(raw.created),
    author: str(raw.author),
    env: strings(config.Env) ?? [],
    entrypoint: strings(config.Entrypoint),
    cmd: strings(config.Cmd),
    labels,
    exposedPorts: isObject(config.ExposedPorts) ? Object.keys(config.ExposedPorts).sort() : [],
    volumes: isObject(config.Volumes) ? Object.keys(config.Volumes).sort() : [],
    workingDir: str(config.WorkingDir) || null,
    user: str(config.User) || null,
    stopSignal: str(config.StopSignal) || null,
  };
}

export function configHistory(raw: JsonObject): HistoryRow[] {
  if (!Array.isArray(raw.history)) return [];
  return raw.history.filter(isObject).map((entry) => ({
    created: parseTime(entry.created),
    createdBy: str(entry.created_by) ?? "",
    emptyLayer: entry.empty_layer === true,
    comment: str(entry.comment),
  }));
}

/** What a Docker schema1 manifest says about its platform and age (its newest v1 history entry). */
function schema1Facts(content: Buffer): { created: number | null; platforms: Platform[] } {
  try {
    const json: unknown = JSON.parse(content.toString("utf8"));
    if (!isObject(json)) return { created: null, platforms: [] };
    let created: number | null = null;
    let os = "linux";
    const first = Array.isArray(json.history) ? json.history[0] : undefined;
    if (isObject(first) && typeof first.v1Compatibility === "string") {
      const v1: unknown = JSON.parse(first.v1Compatibility);
      if (isObject(v1)) {
        created = parseTime(v1.created);
        os = str(v1.os) ?? os;
      }
    }
    const architecture = str(json.architecture);
    return { created, platforms: architecture ? [{ os, architecture }] : [] };
  } catch {
    return { created: null, platforms: [] };
  }
}
