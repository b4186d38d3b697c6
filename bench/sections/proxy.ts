/**
 * Section 12: the pull-through cache (server/proxy/). An upstream distribution holds a
 * single-layer image (a random layer of --rss size, 1 GiB by default, and a small config); a
 * Berth with `proxy.remoteurl` pointing at it is started on a fresh root each repetition, and so
 * is a distribution with the same `proxy` section, as the reference for what a cache costs.
 * Measured, interleaved (the order turning each repetition):
 *  - the first pull through the cache (manifest by tag, config, the layer: every one fetched
 *    upstream, stored, verified and streamed on) against the same pull straight from the
 *    upstream, and against distribution's cache;
 *  - the second pull (cached) against the same pull from a plain Berth the image was pushed to;
 *  - each cache's peak RSS during the first pull (a fresh process, VmHWM);
 *  - skopeo copy to a dir:, a first pull through another fresh Berth cache against the upstream.
 */
import { createHash } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { OCI_CONFIG, OCI_MANIFEST } from "../../test/support/images.js";
import { skopeoCopy } from "../../test/support/skopeo.js";
import { curlDownload, send } from "../lib/clients.js";
import { alternate, log, mbps, settle, type Context } from "../lib/context.js";
import { MiB, writeRandomFile } from "../lib/data.js";
import { row, type Row } from "../lib/report.js";
import { cpuSeconds, memoryStatus, type Server } from "../lib/servers.js";
import { monolithicUpload } from "./transfer.js";

const REPO = "bench/proxied";
const TAG = "bench";
const LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar";
const TRANSFER_TIMEOUT = 10 * 60_000;
const SAMPLE_MS = 100;
const FIRST_TARGET = 0.9;
const CACHED_TARGET = 0.95;
const RSS_TARGET_MIB = 150;

interface Blob {
  digest: string;
  size: number;
}

interface TestImage {
  layer: Blob;
  config: Blob & { content: Buffer };
  manifest: Blob & { content: Buffer };
  /** Bytes a pull moves: manifest, config and layer. */
  bytes: number;
}

interface PullResult {
  ms: number;
  /** CPU seconds used meanwhile, per server given. */
  cpu: number[];
}

const sha256 = (content: Buffer): string => `sha256:${createHash("sha256").update(content).digest("hex")}`;

function makeImage(layer: Blob, seed: string): TestImage {
  const configContent = Buffer.from(
    JSON.stringify({ architecture: "amd64", os: "linux", config: { Labels: { "berth.bench": seed } }, rootfs: { type: "layers", diff_ids: [layer.digest] } }),
  );
  const config = { digest: sha256(configContent), size: configContent.length, content: configContent };
  const manifestContent = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
      layers: [{ mediaType: LAYER_TYPE, digest: layer.digest, size: layer.size }],
    }),
  );
  const manifest = { digest: sha256(manifestContent), size: manifestContent.length, content: manifestContent };
  return { layer, config, manifest, bytes: layer.size + config.size + manifest.size };
}

/** Pushes the image the way a client does: the layer streamed from `file` (POST + PUT), the config, the manifest by tag. */
async function pushImage(server: Server, image: TestImage, file: string): Promise<void> {
  await monolithicUpload(server, "POST + PUT", REPO, file, image.layer.size, image.layer.digest);
  const start = await send(server, "POST", new URL(`/v2/${REPO}/blobs/uploads/`, server.url), 202);
  await start.arrayBuffer();
  const url = new URL(start.headers.get("location") ?? "", server.url);
  url.searchParams.set("digest", image.config.digest);
  await (await send(server, "PUT", url, 201, new Uint8Array(image.config.content), { "Content-Type": "application/octet-stream" })).arrayBuffer();
  await (await send(server, "PUT", new URL(`/v2/${REPO}/manifests/${TAG}`, server.url), 201, new Uint8Array(image.manifest.content), { "Content-Type": OCI_MANIFEST })).arrayBuffer();
}

/**
 * A pull as a client makes it: the manifest by tag (its digest checked), the config (hashed), the
 * layer by curl into /dev/null (status and size checked). Wall time of the three; the CPU each
 * server in `watched` used meanwhile.
 */
