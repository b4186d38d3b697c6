/**
 * Plumbing for the garbage-collection tests: Berth's engine in-process on a filesystem root
 * (with the read-only state and write tracking wired the way serve.ts is meant to), storage
 * listings read straight from disk, real skopeo pushes and pulls, and distribution's own
 * `garbage-collect` for comparison.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ReadOnlyState, WriteTracker } from "../../server/maintenance/readonly.js";
import { requireCommands } from "../support/commands.js";
import { findDistribution } from "../support/distribution.js";
import { removeDir, sha256File, tempDir } from "../support/files.js";
import { blobPath, sha256Digest as sha256, type ImageLayout } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/server.js";
import { skopeoCopy } from "../support/skopeo.js";

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_EMPTY = "application/vnd.oci.empty.v1+json";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
const REF_NAME = "org.opencontainers.image.ref.name";

export { removeDir, sha256, sha256File, tempDir };

export interface GcBerth extends TestRegistry {
  root: string;
  readOnly: ReadOnlyState;
  writes: WriteTracker;
}

/**
 * Berth's engine on `root`, deletes enabled, with the read-only state and write tracking serve.ts
 * gives it: the mode comes from `readOnly` (a local one unless given), and `writes` counts the
 * write requests in flight.
 */
export async function startBerth(root: string, options: { readOnly?: ReadOnlyState } = {}): Promise<GcBerth> {
  const readOnly = options.readOnly ?? (await ReadOnlyState.create());
  const writes = new WriteTracker();
  const berth = await startRegistry({ root, deleteEnabled: true, secret: "gc-tests", writes, readOnly: () => readOnly.isReadOnly() });
  return { ...berth, root, readOnly, writes };
}

// ---- storage as it is on disk --------------------------------------------------------------

const v2 = (root: string) => join(root, "docker", "registry", "v2");

async function walkFiles(dir: string, visit: (path: string) => void | Promise<void>): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await walkFiles(full, visit);
    else await visit(full);
  }
}

/** Digest → size of every blob data file. */
export async function storageBlobs(root: string): Promise<Map<string, number>> {
  const blobs = new Map<string, number>();
  const base = join(v2(root), "blobs");
  await walkFiles(base, async (path) => {
    const parts = path.slice(base.length + 1).split("/");
    if (parts.length === 4 && parts[3] === "data") blobs.set(`${parts[0]}:${parts[2]}`, (await stat(path)).size);
  });
  return blobs;
}

/** `repo@digest` of every manifest revision link. */
export async function storageRevisions(root: string): Promise<Set<string>> {
  const found = new Set<string>();
  const base = join(v2(root), "repositories");
  await walkFiles(base, (path) => {
    const match = /^(.+)\/_manifests\/revisions\/([^/]+)\/([^/]+)\/link$/.exec(path.slice(base.length + 1));
    if (match) found.add(`${match[1]}@${match[2]}:${match[3]}`);
  });
  return found;
}

/** Every file below the layout root, relative: for "nothing changed" assertions. */
export async function storageFiles(root: string): Promise<string[]> {
  const files: string[] = [];
  await walkFiles(v2(root), (path) => {
    files.push(path.slice(v2(root).length + 1));
  });
  return files.sort();
}

/** Relative paths of link files under a repository's directory matching `pattern`. */
export async function repositoryLinks(root: string, repository: string, pattern: RegExp): Promise<string[]> {
  const base = join(v2(root), "repositories", repository);
  const found: string[] = [];
  await walkFiles(base, (path) => {
    const rel = path.slice(base.length + 1);
    if (pattern.test(rel)) found.push(rel);
  });
  return found.sort();
}

export async function copyStorage(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true, preserveTimestamps: true });
}

// ---- clients ---------------------------------------------------------------------------------

export async function pushLayout(host: string, image: ImageLayout, repository: string, tag: string): Promise<void> {
  await skopeoCopy(image.ref, `docker://${host}/${repository}:${tag}`, { all: image.manifests.length > 1 });
}

/**
 * Pulls `repository:tag` (every platform of an index) with skopeo into a fresh OCI layout and
 * asserts it is the pushed image byte for byte: the same top-level digest, the same blob files,
 * each hashing to its name.
 */
