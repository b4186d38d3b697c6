/**
 * Section 7: offline garbage collection. One storage root is written directly in distribution's
 * layout (manifests, configs, layers, tags with history, `_layers` links, multi-arch indexes and
 * unreferenced blobs), then copied, and `berth garbage-collect` and `docker-registry
 * garbage-collect` each run on their own fresh copy: without and with `--delete-untagged`, and as
 * a dry run. What each deleted is read back from the copies and compared.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { findDistribution } from "../../test/support/distribution.js";
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from "../../test/support/images.js";
import { alternate, log, settle, type Context } from "../lib/context.js";
import { run, runChecked, type RunResult } from "../lib/proc.js";
import { row, type Row } from "../lib/report.js";
import { berthConfig } from "../lib/servers.js";

// ---- distribution's layout, written directly ---------------------------------------------------

const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";

export interface Blob {
  digest: string;
  hex: string;
  size: number;
  content: string;
}

export function blobOf(content: string): Blob {
  const hex = createHash("sha256").update(content).digest("hex");
  return { digest: `sha256:${hex}`, hex, size: Buffer.byteLength(content), content };
}

/**
 * Files to write below `docker/registry/v2` of a storage root, collected first and then written
 * with bounded concurrency. Paths follow server/registry/layout.ts; link files hold
 * `sha256:<hex>` without a newline, as distribution writes them.
 */
export class LayoutFiles {
  private readonly files = new Map<string, string>();

  get size(): number {
    return this.files.size;
  }

  blob(blob: Blob): void {
    this.files.set(`blobs/sha256/${blob.hex.slice(0, 2)}/${blob.hex}/data`, blob.content);
  }

  private link(path: string, blob: Blob): void {
    this.files.set(`${path}/sha256/${blob.hex}/link`, blob.digest);
  }

  revision(repository: string, manifest: Blob): void {
    this.link(`repositories/${repository}/_manifests/revisions`, manifest);
  }

  /** Tag `tag` names `current`; `history` (current included) goes in its `index/`. */
  tag(repository: string, tag: string, current: Blob, history: Blob[] = [current]): void {
    this.files.set(`repositories/${repository}/_manifests/tags/${tag}/current/link`, current.digest);
    for (const entry of history) this.link(`repositories/${repository}/_manifests/tags/${tag}/index`, entry);
  }

  layerLink(repository: string, blob: Blob): void {
    this.link(`repositories/${repository}/_layers`, blob);
  }

  /** Writes every file into `root` (created as needed). */
  async write(root: string, concurrency = 64): Promise<void> {
    const base = join(root, "docker", "registry", "v2");
    const entries = [...this.files];
    const made = new Set<string>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < entries.length) {
        const [path, content] = entries[next++]!;
        const dir = join(base, path.slice(0, path.lastIndexOf("/")));
        if (!made.has(dir)) {
          await mkdir(dir, { recursive: true });
          made.add(dir);
        }
        await writeFile(join(base, path), content);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
}

interface ImageBlobs {
  manifest: Blob;
  config: Blob;
  layers: Blob[];
}

export interface ImageOptions {
  oci: boolean;
  architecture: string;
  created: string;
  /** Makes the config (and so the manifest) unique. */
  label: string;
  layers: Blob[];
}

/** A single-platform image: its config and manifest blobs (layers are given). */
export function image(options: ImageOptions): ImageBlobs {
  const config = blobOf(
    JSON.stringify({
      architecture: options.architecture,
      os: "linux",
      created: options.created,
      config: { Labels: { "bench.berth": options.label } },
      rootfs: { type: "layers", diff_ids: options.layers.map((l) => l.digest) },
      history: options.layers.map(() => ({ created: options.created, created_by: "bench" })),
    }),
  );
  const manifest = blobOf(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: options.oci ? OCI_MANIFEST : DOCKER_MANIFEST,
      config: { mediaType: options.oci ? OCI_CONFIG : DOCKER_CONFIG, digest: config.digest, size: config.size },
      layers: options.layers.map((l) => ({ mediaType: options.oci ? OCI_LAYER_GZIP : DOCKER_LAYER, digest: l.digest, size: l.size })),
    }),
  );
  return { manifest, config, layers: options.layers };
}

