/**
 * What the HTTP tests share: the engine in-process (`startRegistry`, from test/support/server.ts)
 * and small helpers to push blobs and images through the public API only.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { StorageDriver } from "../../server/registry/storage/driver.js";
import { sha256Digest as sha256 } from "../support/images.js";
import type { TestRegistry } from "../support/server.js";

export { sha256 };
export { startRegistry, type TestRegistry } from "../support/server.js";

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
export const OCI_EMPTY = "application/vnd.oci.empty.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
export const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";
export const SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/** The storage root of distribution's layout, for the few checks that nothing was left behind. */
export const repositoriesRoot = "/docker/registry/v2/repositories";

/** What the push helpers below need: a registry running here or in another process. */
export type RegistryClient = Pick<TestRegistry, "fetch">;

/** Bytes fetch accepts as a body (a Buffer over a plain ArrayBuffer). */
export type Bytes = Buffer<ArrayBuffer>;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

export function descriptor(mediaType: string, bytes: Buffer): Descriptor {
  return { mediaType, digest: sha256(bytes), size: bytes.length };
}

/** Monolithic upload (`POST ?digest=` with the body); asserts 201 and returns the digest. */
export async function pushBlob(r: RegistryClient, name: string, bytes: Bytes): Promise<string> {
  const digest = sha256(bytes);
  const res = await r.fetch(`/v2/${name}/blobs/uploads/?digest=${digest}`, {
    method: "POST",
    headers: { "Content-Type": "application/octet-stream" },
    body: bytes,
  });
  await res.arrayBuffer();
  assert.equal(res.status, 201, `pushing blob ${digest} to ${name}`);
  return digest;
}

/** PUT of a manifest body; the caller asserts on the response. */
export function putManifest(r: RegistryClient, name: string, reference: string, body: Bytes | string, contentType: string): Promise<Response> {
  return r.fetch(`/v2/${name}/manifests/${reference}`, {
    method: "PUT",
    headers: { "Content-Type": contentType },
    body: typeof body === "string" ? Buffer.from(body) : body,
  });
}

export interface PushImageOptions {
  /** Number of random layers (default 1). */
  layers?: number;
  layerSize?: number;
  /** OCI (default) or Docker schema2 media types. */
  format?: "oci" | "docker";
  annotations?: Record<string, string>;
  /** Extra bytes for the config, so two images pushed with the same options differ. */
  configExtra?: Record<string, unknown>;
}

export interface PushedImage {
  digest: string;
  mediaType: string;
  manifest: Bytes;
  config: Bytes;
  layers: Bytes[];
  size: number;
}

/** Builds an image manifest (config + random layers), pushes its blobs, then the manifest. */
export async function buildImage(r: RegistryClient, name: string, options: PushImageOptions = {}): Promise<PushedImage> {
  const docker = options.format === "docker";
  const layers = Array.from({ length: options.layers ?? 1 }, () => randomBytes(options.layerSize ?? 256));
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: layers.map((layer) => sha256(layer)) },
      nonce: randomBytes(8).toString("hex"),
      ...options.configExtra,
    }),
  );
  for (const blob of [config, ...layers]) await pushBlob(r, name, blob);
  const mediaType = docker ? DOCKER_MANIFEST : OCI_MANIFEST;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: descriptor(docker ? DOCKER_CONFIG : OCI_CONFIG, config),
      layers: layers.map((layer) => descriptor(docker ? DOCKER_LAYER : OCI_LAYER, layer)),
      ...(options.annotations ? { annotations: options.annotations } : {}),
    }),
  );
  return { digest: sha256(manifest), mediaType, manifest, config, layers, size: manifest.length };
}

/** An image index (OCI or Docker list) over pushed manifests, each with its platform. */
export function indexBody(mediaType: string, children: { image: PushedImage; platform: { os: string; architecture: string; variant?: string } }[]): Bytes {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: children.map(({ image, platform }) => ({ mediaType: image.mediaType, digest: image.digest, size: image.size, platform })),
    }),
  );
}

/** `buildImage`, then PUT by `tag` (or by digest when `tag` is undefined); asserts 201. */
export async function pushImage(r: RegistryClient, name: string, tag: string | undefined, options: PushImageOptions = {}): Promise<PushedImage> {
  const image = await buildImage(r, name, options);
  const res = await putManifest(r, name, tag ?? image.digest, image.manifest, image.mediaType);
  await res.arrayBuffer();
  assert.equal(res.status, 201, `pushing manifest ${name}:${tag ?? image.digest}`);
  assert.equal(res.headers.get("docker-content-digest"), image.digest);
  return image;
}

export interface ErrorBody {
  errors: { code: string; message: string; detail?: unknown }[];
}

/**
 * Asserts a spec error response: the status, a JSON `{"errors":[{code,message}]}` body, and the
 * code of its first error. Returns the parsed body.
 */
export async function expectError(res: Response, status: number, code: string | string[]): Promise<ErrorBody> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status} ${String(code)}, got ${res.status}: ${text}`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = JSON.parse(text) as ErrorBody;
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, `errors array in ${text}`);
  for (const entry of body.errors) {
    assert.equal(typeof entry.code, "string");
    assert.equal(typeof entry.message, "string");
  }
  const codes = Array.isArray(code) ? code : [code];
  assert.ok(codes.includes(body.errors[0]!.code), `expected code ${codes.join(" or ")}, got ${text}`);
  return body;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A request with the path sent exactly as given (fetch would normalise `..` and `%2e`), and a
 * body that may be cut short by the server answering early. A new connection each time unless
 * `agent` (a keep-alive agent, for many requests in a row) is given.
 */
export function rawRequest(
  base: string,
  method: string,
  path: string,
  headers: http.OutgoingHttpHeaders = {},
  body?: Buffer,
  agent: http.Agent | false = false,
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    // The server may answer early and close the connection before the whole body was sent:
    // the write then fails, but the answer still arrives.
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE" && error.code !== "ECONNRESET") reject(error);
      else setTimeout(() => reject(error), 1000).unref();
    });
    req.end(body);
  });
}

/** The code of the first error of a raw response's spec JSON error body. */
export function rawErrorCode(res: RawResponse): string | undefined {
  assert.match(String(res.headers["content-type"]), /^application\/json/);
  const body = JSON.parse(res.body.toString("utf8")) as ErrorBody;
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0);
  return body.errors[0]?.code;
}

/** Names under `<repo>/_uploads` in storage: upload sessions that still exist. */
export async function uploadsInStorage(driver: StorageDriver, name: string): Promise<string[]> {
  try {
    return await driver.list(`${repositoriesRoot}/${name}/_uploads`);
  } catch (error) {
    if ((error as { kind?: string }).kind === "not-found") return [];
    throw error;
  }
}
