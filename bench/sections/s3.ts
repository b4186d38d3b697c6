/**
 * Section 9: both registries on the same S3 server. One radosgw (test/support/ceph.ts, a one-node
 * Ceph on loopback) per front-end setting, one bucket per registry, both configured with the
 * `s3` driver and the same parameters; then a push of many small layers, a push of one big layer
 * (skopeo, as in section 1) and manifest GET by tag under load (as in section 3).
 *
 * radosgw runs twice: with its default front end (Nagle's algorithm on: every response with a
 * body waits ~40 ms for the client's delayed ACK, the "about one second per small blob" seen with
 * distribution) and with `tcp_nodelay=1`, which docs/storage-s3.md recommends.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { startCeph, type RunningCeph } from "../../test/support/ceph.js";
import { makeImageLayout } from "../../test/support/images.js";
import { skopeoCopy } from "../../test/support/skopeo.js";
import { log, mbps, settle, type Context } from "../lib/context.js";
import { MiB } from "../lib/data.js";
import { row, type Row } from "../lib/report.js";
import { interleaved, samples } from "../lib/rounds.js";
import { cpuSeconds, type Server } from "../lib/servers.js";
import { manifestLoad, pushSmallImage } from "./load.js";

const SMALL_LAYER = 64 * 1024;
const PUSH_TIMEOUT = 20 * 60_000;

interface FrontEnd {
  tcpNoDelay: boolean;
  label: string;
}

const frontEnds: FrontEnd[] = [
  { tcpNoDelay: false, label: "radosgw default" },
  { tcpNoDelay: true, label: "tcp_nodelay=1" },
];

/** The same `storage:` lines for both registries: distribution's s3 parameters, a bucket of its own. */
async function s3Storage(ceph: RunningCeph): Promise<string[]> {
  const bucket = await ceph.createBucket();
  return [
    "  s3:",
    `    region: ${ceph.region}`,
    `    bucket: ${bucket}`,
    `    accesskey: ${ceph.accessKey}`,
    `    secretkey: ${JSON.stringify(ceph.secretKey)}`,
    `    regionendpoint: ${ceph.endpoint}`,
    "    rootdirectory: /registry",
    // distribution would otherwise walk the bucket's _uploads at start and every 24 h.
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
  ];
}

interface Pushed {
  seconds: number;
  requests: number;
  cpu: number;
}

/** One skopeo push, timed, with the S3 requests radosgw served and the CPU the registry used meanwhile. */
async function push(ceph: RunningCeph, server: Server, ref: string, dest: string): Promise<Pushed> {
  await settle();
  const requests = await ceph.requests();
  const cpu = await cpuSeconds(server.pid);
  const started = performance.now();
  await skopeoCopy(ref, `docker://${server.host}/${dest}`, { timeoutMs: PUSH_TIMEOUT });
  const seconds = (performance.now() - started) / 1000;
  return { seconds, requests: (await ceph.requests()) - requests, cpu: (await cpuSeconds(server.pid)) - cpu };
}

async function smallLayers(ctx: Context, ceph: RunningCeph, pair: [Server, Server], frontEnd: FrontEnd): Promise<Row[]> {
  const layers = ctx.options.quick ? 50 : 200;
  const blobs = layers + 2; // the layers, the config, the manifest
  const time = samples();
  const perBlob = samples();
  const cpu = samples();
  await interleaved(ctx, pair, {
    prepare: (run) =>
      makeImageLayout(join(ctx.work, `s3-small-${run}`), {
        layers: Array.from({ length: layers }, () => SMALL_LAYER),
        seed: `${ctx.seed}-s3-${frontEnd.tcpNoDelay}-${run}`,
        tag: "bench",
      }),
    measure: async (server, run, image) => {
      const result = await push(ceph, server, image.ref, `bench/s3-small-${run}:bench`);
      time[server.kind].push(result.seconds);
      perBlob[server.kind].push(result.requests / blobs);
      cpu[server.kind].push(result.cpu);
      log(
        `    ${server.kind.padEnd(12)} ${layers} x 64 KiB: ${result.seconds.toFixed(1)} s, ${result.requests} S3 requests ` +
          `(${(result.requests / blobs).toFixed(1)} per blob), server CPU ${result.cpu.toFixed(1)} s`,
      );
    },
    cleanup: (_run, image) => rm(image.dir, { recursive: true, force: true }),
  });
  const note = `skopeo copy of a ${layers}-layer OCI image (64 KiB random layers; skopeo 1.9 pushes them one after the other: HEAD, POST, PATCH, PUT each) to a new repository; ${frontEnd.label}`;
  return [
    row({ section: "9", metric: `S3 push ${layers} x 64 KiB layers, ${frontEnd.label}`, unit: "s", better: "lower", samples: time, note }),
    row({ section: "9", metric: `S3 requests per blob (that push), ${frontEnd.label}`, unit: "req", better: "lower", samples: perBlob, note: "radosgw's rgw.req counter over the push, divided by layers + config + manifest" }),
    row({ section: "9", metric: `server CPU during that push, ${frontEnd.label}`, unit: "s", better: "lower", samples: cpu, note: "user+system CPU of the registry process" }),
  ];
}