async function pull(server: Server, image: TestImage, watched: Server[]): Promise<PullResult> {
  await settle();
  const cpuBefore = await Promise.all(watched.map((s) => cpuSeconds(s.pid)));
  const started = performance.now();
  const manifest = await send(server, "GET", new URL(`/v2/${REPO}/manifests/${TAG}`, server.url), 200, undefined, { Accept: OCI_MANIFEST });
  const manifestBody = Buffer.from(await manifest.arrayBuffer());
  const config = await send(server, "GET", new URL(`/v2/${REPO}/blobs/${image.config.digest}`, server.url), 200);
  const configBody = Buffer.from(await config.arrayBuffer());
  const layer = await curlDownload(`${server.url}/v2/${REPO}/blobs/${image.layer.digest}`, TRANSFER_TIMEOUT);
  const ms = performance.now() - started;
  const cpuAfter = await Promise.all(watched.map((s) => cpuSeconds(s.pid)));
  if (sha256(manifestBody) !== image.manifest.digest) throw new Error(`${server.url}: the manifest pulled hashes to ${sha256(manifestBody)}, not ${image.manifest.digest}`);
  if (sha256(configBody) !== image.config.digest) throw new Error(`${server.url}: the config pulled hashes to ${sha256(configBody)}, not ${image.config.digest}`);
  if (layer.status !== 200 || layer.bytes !== image.layer.size) throw new Error(`${server.url}: layer GET answered ${layer.status} with ${layer.bytes} of ${image.layer.size} bytes`);
  return { ms, cpu: cpuAfter.map((after, i) => after - cpuBefore[i]!) };
}

/** Samples the process's RSS every SAMPLE_MS while `work` runs; returns its result and the highest VmRSS and VmHWM seen. */
async function sampled<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; maxRss: number; peak: number }> {
  let running = true;
  let maxRss = 0;
  let peak = 0;
  const sampler = (async () => {
    while (running) {
      const status = await memoryStatus(pid).catch(() => undefined);
      if (status) {
        maxRss = Math.max(maxRss, status.rss);
        peak = Math.max(peak, status.peakRss);
      }
      await sleep(SAMPLE_MS);
    }
  })();
  try {
    const result = await work();
    return { result, maxRss, peak };
  } finally {
    running = false;
    await sampler;
  }
}

/**
 * The blob as a cache stored it (distribution's layout): what a first pull must leave behind.
 * distribution's proxy stores in the background after the response (from a second upstream
 * fetch), so it is given up to `waitMs` to get there.
 */
async function assertStored(root: string, blob: Blob, waitMs = 0): Promise<void> {
  const hex = blob.digest.slice("sha256:".length);
  const path = join(root, "docker", "registry", "v2", "blobs", "sha256", hex.slice(0, 2), hex, "data");
  const deadline = Date.now() + waitMs;
  for (;;) {
    const info = await stat(path).catch(() => undefined);
    if (info?.size === blob.size) return;
    if (Date.now() >= deadline) throw new Error(`the cache did not store ${blob.digest}: ${path} ${info ? `holds ${info.size} bytes` : "is missing"}`);
    await sleep(250);
  }
}