export async function assertPullsIdentical(host: string, repository: string, tag: string, image: ImageLayout, scratch: string): Promise<void> {
  const dir = join(scratch, `pull-${randomBytes(4).toString("hex")}`);
  await skopeoCopy(`docker://${host}/${repository}:${tag}`, `oci:${dir}:pulled`, { all: image.manifests.length > 1 });
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((d) => d.annotations?.[REF_NAME] === "pulled");
  assert.equal(entry?.digest, image.manifestDigest, `${repository}:${tag}: top-level digest`);
  const names = (await readdir(join(dir, "blobs", "sha256"))).filter((name) => !name.startsWith("."));
  assert.deepEqual(names.map((name) => `sha256:${name}`).sort(), [...image.blobs].sort(), `${repository}:${tag}: blob set`);
  for (const name of names) {
    assert.equal(await sha256File(join(dir, "blobs", "sha256", name)), `sha256:${name}`, `${repository}:${tag}: blob ${name} bytes`);
    assert.equal(await sha256File(blobPath(image.dir, `sha256:${name}`)), `sha256:${name}`);
  }
  await rm(dir, { recursive: true, force: true });
}

/** Monolithic upload of a blob; asserts 201. */
export async function pushBlob(base: string, repository: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const res = await fetch(`${base}/v2/${repository}/blobs/uploads/?digest=${digest}`, {
    method: "POST",
    headers: { "Content-Type": "application/octet-stream" },
    body: new Uint8Array(bytes),
  });
  await res.arrayBuffer();
  assert.equal(res.status, 201, `push blob ${digest} to ${repository}`);
  return digest;
}

export async function putManifest(base: string, repository: string, reference: string, body: Buffer, mediaType: string): Promise<Response> {
  return fetch(`${base}/v2/${repository}/manifests/${reference}`, { method: "PUT", headers: { "Content-Type": mediaType }, body: new Uint8Array(body) });
}

export interface PushedArtifact {
  digest: string;
  manifest: Buffer;
  /** Manifest, empty config, layer. */
  blobs: string[];
  layer: string;
  config: string;
}

/**
 * An OCI artifact (empty `{}` config, one small layer) whose `subject` is the given manifest,
 * pushed by digest (untagged) unless `tag` is given.
 */
export async function pushArtifact(
  base: string,
  repository: string,
  subject: { digest: string; size: number; mediaType: string },
  options: { tag?: string; seed?: string } = {},
): Promise<PushedArtifact> {
  const config = Buffer.from("{}");
  const layer = Buffer.from(`signature for ${subject.digest} ${options.seed ?? ""}`);
  const configDigest = await pushBlob(base, repository, config);
  const layerDigest = await pushBlob(base, repository, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: "application/vnd.example.signature.v1",
      config: { mediaType: OCI_EMPTY, digest: configDigest, size: config.length },
      layers: [{ mediaType: "application/vnd.example.signature.v1+json", digest: layerDigest, size: layer.length }],
      subject,
    }),
  );
  const digest = sha256(manifest);
  const res = await putManifest(base, repository, options.tag ?? digest, manifest, OCI_MANIFEST);
  await res.arrayBuffer();
  assert.equal(res.status, 201, `push artifact to ${repository}`);
  return { digest, manifest, blobs: [digest, configDigest, layerDigest], layer: layerDigest, config: configDigest };
}

export async function deleteManifest(base: string, repository: string, reference: string): Promise<void> {
  const res = await fetch(`${base}/v2/${repository}/manifests/${reference}`, { method: "DELETE" });
  await res.arrayBuffer();
  assert.equal(res.status, 202, `DELETE ${repository}/manifests/${reference}`);
}

// ---- distribution's garbage-collect -------------------------------------------------------------

export interface DistributionGcResult {
  stdout: string;
  stderr: string;
}