function indexOf(oci: boolean, children: { image: ImageBlobs; architecture: string }[]): Blob {
  return blobOf(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: oci ? OCI_INDEX : DOCKER_LIST,
      manifests: children.map(({ image: child, architecture }) => ({
        mediaType: oci ? OCI_MANIFEST : DOCKER_MANIFEST,
        digest: child.manifest.digest,
        size: child.manifest.size,
        platform: { architecture, os: "linux" },
      })),
    }),
  );
}

// ---- the garbage-collection data set -------------------------------------------------------------

export interface GcDataset {
  files: LayoutFiles;
  repositories: number;
  /** The repositories' names, `gc/app-NNNN`. */
  names: string[];
  multiArchRepositories: number;
  manifests: number;
  blobs: number;
  /** Blobs nothing references: what the plain mode deletes. */
  unreferenced: Set<string>;
  /** Blobs `--delete-untagged` deletes when the children of a tagged index are kept (Berth). */
  untaggedKeepChildren: Set<string>;
  /** The same when a tagged index's untagged children are deleted too (distribution 2.8, #3178). */
  untaggedDropChildren: Set<string>;
  /** Revisions (`repo@digest`) `--delete-untagged` removes when index children are kept. */
  revisionsKeepChildren: Set<string>;
  revisionsDropChildren: Set<string>;
}

const PER_REPOSITORY = 10;

/**
 * `manifests` manifests in repositories of 10 and `blobs` blobs in all (manifests included):
 *
 * - A plain repository: images 0-9; tags v0-v7 name images 0-7, `latest` names image 7 and was
 *   images 9 then 8 before (its `index/`), so images 8 and 9 are untagged.
 * - Every 20th repository is multi-arch: index A (tag `multi`; children a1, a2), index B (was
 *   `multi` before A; children b1, b2), images 0-3 (v0-v2 and `latest` on image 2, which was
 *   image 3 before). Untagged: B, b1, b2, image 3, and a1, a2 (reachable through A).
 * - Every image: its own config, one base layer shared by 10 repositories, and 1-3 own layers;
 *   `_layers` links for all of them, as pushes leave them.
 * - `unreferencedCount` blobs (by default a fifth of all) are referenced by nothing: half of them
 *   with a `_layers` link in some repository (an abandoned push), half without.
 *
 * Even repositories use OCI media types, odd ones Docker's.
 */
