/**
 * Shared plumbing for the interoperability tests: Berth in-process on a filesystem root, and
 * comparisons of OCI layouts written by skopeo (blob files hashed independently of their names,
 * so a wrong byte anywhere shows up).
 */
import assert from "node:assert/strict";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { sha256File } from "../support/files.js";
import { blobPath, type ImageLayout } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/server.js";
import { skopeoCopy } from "../support/skopeo.js";

export const DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
export const DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const REF_NAME = "org.opencontainers.image.ref.name";

export interface BerthServer extends TestRegistry {
  root: string;
}

export interface BerthOptions {
  secret?: string;
  /** Listen port; 0 (default) lets the OS pick. */
  port?: number;
}

/** Berth's engine on `root`, deletes enabled. */
export async function startBerth(root: string, options: BerthOptions = {}): Promise<BerthServer> {
  const berth = await startRegistry({ root, deleteEnabled: true, secret: options.secret ?? "interop", port: options.port });
  return { ...berth, root };
}

/** File name → sha256 of the file's content, for every blob of an OCI layout. */
export async function layoutBlobHashes(dir: string): Promise<Map<string, string>> {
  const names = (await readdir(join(dir, "blobs", "sha256"))).filter((name) => !name.startsWith("."));
  const entries = await Promise.all(names.sort().map(async (name) => [name, await sha256File(join(dir, "blobs", "sha256", name))] as const));
  return new Map(entries);
}

/** Asserts every blob file of `expected` exists in `actual` with the same bytes, and nothing else does. */
export async function assertSameBlobFiles(expected: string, actual: string): Promise<void> {
  const [want, got] = await Promise.all([layoutBlobHashes(expected), layoutBlobHashes(actual)]);
  assert.ok(want.size > 0, `no blobs in ${expected}`);
  assert.deepEqual([...got.entries()], [...want.entries()], "blob files of the pulled layout differ from the pushed one");
  for (const [name, hash] of got) assert.equal(hash, `sha256:${name}`, `blob ${name} does not hash to its name`);
}

/** Asserts the given blobs are byte-identical in both layouts. */
export async function assertBlobsIdentical(expectedDir: string, actualDir: string, digests: string[]): Promise<void> {
  assert.ok(digests.length > 0);
  for (const digest of digests) {
    const [want, got] = await Promise.all([sha256File(blobPath(expectedDir, digest)), sha256File(blobPath(actualDir, digest))]);
    assert.equal(want, digest, `source blob ${digest}`);
    assert.equal(got, digest, `pulled blob ${digest} is not byte-identical`);
  }
}

export interface PulledImage {
  dir: string;
  /** Digest index.json records for the tag: the manifest or index that was copied. */
  digest: string;
  mediaType: string;
  /** The top-level manifest (or index) as parsed from the pulled layout. */
  manifest: ManifestJSON;
}

export interface ManifestJSON {
  schemaVersion: number;
  mediaType?: string;
  config?: { mediaType: string; digest: string; size: number };
  layers?: { mediaType: string; digest: string; size: number }[];
  manifests?: { mediaType: string; digest: string; size: number; platform?: { os: string; architecture: string; variant?: string } }[];
}

/** `skopeo copy` from a `docker://` reference into a new OCI layout at `dir`, then reads it back. */
export async function pullToLayout(
  source: string,
  dir: string,
  options: { all?: boolean; tag?: string; extraArgs?: string[] } = {},
): Promise<PulledImage> {
  const tag = options.tag ?? "pulled";
  // skopeo creates the layout directory itself but not its parents.
  await mkdir(dirname(dir), { recursive: true });
  await skopeoCopy(source, `oci:${dir}:${tag}`, { all: options.all, extraArgs: options.extraArgs });
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as {
    manifests: { mediaType: string; digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find((d) => d.annotations?.[REF_NAME] === tag);
  assert.ok(entry, `index.json of ${dir} has no entry for ${tag}`);
  const bytes = await readFile(blobPath(dir, entry.digest));
  return { dir, digest: entry.digest, mediaType: entry.mediaType, manifest: JSON.parse(bytes.toString("utf8")) as ManifestJSON };
}

/** Pulls `source` and asserts the manifest digest and every blob file match the pushed layout. */
export async function assertRoundTrip(source: string, pushed: ImageLayout, dir: string): Promise<PulledImage> {
  const pulled = await pullToLayout(source, dir, { all: pushed.manifests.length > 1 });
  assert.equal(pulled.digest, pushed.manifestDigest, `${source}: manifest digest changed on the way`);
  await assertSameBlobFiles(pushed.dir, dir);
  return pulled;
}

export interface FetchedJSON<T> {
  status: number;
  headers: Headers;
  body: T;
}

export async function getJSON<T>(url: string, headers: Record<string, string> = {}): Promise<FetchedJSON<T>> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  let body: T;
  try {
    body = JSON.parse(text) as T;
  } catch {
    throw new Error(`GET ${url}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`);
  }
  return { status: response.status, headers: response.headers, body };
}

/** `/v2/_catalog` (all pages of `pageSize`, following `Link`), in the order the registry returned. */
export async function catalog(baseUrl: string, pageSize = 1000): Promise<string[]> {
  const names: string[] = [];
  let next: string | undefined = `${baseUrl}/v2/_catalog?n=${pageSize}`;
  while (next !== undefined) {
    const page: FetchedJSON<{ repositories: string[] }> = await getJSON<{ repositories: string[] }>(next);
    assert.equal(page.status, 200, `GET ${next}`);
    assert.ok(page.body.repositories.length <= pageSize, `GET ${next}: more than n entries`);
    names.push(...page.body.repositories);
    const link: string | null = page.headers.get("link");
    const match: RegExpExecArray | null = link ? /<([^>]+)>/.exec(link) : null;
    next = match?.[1] !== undefined ? new URL(match[1], baseUrl).toString() : undefined;
  }
  return names;
}

/** `/v2/<name>/tags/list`, in the order the registry returned. */
export async function tagsList(baseUrl: string, name: string): Promise<string[]> {
  const { status, body } = await getJSON<{ name: string; tags: string[] | null }>(`${baseUrl}/v2/${name}/tags/list`);
  assert.equal(status, 200, `GET tags/list of ${name}`);
  assert.equal(body.name, name);
  return body.tags ?? [];
}

/** Byte-wise sorted copy, the order the distribution spec calls lexical. */
export function sortedBytewise(values: readonly string[]): string[] {
  return [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