/** `docker-registry garbage-collect [--delete-untagged] config.yml` on `root`. */
export async function distributionGarbageCollect(root: string, options: { deleteUntagged?: boolean; dryRun?: boolean } = {}): Promise<DistributionGcResult> {
  requireCommands("docker-registry");
  const binary = findDistribution()!;
  const configDir = await tempDir("dist-config");
  const config = join(configDir, "config.yml");
  await writeFile(
    config,
    ["version: 0.1", "log:", "  level: error", "storage:", "  filesystem:", `    rootdirectory: ${JSON.stringify(root)}`, "  delete:", "    enabled: true", "http:", "  addr: 127.0.0.1:0", ""].join("\n"),
  );
  const args = ["garbage-collect", config];
  if (options.deleteUntagged) args.push("--delete-untagged");
  if (options.dryRun) args.push("--dry-run");
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("REGISTRY_")) delete env[key];
  try {
    return await new Promise((resolve, reject) => {
      execFile(binary, args, { env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`docker-registry ${args.join(" ")} failed: ${error.message}\n${stderr}\n${stdout}`));
        else resolve({ stdout, stderr });
      });
    });
  } finally {
    await rm(configDir, { recursive: true, force: true });
  }
}

/** Writes a file below the layout root (for hand-made legacy storage). */
export async function writeStorageFile(root: string, relative: string, content: string | Buffer): Promise<void> {
  const path = join(v2(root), relative);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

export function difference<T>(a: Iterable<T>, b: Iterable<T>): Set<T> {
  const other = new Set(b);
  return new Set([...a].filter((item) => !other.has(item)));
}

export function sorted<T>(values: Iterable<T>): T[] {
  return [...values].sort();
}

export interface PushedImage {
  digest: string;
  manifest: Buffer;
  config: string;
  layers: string[];
  /** Manifest, config, layers. */
  blobs: string[];
  size: number;
}

/**
 * An OCI image pushed through the HTTP API: a config and random layers (plus `reuse`, digests of
 * layers already in the repository), tagged `tag` or pushed by digest when `tag` is undefined.
 */
export async function pushImage(base: string, repository: string, tag: string | undefined, options: { layers?: number[]; reuse?: { digest: string; size: number }[] } = {}): Promise<PushedImage> {
  const layers: { digest: string; size: number }[] = [...(options.reuse ?? [])];
  for (const size of options.layers ?? [256]) {
    const bytes = randomBytes(size);
    layers.push({ digest: await pushBlob(base, repository, bytes), size });
  }
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) }, nonce: randomBytes(8).toString("hex") }));
  const configDigest = await pushBlob(base, repository, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
    }),
  );
  const digest = sha256(manifest);
  const res = await putManifest(base, repository, tag ?? digest, manifest, OCI_MANIFEST);
  await res.arrayBuffer();
  assert.equal(res.status, 201, `push image to ${repository}:${tag ?? digest}`);
  return { digest, manifest, config: configDigest, layers: layers.map((l) => l.digest), blobs: [digest, configDigest, ...layers.map((l) => l.digest)], size: manifest.length };
}

/** An OCI index over already pushed manifests. */
export async function pushIndex(base: string, repository: string, tag: string, children: PushedImage[]): Promise<PushedImage> {
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: children.map((c, i) => ({ mediaType: OCI_MANIFEST, digest: c.digest, size: c.size, platform: { os: "linux", architecture: i === 0 ? "amd64" : `arch${i}` } })),
    }),
  );
  const digest = sha256(manifest);
  const res = await putManifest(base, repository, tag, manifest, "application/vnd.oci.image.index.v1+json");
  await res.arrayBuffer();
  assert.equal(res.status, 201, `push index to ${repository}:${tag}`);
  return { digest, manifest, config: "", layers: [], blobs: [digest], size: manifest.length };
}

/** Starts the hold-and-crash fixture and resolves once it holds what it was asked to. */
export async function startCrashingHolder(endpoint: string, prefix: string, mode: "readonly" | "gclock", ttlMs: number): Promise<{ kill(): Promise<void> }> {
  const { spawn } = await import("node:child_process");
  const script = new URL("./fixtures/hold-and-crash.ts", import.meta.url).pathname;
  const child = spawn(process.execPath, ["--import", "tsx", script, endpoint, prefix, mode, String(ttlMs)], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`holder did not start: ${output}`)), 20_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`holder exited (${code}): ${output}`));
    });
  });
  return {
    kill: async () => {
      child.kill("SIGKILL");
      await exited;
    },
  };
}