export function gcDataset(manifests: number, blobs: number, seed: string, unreferencedCount = Math.floor(blobs / 5)): GcDataset {
  const repositories = Math.ceil(manifests / PER_REPOSITORY);
  const isMulti = (r: number) => r % 20 === 10;
  const multi = Array.from({ length: repositories }, (_, r) => r).filter(isMulti).length;
  const images = repositories * PER_REPOSITORY - 2 * multi;
  const bases = Math.ceil(repositories / 10);
  const ownLayers = blobs - unreferencedCount - repositories * PER_REPOSITORY - images - bases;
  if (ownLayers < images) throw new Error(`gc data set: ${blobs} blobs are too few for ${manifests} manifests`);

  const files = new LayoutFiles();
  const baseLayers = Array.from({ length: bases }, (_, i) => blobOf(`${seed} base layer ${i}`));
  for (const blob of baseLayers) files.blob(blob);
  let imageNumber = 0;
  let layerNumber = 0;
  const created = Date.UTC(2026, 0, 1);
  const newImage = (repo: number, oci: boolean, architecture: string): ImageBlobs => {
    const j = imageNumber++;
    const count = Math.floor(((j + 1) * ownLayers) / images) - Math.floor((j * ownLayers) / images);
    const layers = [baseLayers[Math.floor(repo / 10)]!, ...Array.from({ length: count }, () => blobOf(`${seed} layer ${layerNumber++}`))];
    const made = image({ oci, architecture, created: new Date(created + j * 60_000).toISOString(), label: `${seed}-${j}`, layers });
    files.blob(made.manifest);
    files.blob(made.config);
    for (const layer of layers) files.blob(layer);
    return made;
  };
  const ownBlobs = (made: ImageBlobs): string[] => [made.manifest.digest, made.config.digest, ...made.layers.slice(1).map((l) => l.digest)];

  const unreferenced = new Set<string>();
  const keepChildren = new Set<string>();
  const dropChildren = new Set<string>();
  const revisionsKeep = new Set<string>();
  const revisionsDrop = new Set<string>();
  const names: string[] = [];
  for (let r = 0; r < repositories; r++) {
    const name = `gc/app-${String(r).padStart(4, "0")}`;
    names.push(name);
    const oci = r % 2 === 0;
    const link = (made: ImageBlobs) => {
      files.revision(name, made.manifest);
      files.layerLink(name, made.config);
      for (const layer of made.layers) files.layerLink(name, layer);
    };
    if (!isMulti(r)) {
      const list = Array.from({ length: PER_REPOSITORY }, () => newImage(r, oci, "amd64"));
      list.forEach(link);
      for (let i = 0; i < 8; i++) files.tag(name, `v${i}`, list[i]!.manifest);
      files.tag(name, "latest", list[7]!.manifest, [list[7]!.manifest, list[8]!.manifest, list[9]!.manifest]);
      for (const gone of [list[8]!, list[9]!]) {
        for (const digest of ownBlobs(gone)) {
          keepChildren.add(digest);
          dropChildren.add(digest);
        }
        revisionsKeep.add(`${name}@${gone.manifest.digest}`);
        revisionsDrop.add(`${name}@${gone.manifest.digest}`);
      }
      continue;
    }
    const [a1, a2, b1, b2] = [newImage(r, oci, "amd64"), newImage(r, oci, "arm64"), newImage(r, oci, "amd64"), newImage(r, oci, "arm64")];
    const indexA = indexOf(oci, [
      { image: a1, architecture: "amd64" },
      { image: a2, architecture: "arm64" },
    ]);
    const indexB = indexOf(oci, [
      { image: b1, architecture: "amd64" },
      { image: b2, architecture: "arm64" },
    ]);
    const list = Array.from({ length: 4 }, () => newImage(r, oci, "amd64"));
    for (const made of [a1, a2, b1, b2, ...list]) link(made);
    for (const index of [indexA, indexB]) {
      files.blob(index);
      files.revision(name, index);
    }
    files.tag(name, "multi", indexA, [indexA, indexB]);
    for (let i = 0; i < 3; i++) files.tag(name, `v${i}`, list[i]!.manifest);
    files.tag(name, "latest", list[2]!.manifest, [list[2]!.manifest, list[3]!.manifest]);
    for (const set of [keepChildren, dropChildren]) {
      set.add(indexB.digest);
      for (const made of [b1, b2, list[3]!]) for (const digest of ownBlobs(made)) set.add(digest);
    }
    for (const set of [revisionsKeep, revisionsDrop]) {
      for (const digest of [indexB.digest, b1.manifest.digest, b2.manifest.digest, list[3]!.manifest.digest]) set.add(`${name}@${digest}`);
    }
    // distribution 2.8 deletes the untagged children of a tagged index (their revision links and
    // what only they reference) but keeps their manifest blobs, which the index references.
    for (const child of [a1, a2]) {
      for (const digest of ownBlobs(child).slice(1)) dropChildren.add(digest);
      revisionsDrop.add(`${name}@${child.manifest.digest}`);
    }
  }
  if (imageNumber !== images) throw new Error(`gc data set: made ${imageNumber} images, planned ${images}`);

  for (let i = 0; i < unreferencedCount; i++) {
    const blob = blobOf(`${seed} unreferenced ${i}`);
    files.blob(blob);
    unreferenced.add(blob.digest);
    if (i % 2 === 0) files.layerLink(names[i % names.length]!, blob);
  }
  for (const digest of unreferenced) {
    keepChildren.add(digest);
    dropChildren.add(digest);
  }
  return {
    files,
    repositories,
    names,
    multiArchRepositories: multi,
    manifests: repositories * PER_REPOSITORY,
    blobs: bases + layerNumber + images * 2 + multi * 2 + unreferencedCount,
    unreferenced,
    untaggedKeepChildren: keepChildren,
    untaggedDropChildren: dropChildren,
    revisionsKeepChildren: revisionsKeep,
    revisionsDropChildren: revisionsDrop,
  };
}

// ---- reading a root back -----------------------------------------------------------------------

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/** Digests of the blobs (with a `data` file) left in a root. */
async function remainingBlobs(root: string): Promise<Set<string>> {
  const base = join(root, "docker", "registry", "v2", "blobs", "sha256");
  const found = new Set<string>();
  for (const prefix of await listDir(base)) {
    const hexes = await listDir(join(base, prefix));
    const present = await Promise.all(hexes.map((hex) => exists(join(base, prefix, hex, "data"))));
    hexes.forEach((hex, i) => {
      if (present[i]) found.add(`sha256:${hex}`);
    });
  }
  return found;
}