async function bigLayer(ctx: Context, ceph: RunningCeph, pair: [Server, Server], frontEnd: FrontEnd): Promise<Row[]> {
  const throughput = samples();
  const requests = samples();
  await interleaved(ctx, pair, {
    prepare: (run) =>
      makeImageLayout(join(ctx.work, `s3-big-${run}`), {
        layers: [ctx.options.blobMiB * MiB],
        seed: `${ctx.seed}-s3-big-${frontEnd.tcpNoDelay}-${run}`,
        tag: "bench",
      }),
    measure: async (server, run, image) => {
      const bytes = image.manifests[0]!.layers[0]!.size;
      const result = await push(ceph, server, image.ref, `bench/s3-big-${run}:bench`);
      throughput[server.kind].push(mbps(bytes, result.seconds * 1000));
      requests[server.kind].push(result.requests);
      log(`    ${server.kind.padEnd(12)} ${ctx.options.blobMiB} MiB: ${throughput[server.kind].at(-1)!.toFixed(1)} MB/s, ${result.requests} S3 requests, server CPU ${result.cpu.toFixed(1)} s`);
    },
    cleanup: (_run, image) => rm(image.dir, { recursive: true, force: true }),
  });
  return [
    row({
      section: "9",
      metric: `S3 push ${ctx.options.blobMiB} MiB layer, ${frontEnd.label}`,
      unit: "MB/s",
      better: "higher",
      samples: throughput,
      note: `skopeo copy of a single-layer image; both with the default chunksize (10 MiB) and multipart copy threshold (32 MiB); ${frontEnd.label}`,
      details: { s3Requests: requests },
    }),
  ];
}

async function oneFrontEnd(ctx: Context, frontEnd: FrontEnd): Promise<Row[]> {
  const ceph = await startCeph({ tcpNoDelay: frontEnd.tcpNoDelay, timeoutMs: 120_000 });
  log(`  radosgw (${frontEnd.label}) on ${ceph.endpoint}`);
  try {
    const berth = await ctx.start("berth", join(ctx.work, "s3-berth"), await s3Storage(ceph));
    const dist = await ctx.start("distribution", join(ctx.work, "s3-distribution"), await s3Storage(ceph));
    const pair: [Server, Server] = [berth, dist];
    try {
      const rows = [...(await smallLayers(ctx, ceph, pair, frontEnd)), ...(await bigLayer(ctx, ceph, pair, frontEnd))];
      const manifest = await manifestLoad(ctx, pair, await pushSmallImage(ctx, pair));
      rows.push(...manifest.map((r) => ({ ...r, section: "9", metric: `S3 ${r.metric}, ${frontEnd.label}` })));
      return rows;
    } finally {
      await ctx.stop(...pair);
    }
  } finally {
    await ceph.stop();
  }
}

export async function s3(ctx: Context): Promise<Row[]> {
  const rows: Row[] = [];
  for (const frontEnd of frontEnds) rows.push(...(await oneFrontEnd(ctx, frontEnd)));
  return rows;
}
