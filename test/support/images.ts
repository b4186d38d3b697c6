/**
 * Offline, deterministic OCI image layouts for tests: every blob is derived from a seed, so the
 * same options always produce the same digests, and nothing needs a network or a Docker daemon.
 * The layouts are meant to be pushed with `skopeo copy oci:DIR:TAG docker://...`.
 */
import { createCipheriv, createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { constants as zlibConstants, createGzip } from "node:zlib";

export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
const REF_NAME = "org.opencontainers.image.ref.name";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageLayoutOptions {
  /** Tag recorded in index.json as `org.opencontainers.image.ref.name`. Default "latest". */
  tag?: string;
  /** Size in bytes of the one random file inside each layer's tar. Default `[1024]`. */
  layers?: number[];
  /** Same seed, same bytes, same digests. Default 1. */
  seed?: number | string;
  /** Default `[{ os: "linux", architecture: "amd64" }]`. */
  platforms?: Platform[];
  /** Write an image index even for a single platform. Default: only when there are several platforms. */
  index?: boolean;
}

export interface LayerDescription {
  /** Digest and size of the compressed blob, as in the manifest's descriptor. */
  digest: string;
  size: number;
  /** sha256 and size of the uncompressed tar. */
  diffId: string;
  tarSize: number;
}

export interface ManifestDescription {
  digest: string;
  size: number;
  mediaType: typeof OCI_MANIFEST;
  platform: Platform;
  configDigest: string;
  configSize: number;
  layers: LayerDescription[];
}

export interface ImageLayout {
  dir: string;
  tag: string;
  /** skopeo reference, `oci:<dir>:<tag>`. */
  ref: string;
  /** The descriptor index.json points at for this tag: an image index or an image manifest. */
  manifestDigest: string;
  manifestSize: number;
  mediaType: typeof OCI_INDEX | typeof OCI_MANIFEST;
  manifests: ManifestDescription[];
  /** Every blob written for this image, top-level manifest first. */
  blobs: string[];
}

/** amd64 and arm64/v8 Linux: what the tests' multi-platform images are built for. */
export const TWO_PLATFORMS: Platform[] = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64", variant: "v8" },
];

/** An OCI descriptor as the layouts written here hold them. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** Parses `os/arch[/variant]`, e.g. `linux/arm64/v8`. */
export function parsePlatform(text: string): Platform {
  const parts = text.split("/");
  const [os, architecture, variant] = parts;
  if (parts.length < 2 || parts.length > 3 || !os || !architecture || (parts.length === 3 && !variant)) {
    throw new Error(`invalid platform ${JSON.stringify(text)}: expected os/architecture[/variant]`);
  }
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export function blobPath(dir: string, digest: string): string {
  const [algorithm, hex] = digest.split(":");
  if (!algorithm || !hex) throw new Error(`invalid digest ${digest}`);
  return join(dir, "blobs", algorithm, hex);
}

/**
 * Writes (or adds a tag to) an OCI image layout at `dir`. An existing index.json is kept and only
 * the entry for the same tag is replaced, so several images can share one layout.
 */
export async function makeImageLayout(dir: string, options: ImageLayoutOptions = {}): Promise<ImageLayout> {
  const root = resolve(dir);
  const tag = options.tag ?? "latest";
  const seed = String(options.seed ?? 1);
  const layerSizes = options.layers ?? [1024];
  const platforms = options.platforms ?? [{ os: "linux", architecture: "amd64" }];
  if (platforms.length === 0) throw new Error("at least one platform is required");
  for (const size of layerSizes) {
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`invalid layer size ${size}`);
  }
  const useIndex = options.index ?? platforms.length > 1;
  if (!useIndex && platforms.length > 1) throw new Error("several platforms need an image index");

  await mkdir(join(root, "blobs", "sha256"), { recursive: true });
  await writeFile(join(root, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));

  const created = createdTimestamp(seed);
  const jobs = platforms.flatMap((platform, p) =>
    layerSizes.map((size, l) => () => writeLayer(root, { seed, platform, platformIndex: p, layerIndex: l, size, mtime: created })),
  );
  const written = await runLimited(jobs, Math.max(1, Math.min(4, availableParallelism())));

  const manifests: ManifestDescription[] = [];
  const blobs: string[] = [];
  for (const [p, platform] of platforms.entries()) {
    const layers = written.slice(p * layerSizes.length, (p + 1) * layerSizes.length);
    const config = imageConfig(platform, layers, created, seed);
    const configBlob = await writeJsonBlob(root, config);
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configBlob.digest, size: configBlob.size },
      layers: layers.map((layer) => ({ mediaType: OCI_LAYER_GZIP, digest: layer.digest, size: layer.size })),
    };
    const manifestBlob = await writeJsonBlob(root, manifest);
    manifests.push({
      digest: manifestBlob.digest,
      size: manifestBlob.size,
      mediaType: OCI_MANIFEST,
      platform: { ...platform },
      configDigest: configBlob.digest,
      configSize: configBlob.size,
      layers,
    });
    blobs.push(manifestBlob.digest, configBlob.digest, ...layers.map((layer) => layer.digest));
  }

  let top: Descriptor;
  if (useIndex) {
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: manifests.map((m) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size, platform: ociPlatform(m.platform) })),
    };
    const indexBlob = await writeJsonBlob(root, index);
    top = { mediaType: OCI_INDEX, digest: indexBlob.digest, size: indexBlob.size };
    blobs.unshift(indexBlob.digest);
  } else {
    const only = manifests[0]!;
    top = { mediaType: OCI_MANIFEST, digest: only.digest, size: only.size };
  }
  await updateLayoutIndex(root, { ...top, annotations: { [REF_NAME]: tag } });

  return {
    dir: root,
    tag,
    ref: `oci:${root}:${tag}`,
    manifestDigest: top.digest,
    manifestSize: top.size,
    mediaType: top.mediaType as ImageLayout["mediaType"],
    manifests,
    blobs: [...new Set(blobs)],
  };
}