/** The list turned by `run` places: each item goes first in turn. */
function rotate<T>(items: readonly T[], run: number): T[] {
  const k = run % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
type Samples = { berth: number[]; distribution: number[] };
const samples = (): Samples => ({ berth: [], distribution: [] });

export async function proxyCache(ctx: Context): Promise<Row[]> {
  const size = ctx.options.rssMiB * MiB;
  const label = size >= 1024 * MiB ? `${size / 1024 / MiB} GiB` : `${size / MiB} MiB`;
  const upstream = await ctx.start("distribution", join(ctx.work, "proxy-upstream"));
  const plain = await ctx.start("berth", join(ctx.work, "proxy-plain"));
  const file = join(ctx.work, "proxy-layer.bin");
  let t = performance.now();
  const layerDigest = await writeRandomFile(file, size, `${ctx.seed}-proxy`);
  const image = makeImage({ digest: layerDigest, size }, ctx.seed);
  log(`  generated a ${label} layer in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  try {
    for (const server of [upstream, plain]) {
      t = performance.now();
      await pushImage(server, image, file);
      log(`  pushed ${REPO}:${TAG} to ${server.kind} (${server.url}) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
  } finally {
    await rm(file, { force: true });
  }
  // The same section in both caches' config: distribution's proxy is the reference for the work a cache does.
  const proxyLines = ["proxy:", `  remoteurl: ${upstream.url}`];

  /** Berth's cache / the upstream direct. */
  const firstVsDirect = samples();
  /** Berth's cache / distribution's cache. */
  const firstCaches = samples();
  const cachedCaches = samples();
  const local: number[] = [];
  const cachedOverLocal: number[] = [];
  const peakMiB = samples();
  const sampledMiB = samples();
  const idleMiB = samples();
  const cacheCpu = samples();
  const upstreamCpu = { berthCache: [] as number[], distributionCache: [] as number[], direct: [] as number[] };
  const skopeoFirst = samples();
  const perGB = (cpu: number): number => cpu / (image.bytes / 1e9);
  try {
    for (let run = 0; run < ctx.options.runs; run++) {
      // Fresh roots and processes per repetition: nothing cached, and VmHWM covers this pull alone.
      const caches = {
        berth: await ctx.start("berth", join(ctx.work, `proxy-cache-${run}`), undefined, proxyLines),
        distribution: await ctx.start("distribution", join(ctx.work, `proxy-dcache-${run}`), undefined, proxyLines),
      };
      try {
        for (const kind of ["berth", "distribution"] as const) idleMiB[kind].push((await memoryStatus(caches[kind].pid)).peakRss / MiB);
        for (const side of rotate(["berth", "direct", "distribution"] as const, run)) {
          if (side === "direct") {
            const direct = await pull(upstream, image, [upstream]);
            firstVsDirect.distribution.push(mbps(image.bytes, direct.ms));
            upstreamCpu.direct.push(perGB(direct.cpu[0]!));
            log(`    run ${run + 1}: first, upstream direct      ${mbps(image.bytes, direct.ms).toFixed(1).padStart(7)} MB/s (${seconds(direct.ms)}; upstream CPU ${direct.cpu[0]!.toFixed(2)} s)`);
            continue;
          }
          const cache = caches[side];
          const { result, maxRss, peak } = await sampled(cache.pid, () => pull(cache, image, [cache, upstream]));
          const hwm = Math.max(peak, (await memoryStatus(cache.pid)).peakRss);
          const speed = mbps(image.bytes, result.ms);
          firstCaches[side].push(speed);
          if (side === "berth") firstVsDirect.berth.push(speed);
          cacheCpu[side].push(perGB(result.cpu[0]!));
          upstreamCpu[side === "berth" ? "berthCache" : "distributionCache"].push(perGB(result.cpu[1]!));
          peakMiB[side].push(hwm / MiB);
          sampledMiB[side].push(maxRss / MiB);
          await assertStored(cache.root, image.layer, side === "berth" ? 0 : 120_000);
          log(
            `    run ${run + 1}: first, ${side === "berth" ? "Berth's cache       " : "distribution's cache"} ${speed.toFixed(1).padStart(7)} MB/s (${seconds(result.ms)}; cache CPU ${result.cpu[0]!.toFixed(2)} s, ` +
              `upstream CPU ${result.cpu[1]!.toFixed(2)} s; VmHWM ${(hwm / MiB).toFixed(1)} MiB, sampled VmRSS max ${(maxRss / MiB).toFixed(1)} MiB)`,
          );
        }
        for (const side of rotate(["berth", "local", "distribution"] as const, run)) {
          const server = side === "local" ? plain : caches[side];
          const result = await pull(server, image, [server]);
          const speed = mbps(image.bytes, result.ms);
          if (side === "local") local.push(speed);
          else cachedCaches[side].push(speed);
          const who = side === "local" ? "plain Berth (pushed)" : side === "berth" ? "Berth's cache       " : "distribution's cache";
          log(`    run ${run + 1}: again, ${who} ${speed.toFixed(1).padStart(7)} MB/s (${seconds(result.ms)}; CPU ${result.cpu[0]!.toFixed(2)} s)`);
        }
        cachedOverLocal.push(cachedCaches.berth.at(-1)! / local.at(-1)!);
      } finally {
        await ctx.stop(caches.berth, caches.distribution);
        await rm(caches.berth.root, { recursive: true, force: true });
        await rm(caches.distribution.root, { recursive: true, force: true });
      }

      // skopeo end to end: a first pull into a dir: through another fresh Berth cache, and from the upstream.
      const skopeoCache = await ctx.start("berth", join(ctx.work, `proxy-skopeo-${run}`), undefined, proxyLines);
      try {
        for (const server of alternate([skopeoCache, upstream], run)) {
          const dir = join(ctx.work, `proxy-pulled-${run}-${server.kind}`);
          await settle();
          const started = performance.now();
          await skopeoCopy(`docker://${server.host}/${REPO}:${TAG}`, `dir:${dir}`, { timeoutMs: TRANSFER_TIMEOUT });
          const ms = performance.now() - started;
          await rm(dir, { recursive: true, force: true });
          (server === upstream ? skopeoFirst.distribution : skopeoFirst.berth).push(mbps(image.bytes, ms));
          log(`    run ${run + 1}: skopeo, ${server === upstream ? "upstream direct     " : "Berth's cache, first"} ${mbps(image.bytes, ms).toFixed(1).padStart(7)} MB/s (${seconds(ms)})`);
        }
      } finally {
        await ctx.stop(skopeoCache);
        await rm(skopeoCache.root, { recursive: true, force: true });
      }
    }
  } finally {
    await ctx.stop(upstream, plain);
  }

  const what = `manifest by tag, config and the ${label} layer (curl -o /dev/null); wall time of the three`;
  return [
    row({
      section: "12",
      metric: `first pull through the cache, ${label} layer, vs the upstream direct`,
      unit: "MB/s",
      better: "higher",
      samples: firstVsDirect,
      target: { kind: "ratio-min", value: FIRST_TARGET },
      note: `Berth: proxy.remoteurl = the distribution, fresh root and process per repetition (every byte fetched, hashed, stored and fsynced, the last chunk held until then); distribution: the same pull straight from it; ${what}`,
      details: { upstreamCpuSecondsPerGB: upstreamCpu },
    }),
    row({
      section: "12",
      metric: `first pull, Berth's cache vs distribution's (proxy.remoteurl), ${label}`,
      unit: "MB/s",
      better: "higher",
      samples: firstCaches,
      note: "the same pull through a fresh distribution with the same proxy section; distribution 2.8 streams the upstream's bytes to the client unverified and stores the blob from a second upstream fetch in the background",
    }),
    row({
      section: "12",
      metric: "cache CPU during the first pull",
      unit: "s/GB",
      better: "lower",
      samples: cacheCpu,
      note: "user+system CPU of the caching process per 10^9 bytes pulled; the upstream's own CPU meanwhile is in the JSON",
    }),
    row({
      section: "12",
      metric: `second pull from the cache (cached), ${label}`,
      unit: "MB/s",
      better: "higher",
      samples: cachedCaches,
      note: "the same pull again from the cache that just filled (the tag checked upstream with a HEAD)",
    }),
    row({ section: "12", metric: `pull from a plain Berth (pushed to), ${label}`, unit: "MB/s", better: "higher", samples: { berth: local, distribution: [] }, note: "the image pushed to a Berth without proxy" }),
    row({
      section: "12",
      metric: "Berth: cached pull / plain Berth pull",
      unit: "×",
      better: "higher",
      samples: { berth: cachedOverLocal, distribution: [] },
      target: { kind: "berth-min", value: CACHED_TARGET },
      note: "per repetition (median); the pulls interleaved, the order turning each repetition",
    }),
    row({
      section: "12",
      metric: `peak RSS (VmHWM) of the cache during a ${label} first pull`,
      unit: "MiB",
      better: "lower",
      samples: peakMiB,
      target: { kind: "berth-max", value: RSS_TARGET_MIB },
      note: `fresh process per repetition; VmHWM read every ${SAMPLE_MS} ms and after the pull`,
      details: { sampledMaxVmRssMiB: sampledMiB, idleVmHwmMiB: idleMiB },
    }),
    row({
      section: "12",
      metric: `skopeo copy to dir:, first pull through the cache, ${label}`,
      unit: "MB/s",
      better: "higher",
      samples: skopeoFirst,
      note: "Berth: through another fresh Berth cache; distribution: straight from the upstream; wall time of the skopeo process",
    }),
  ];
}