/** `repo@digest` of every revision link left in a root (repositories named `gc/app-NNNN`). */
async function remainingRevisions(root: string): Promise<Set<string>> {
  const base = join(root, "docker", "registry", "v2", "repositories", "gc");
  const found = new Set<string>();
  for (const app of await listDir(base)) {
    const dir = join(base, app, "_manifests", "revisions", "sha256");
    const hexes = await listDir(dir);
    const present = await Promise.all(hexes.map((hex) => exists(join(dir, hex, "link"))));
    hexes.forEach((hex, i) => {
      if (present[i]) found.add(`gc/${app}@sha256:${hex}`);
    });
  }
  return found;
}

function difference(a: Set<string>, b: Set<string>): string[] {
  return [...a].filter((x) => !b.has(x));
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && difference(a, b).length === 0;
}

// ---- the runs ----------------------------------------------------------------------------------

type Tool = "berth" | "distribution";
type Mode = "plain" | "untagged" | "dry-run";


const GC_TIMEOUT = 15 * 60_000;

/**
 * Runs a command with its output going to a file (a collection prints a line per blob or more,
 * far beyond what a pipe buffer in this process should hold), without the REGISTRY_* overrides
 * that could move it off the config file; returns the run and that output. A non-zero exit throws,
 * naming `what` and the output's last lines.
 */
export async function runLogged(ctx: Context, what: string, command: string, args: string[]): Promise<{ result: RunResult; output: string }> {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("REGISTRY_")) delete env[key];
  const logFile = join(ctx.work, `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}.log`);
  env.BENCH_GC_LOG = logFile;
  const result = await run("sh", ["-c", 'exec "$@" >"$BENCH_GC_LOG" 2>&1', "sh", command, ...args], { timeoutMs: GC_TIMEOUT, env, cwd: ctx.work });
  const output = await readFile(logFile, "utf8").catch(() => "");
  await rm(logFile, { force: true });
  if (result.code !== 0) {
    const detail = (output || result.stderr).trim().split("\n").slice(-8).join("\n");
    throw new Error(`${what} failed (${result.signal ?? `exit ${result.code}`}):\n${detail}`);
  }
  return { result, output };
}

/** `node bin/berth.js garbage-collect ARGS`: the command and its arguments, for runLogged. */
export function berthGc(ctx: Context, args: string[]): [string, string[]] {
  return [process.execPath, [join(ctx.repoRoot, "bin", "berth.js"), "garbage-collect", ...args]];
}

/** Runs one collection on `root`; returns the run and its output. */
function collect(ctx: Context, tool: Tool, root: string, config: string, mode: Mode): Promise<{ result: RunResult; output: string }> {
  const flags = mode === "untagged" ? ["--delete-untagged"] : mode === "dry-run" ? ["--dry-run"] : [];
  const [command, args] =
    tool === "berth"
      ? // The data set was written moments ago and distribution has no grace period: none for Berth either.
        berthGc(ctx, ["--grace=0s", ...flags, config])
      : [findDistribution() ?? "docker-registry", ["garbage-collect", ...flags, config]];
  return runLogged(ctx, `${tool} garbage-collect ${flags.join(" ")} on ${root}`, command, args);
}

function summaryLine(tool: Tool, text: string): string {
  if (tool === "distribution") return /\d+ blobs marked, \d+ blobs and \d+ manifests eligible for deletion/.exec(text)?.[0] ?? "(no summary)";
  return /(would delete|deleted) \d+ manifests, \d+ blobs[^\n]*/.exec(text)?.[0] ?? "(no summary)";
}

/** A problem nobody should miss in the progress output. */
export function loud(lines: string[]): void {
  const bar = "!".repeat(78);
  console.error(`\n${bar}\n${lines.map((l) => `!! ${l}`).join("\n")}\n${bar}\n`);
}