function ociPlatform(platform: Platform): Platform {
  // OCI orders platform fields architecture-first; keeping it stable keeps the index digest stable.
  return platform.variant
    ? { architecture: platform.architecture, os: platform.os, variant: platform.variant }
    : { architecture: platform.architecture, os: platform.os };
}

function createdTimestamp(seed: string): Date {
  // A fixed base plus a seed-derived offset: stable per seed, yet distinct images get distinct dates.
  const offsetSeconds = keyFor(seed, "created").readUInt32BE(0) % (5 * 365 * 24 * 3600);
  return new Date(Date.UTC(2020, 0, 1) + offsetSeconds * 1000);
}

function imageConfig(platform: Platform, layers: LayerDescription[], created: Date, seed: string): unknown {
  const when = created.toISOString();
  return {
    created: when,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", `BERTH_TEST_SEED=${seed}`],
      Cmd: ["/bin/sh"],
      Labels: { "org.opencontainers.image.title": "berth-test-image" },
    },
    rootfs: { type: "layers", diff_ids: layers.map((layer) => layer.diffId) },
    history: layers.map((layer, i) => ({
      created: when,
      created_by: `berth make-test-image: layer ${i} (${layer.tarSize} byte tar)`,
    })),
  };
}

async function writeJsonBlob(root: string, value: unknown): Promise<{ digest: string; size: number }> {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = sha256Digest(bytes);
  await writeFile(blobPath(root, digest), bytes);
  return { digest, size: bytes.length };
}

