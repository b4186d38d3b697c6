import { z } from "zod";
import { tryParseDigest } from "./reference.js";

/**
 * The manifest formats Berth stores, one small description each: how to recognise it, its
 * schema, and what it references. Docker schema1 is recognised only to be refused clearly.
 */
export const mediaTypes = {
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

/** Layers a registry is not expected to hold (pulled from `urls` by clients). */
const nondistributableLayers = new Set([
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
]);

const digestString = z.string().refine((value) => {
  try {
    return tryParseDigest(value) !== undefined;
  } catch {
    return false;
  }
}, "invalid digest");

const mediaTypeString = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/, "invalid media type");

const platform = z
  .object({
    architecture: z.string(),
    os: z.string(),
    "os.version": z.string().optional(),
    "os.features": z.array(z.string()).optional(),
    variant: z.string().optional(),
    features: z.array(z.string()).optional(),
  })
  .passthrough();

export const descriptorSchema = z
  .object({
    mediaType: mediaTypeString,
    digest: digestString,
    size: z.number().int().nonnegative(),
    urls: z.array(z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    artifactType: mediaTypeString.optional(),
    platform: platform.optional(),
  })
  .passthrough();
export type Descriptor = z.infer<typeof descriptorSchema>;

const imageManifestSchema = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: mediaTypeString.optional(),
    artifactType: mediaTypeString.optional(),
    config: descriptorSchema,
    layers: z.array(descriptorSchema),
    subject: descriptorSchema.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .passthrough();

const indexSchema = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: mediaTypeString.optional(),
    artifactType: mediaTypeString.optional(),
    manifests: z.array(descriptorSchema),
    subject: descriptorSchema.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .passthrough();

export type ImageManifest = z.infer<typeof imageManifestSchema>;
export type ImageIndex = z.infer<typeof indexSchema>;

/** A Docker schema1 manifest found in storage (written by an old registry): served, never accepted. */
export interface Schema1Manifest {
  schemaVersion: 1;
  subject?: undefined;
  annotations?: undefined;
  artifactType?: undefined;
}

/** A manifest body that passed validation, with what the registry needs to know about it. */
export type ParsedManifest =
  | { kind: "image"; mediaType: string; manifest: ImageManifest }
  | { kind: "index"; mediaType: string; manifest: ImageIndex }
  | { kind: "schema1"; mediaType: string; manifest: Schema1Manifest };

const manifestKinds: Record<string, "image" | "index"> = {
  [mediaTypes.dockerManifest]: "image",
  [mediaTypes.ociManifest]: "image",
  [mediaTypes.dockerManifestList]: "index",
  [mediaTypes.ociIndex]: "index",
};

export const manifestMediaTypes = Object.keys(manifestKinds);

/** Registries must accept at least 4 MiB manifests (distribution-spec); larger ones are refused. */
export const manifestSizeLimit = 4 * 1024 * 1024;

/** Whether a manifest media type is an image or an index; undefined for types the engine does not serve. */
export function manifestKind(mediaType: string): "image" | "index" | undefined {
  return Object.hasOwn(manifestKinds, mediaType) ? manifestKinds[mediaType] : undefined;
}

export class ManifestFormatError extends Error {}

/**
 * Parses and validates a manifest body. `contentType` is the request's Content-Type; when it is
 * missing or generic, the body's own `mediaType` (or its shape, for OCI) decides.
 */
export function parseManifest(
  body: Buffer,
  contentType: string | undefined,
  options: { stored?: boolean } = {},
): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new ManifestFormatError(`manifest is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ManifestFormatError("manifest must be a JSON object");
  }
  const fields = json as Record<string, unknown>;
  const declared = typeof fields.mediaType === "string" ? fields.mediaType : undefined;
  const header = normaliseContentType(contentType);
  if (
    fields.schemaVersion === 1 ||
    header === mediaTypes.dockerSchema1 ||
    header === mediaTypes.dockerSchema1Signed ||
    declared === mediaTypes.dockerSchema1 ||
    declared === mediaTypes.dockerSchema1Signed
  ) {
    if (options.stored) {
      // Old registries stored schema1 signed manifests; their bytes start with the JWS payload.
      const signed = "signatures" in fields;
      return { kind: "schema1", mediaType: signed ? mediaTypes.dockerSchema1Signed : mediaTypes.dockerSchema1, manifest: { schemaVersion: 1 } };
    }
    throw new ManifestFormatError(
      "Docker schema1 manifests are not supported: push Docker schema2 or OCI manifests (docker 1.10+ and every current client do)",
    );
  }
  if (header && !(header in manifestKinds)) {
    throw new ManifestFormatError(`unsupported manifest media type ${JSON.stringify(header)}`);
  }
  // The body's mediaType must agree with Content-Type (CVE-2021-41190: no ambiguous manifests).
  if (header && declared && header !== declared) {
    throw new ManifestFormatError(`Content-Type ${header} does not match the manifest's mediaType ${declared}`);
  }
  const mediaType =
    header ?? declared ?? ("manifests" in fields ? mediaTypes.ociIndex : "config" in fields ? mediaTypes.ociManifest : undefined);
  const kind = mediaType ? manifestKinds[mediaType] : undefined;
  if (!mediaType || !kind) {
    throw new ManifestFormatError(`unsupported manifest media type ${JSON.stringify(mediaType ?? "")}`);
  }
  // Only OCI may omit mediaType; a Docker manifest without it would read back as OCI.
  if (!declared && !mediaType.startsWith("application/vnd.oci.")) {
    throw new ManifestFormatError(`a ${mediaType} manifest must declare its mediaType`);
  }
  const schema = kind === "image" ? imageManifestSchema : indexSchema;
  const result = schema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ManifestFormatError(`invalid ${mediaType}: ${problems.join("; ")}`);
  }
  return kind === "image"
    ? { kind, mediaType, manifest: result.data as ImageManifest }
    : { kind, mediaType, manifest: result.data as ImageIndex };
}

/** Blobs a manifest needs in the repository before it may be stored. */
export function referencedBlobs(parsed: ParsedManifest): Descriptor[] {
  if (parsed.kind !== "image") return [];
  const layers = parsed.manifest.layers.filter(
    (layer) => !(nondistributableLayers.has(layer.mediaType) && layer.urls?.length),
  );
  return [parsed.manifest.config, ...layers];
}

/** Manifests an index needs in the repository before it may be stored. */
export function referencedManifests(parsed: ParsedManifest): Descriptor[] {
  return parsed.kind === "index" ? parsed.manifest.manifests : [];
}

/** How many descriptors a manifest lists: config and layers, or an index's manifests (its subject aside). */
export function descriptorCount(parsed: ParsedManifest): number {
  if (parsed.kind === "image") return 1 + parsed.manifest.layers.length;
  return parsed.kind === "index" ? parsed.manifest.manifests.length : 0;
}

/** The artifact type the referrers API reports for a manifest. */
export function artifactTypeOf(parsed: ParsedManifest): string | undefined {
  if (parsed.kind === "schema1") return undefined;
  if (parsed.manifest.artifactType) return parsed.manifest.artifactType;
  return parsed.kind === "image" ? parsed.manifest.config.mediaType : undefined;
}

export function normaliseContentType(value: string | undefined): string | undefined {
  const type = value?.split(";")[0]?.trim().toLowerCase();
  return type ? type : undefined;
}
