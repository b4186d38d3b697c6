/** Test data: random blobs on disk, and a storage root holding many small repositories. */
import { createCipheriv, createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { OCI_CONFIG, OCI_MANIFEST } from "../../test/support/images.js";

export const MiB = 1024 * 1024;
const CHUNK = MiB;
const ZEROS = Buffer.alloc(CHUNK);

/** Writes `size` incompressible bytes derived from `seed`; returns the file's sha256 digest. */
export async function writeRandomFile(path: string, size: number, seed: string): Promise<string> {
  const key = createHash("sha256").update(`berth-bench\0${seed}`).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  const hash = createHash("sha256");
  function* chunks(): Generator<Buffer> {
    for (let left = size; left > 0; left -= CHUNK) {
      const chunk = cipher.update(left >= CHUNK ? ZEROS : ZEROS.subarray(0, left));
      hash.update(chunk);
      yield chunk;
    }
  }
  await pipeline(Readable.from(chunks()), createWriteStream(path));
  return `sha256:${hash.digest("hex")}`;
}

export interface UploadResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** From sending the request to the end of the response. */
  ms: number;
}

/**
 * Streams a file as one request body with an exact Content-Length (Node's http client; curl -T
 * would append the file name to a URL ending in "/"). A fresh connection per call.
 */
export function uploadFile(method: string, url: string, file: string, size: number, timeoutMs: number): Promise<UploadResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | null, result?: UploadResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(result!);
    };
    const req = http.request(url, {
      method,
      agent: false,
      headers: { "Content-Type": "application/octet-stream", "Content-Length": size },
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`${method} ${url} took longer than ${timeoutMs} ms`));
    }, timeoutMs);
    req.once("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => {
        if (chunks.length < 64) chunks.push(chunk);
      });
      res.once("end", () =>
        finish(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), ms: performance.now() - started }),
      );
      res.once("error", (error) => finish(error));
    });
    req.once("error", (error) => finish(error));
    pipeline(createReadStream(file, { highWaterMark: CHUNK }), req).catch((error: unknown) => {
      // An early answer (an error status) can cut the body short; the response still decides.
      setTimeout(() => finish(error instanceof Error ? error : new Error(String(error))), 2_000);
    });
  });
}

/** Repository names for the catalog: `team-0000/app`, `team-0001/app`, … (already in lexical order). */
export function catalogNames(count: number): string[] {
  const width = Math.max(4, String(count - 1).length);
  return Array.from({ length: count }, (_, i) => `team-${String(i).padStart(width, "0")}/app`);
}

function digestOf(content: Buffer | string): { value: string; hex: string } {
  const hex = createHash("sha256").update(content).digest("hex");
  return { value: `sha256:${hex}`, hex };
}

/**
 * Writes distribution's filesystem layout directly (see server/registry/layout.ts): one shared
 * config blob, and per repository one manifest blob (distinct per name), its revision link, the
 * tag `latest` (current + index links) and the `_layers` link of the config. Link files hold
 * `sha256:<hex>` without a newline, as distribution writes them.
 */
export async function populateCatalog(roots: string[], names: string[], concurrency = 48): Promise<void> {
  /** Writes `file` (relative to each root's docker/registry/v2) into every root. */
  const put = async (parts: string[], file: string, content: Buffer | string): Promise<void> => {
    for (const root of roots) {
      const dir = join(root, "docker", "registry", "v2", ...parts);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, file), content);
    }
  };
  const blobData = (hex: string, content: Buffer | string): Promise<void> => put(["blobs", "sha256", hex.slice(0, 2), hex], "data", content);
  const link = (parts: string[], value: string): Promise<void> => put(parts, "link", value);
  const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config: {} });
  const configDigest = digestOf(config);
  await blobData(configDigest.hex, config);

  const one = async (name: string): Promise<void> => {
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configDigest.value, size: Buffer.byteLength(config) },
      layers: [],
      annotations: { "org.opencontainers.image.ref.name": name },
    });
    const digest = digestOf(manifest);
    const repo = ["repositories", ...name.split("/")];
    await blobData(digest.hex, manifest);
    await link([...repo, "_layers", "sha256", configDigest.hex], configDigest.value);
    await link([...repo, "_manifests", "revisions", "sha256", digest.hex], digest.value);
    await link([...repo, "_manifests", "tags", "latest", "index", "sha256", digest.hex], digest.value);
    await link([...repo, "_manifests", "tags", "latest", "current"], digest.value);
  };

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next++]!;
      await one(name);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, names.length) }, worker));
}