async function updateLayoutIndex(root: string, descriptor: Descriptor): Promise<void> {
  const path = join(root, "index.json");
  let existing: Descriptor[] = [];
  try {
    const parsed = JSON.parse(await readFile(path, "utf8")) as { manifests?: Descriptor[] };
    existing = parsed.manifests ?? [];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const tag = descriptor.annotations?.[REF_NAME];
  const manifests = [...existing.filter((d) => d.annotations?.[REF_NAME] !== tag), descriptor];
  await writeFile(path, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
}

function keyFor(seed: string, purpose: string): Buffer {
  return createHash("sha256").update(`berth-test-image\0${seed}\0${purpose}`).digest();
}

const CHUNK = 1 << 20;
const ZEROS = Buffer.alloc(CHUNK);

interface LayerJob {
  seed: string;
  platform: Platform;
  platformIndex: number;
  layerIndex: number;
  size: number;
  mtime: Date;
}

async function writeLayer(root: string, job: LayerJob): Promise<LayerDescription> {
  // AES-CTR over zeros is a fast, keyed, reproducible byte stream; it also defeats compression,
  // which keeps the blob close to the requested size.
  const key = keyFor(job.seed, `layer/${job.platformIndex}/${formatPlatform(job.platform)}/${job.layerIndex}`);
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  const uncompressed = createHash("sha256");
  const compressed = createHash("sha256");
  let tarSize = 0;
  let size = 0;

  function* tar(): Generator<Buffer> {
    const emit = (chunk: Buffer): Buffer => {
      uncompressed.update(chunk);
      tarSize += chunk.length;
      return chunk;
    };
    // The platform in the name keeps even empty layers distinct per platform, so blob counts
    // in tests never depend on accidental deduplication.
    const name = `layer-${job.layerIndex}-${formatPlatform(job.platform).replaceAll("/", "-")}.bin`;
    yield emit(tarHeader(name, job.size, job.mtime));
    for (let left = job.size; left > 0; left -= CHUNK) {
      yield emit(cipher.update(left >= CHUNK ? ZEROS : ZEROS.subarray(0, left)));
    }
    const padding = (512 - (job.size % 512)) % 512;
    // Two zero blocks end the archive.
    yield emit(Buffer.alloc(padding + 1024));
  }

  async function* hashCompressed(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      compressed.update(chunk);
      size += chunk.length;
      yield chunk;
    }
  }

  const temp = join(root, "blobs", "sha256", `.tmp-${randomUUID()}`);
  try {
    await pipeline(
      Readable.from(tar()),
      // Default deflate on random bytes runs at ~50 MB/s; Huffman-only still yields a valid gzip
      // stream at roughly three times that, which matters for the 256 MiB+ layers.
      createGzip({ level: 1, strategy: zlibConstants.Z_HUFFMAN_ONLY, chunkSize: CHUNK }),
      hashCompressed,
      createWriteStream(temp),
    );
    const digest = `sha256:${compressed.digest("hex")}`;
    await rename(temp, blobPath(root, digest));
    return { digest, size, diffId: `sha256:${uncompressed.digest("hex")}`, tarSize };
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** A POSIX ustar header for one regular file owned by root with mode 0644. */
export function tarHeader(name: string, size: number, mtime: Date): Buffer {
  const header = Buffer.alloc(512);
  const nameBytes = Buffer.from(name, "utf8");
  if (nameBytes.length > 100) throw new Error(`tar member name too long: ${name}`);
  nameBytes.copy(header, 0);
  writeOctal(header, 100, 8, 0o644);
  writeOctal(header, 108, 8, 0);
  writeOctal(header, 116, 8, 0);
  writeSize(header, 124, size);
  writeOctal(header, 136, 12, Math.floor(mtime.getTime() / 1000));
  header.fill(0x20, 148, 156);
  header.write("0", 156, "ascii");
  header.write("ustar\0", 257, "ascii");
  header.write("00", 263, "ascii");
  header.write("root", 265, "ascii");
  header.write("root", 297, "ascii");
  writeOctal(header, 329, 8, 0);
  writeOctal(header, 337, 8, 0);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return header;
}

function writeOctal(buffer: Buffer, offset: number, width: number, value: number): void {
  const text = value.toString(8).padStart(width - 1, "0");
  if (text.length > width - 1) throw new RangeError(`${value} does not fit a ${width}-byte tar field`);
  buffer.write(`${text}\0`, offset, "ascii");
}

function writeSize(buffer: Buffer, offset: number, size: number): void {
  if (size < 8 ** 11) {
    writeOctal(buffer, offset, 12, size);
    return;
  }
  // Files of 8 GiB and more overflow the octal field; GNU's base-256 form is what tar readers accept.
  let value = BigInt(size);
  for (let i = offset + 11; i > offset; i--) {
    buffer[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  buffer[offset] = 0x80;
}

async function runLimited<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results = new Array<T>(jobs.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}