export async function garbageCollection(ctx: Context): Promise<Row[]> {
  const manifests = ctx.options.quick ? 1_000 : 10_000;
  const blobs = manifests * 5;
  let t = performance.now();
  const data = gcDataset(manifests, blobs, ctx.seed);
  const base = join(ctx.work, "gc-base");
  await data.files.write(base);
  log(
    `  wrote ${data.repositories.toLocaleString("en-US")} repositories (${data.multiArchRepositories} multi-arch), ` +
      `${data.manifests.toLocaleString("en-US")} manifests, ${data.blobs.toLocaleString("en-US")} blobs ` +
      `(${data.unreferenced.size.toLocaleString("en-US")} unreferenced), ${data.files.size.toLocaleString("en-US")} files, in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  const allBlobs = await remainingBlobs(base);
  if (allBlobs.size !== data.blobs) throw new Error(`the data set holds ${allBlobs.size} blobs, planned ${data.blobs}`);
  const allRevisions = await remainingRevisions(base);

  const stateDir = join(ctx.work, "gc-state");
  const copy = async (name: string): Promise<{ root: string; config: Record<Tool, string> }> => {
    const root = join(ctx.work, name);
    await rm(root, { recursive: true, force: true });
    await runChecked("cp", ["-a", base, root], { timeoutMs: 10 * 60_000 });
    const config = { berth: join(ctx.work, `${name}-berth.yml`), distribution: join(ctx.work, `${name}-distribution.yml`) };
    await writeFile(config.berth, berthConfig(root, 5000, { stateDir }));
    await writeFile(config.distribution, berthConfig(root, 5000));
    return { root, config };
  };

  const times: Record<Mode, Record<Tool, number[]>> = {
    plain: { berth: [], distribution: [] },
    untagged: { berth: [], distribution: [] },
    "dry-run": { berth: [], distribution: [] },
  };
  const deleted: Record<"plain" | "untagged", Record<Tool, { blobs: number; revisions: number }>> = {
    plain: { berth: { blobs: 0, revisions: 0 }, distribution: { blobs: 0, revisions: 0 } },
    untagged: { berth: { blobs: 0, revisions: 0 }, distribution: { blobs: 0, revisions: 0 } },
  };
  const problems: string[] = [];
  const untaggedNotes = new Set<string>();
  const pair: [Tool, Tool] = ["berth", "distribution"];

  for (let rep = 0; rep < ctx.options.runs; rep++) {
    for (const mode of ["plain", "untagged"] as const) {
      t = performance.now();
      const [berthCopy, distributionCopy] = await Promise.all([copy("gc-berth"), copy("gc-distribution")]);
      const roots = { berth: berthCopy, distribution: distributionCopy };
      log(`    run ${rep + 1}, ${mode === "plain" ? "plain" : "--delete-untagged"}: copied the root twice in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      if (mode === "plain") {
        // Dry runs first, on the copies the plain runs then collect (a dry run changes no blob).
        for (const tool of alternate(pair, rep)) {
          await settle();
          const { result, output } = await collect(ctx, tool, roots[tool].root, roots[tool].config[tool], "dry-run");
          times["dry-run"][tool].push(result.ms / 1000);
          log(`    ${tool.padEnd(12)} dry run   ${(result.ms / 1000).toFixed(2)} s  ${summaryLine(tool, output)}`);
        }
      }
      for (const tool of alternate(pair, rep)) {
        await settle();
        const { result, output } = await collect(ctx, tool, roots[tool].root, roots[tool].config[tool], mode);
        times[mode][tool].push(result.ms / 1000);
        log(`    ${tool.padEnd(12)} ${mode === "plain" ? "plain    " : "untagged "} ${(result.ms / 1000).toFixed(2)} s  ${summaryLine(tool, output)}`);
      }

      const gone: Record<Tool, { blobs: Set<string>; revisions: Set<string> }> = {
        berth: { blobs: new Set(), revisions: new Set() },
        distribution: { blobs: new Set(), revisions: new Set() },
      };
      for (const tool of pair) {
        const left = await remainingBlobs(roots[tool].root);
        const leftRevisions = await remainingRevisions(roots[tool].root);
        gone[tool] = { blobs: new Set(difference(allBlobs, left)), revisions: new Set(difference(allRevisions, leftRevisions)) };
        deleted[mode][tool] = { blobs: gone[tool].blobs.size, revisions: gone[tool].revisions.size };
      }
      if (mode === "plain") {
        if (!sameSet(gone.berth.blobs, gone.distribution.blobs)) {
          const onlyBerth = difference(gone.berth.blobs, gone.distribution.blobs);
          const onlyDist = difference(gone.distribution.blobs, gone.berth.blobs);
          problems.push(
            `plain GC, run ${rep + 1}: Berth and distribution deleted DIFFERENT blob sets: Berth ${gone.berth.blobs.size}, distribution ${gone.distribution.blobs.size}; ` +
              `only Berth: ${onlyBerth.length} (${onlyBerth.slice(0, 3).join(", ")}), only distribution: ${onlyDist.length} (${onlyDist.slice(0, 3).join(", ")})`,
          );
        }
        for (const tool of pair) {
          if (!sameSet(gone[tool].blobs, data.unreferenced)) {
            problems.push(`plain GC, run ${rep + 1}: ${tool} deleted ${gone[tool].blobs.size} blobs, expected exactly the ${data.unreferenced.size} unreferenced ones`);
          }
          if (gone[tool].revisions.size > 0) problems.push(`plain GC, run ${rep + 1}: ${tool} deleted ${gone[tool].revisions.size} manifest revisions, expected none`);
        }
      } else {
        // Berth keeps the children of a tagged index; distribution 2.8 may not (#3178).
        for (const tool of pair) {
          const keeps = sameSet(gone[tool].blobs, data.untaggedKeepChildren) && sameSet(gone[tool].revisions, data.revisionsKeepChildren);
          const drops = sameSet(gone[tool].blobs, data.untaggedDropChildren) && sameSet(gone[tool].revisions, data.revisionsDropChildren);
          if (keeps) untaggedNotes.add(`${tool} kept the untagged children of tagged indexes`);
          else if (drops) untaggedNotes.add(`${tool} deleted the untagged children of tagged indexes (revision links, configs and layers; the child manifest blobs stay)`);
          else {
            problems.push(
              `--delete-untagged, run ${rep + 1}: ${tool} deleted ${gone[tool].blobs.size} blobs and ${gone[tool].revisions.size} revisions, matching neither expectation ` +
                `(${data.untaggedKeepChildren.size}/${data.revisionsKeepChildren.size} keeping index children, ${data.untaggedDropChildren.size}/${data.revisionsDropChildren.size} dropping them)`,
            );
          }
        }
        if (!berthKeptIndexChildren(gone.berth, data)) problems.push(`--delete-untagged, run ${rep + 1}: Berth deleted children of a tagged index`);
      }
      await Promise.all(pair.map((tool) => rm(roots[tool].root, { recursive: true, force: true })));
    }
  }
  await rm(base, { recursive: true, force: true });
  if (problems.length > 0) loud(["GARBAGE COLLECTION RESULTS DIFFER", ...problems]);
  else log(`    plain GC: Berth and distribution deleted the same ${data.unreferenced.size.toLocaleString("en-US")} blobs in every run`);
  for (const note of untaggedNotes) log(`    --delete-untagged: ${note}`);

  const n = `${data.manifests.toLocaleString("en-US")} manifests, ${data.blobs.toLocaleString("en-US")} blobs`;
  const target = { kind: "ratio-max", value: 0.5 } as const;
  const count = (mode: "plain" | "untagged", tool: Tool) => `${deleted[mode][tool].blobs} blobs, ${deleted[mode][tool].revisions} revisions`;
  const verified = problems.length === 0 ? "same blob set deleted by both (checked on disk)" : `MISMATCH: ${problems.join(" | ")}`;
  return [
    row({
      section: "7",
      metric: `garbage-collect (${n})`,
      unit: "s",
      better: "lower",
      samples: times.plain,
      target,
      note: `wall time of the CLI process on a fresh copy; deleted: Berth ${count("plain", "berth")}, distribution ${count("plain", "distribution")}; ${verified}`,
    }),
    row({
      section: "7",
      metric: "garbage-collect --delete-untagged",
      unit: "s",
      better: "lower",
      samples: times.untagged,
      target,
      note: `deleted: Berth ${count("untagged", "berth")}, distribution ${count("untagged", "distribution")}; ${[...untaggedNotes].join("; ") || "see the log"}`,
    }),
    row({
      section: "7",
      metric: "garbage-collect --dry-run",
      unit: "s",
      better: "lower",
      samples: times["dry-run"],
      note: "on the copies the plain runs collect next",
    }),
  ];
}

/** Whether Berth's `--delete-untagged` left every child of a tagged index in place. */
function berthKeptIndexChildren(gone: { revisions: Set<string> }, data: GcDataset): boolean {
  const childrenOfTagged = difference(data.revisionsDropChildren, data.revisionsKeepChildren);
  return childrenOfTagged.every((revision) => !gone.revisions.has(revision));
}
