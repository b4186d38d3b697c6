/** Sections 3 and 4: small requests under load, 64 connections from the same host. */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { makeImageLayout, OCI_MANIFEST } from "../../test/support/images.js";
import { skopeoCopy } from "../../test/support/skopeo.js";
import { hey, wrk, type LoadResult } from "../lib/clients.js";
import { log, type Context } from "../lib/context.js";
import { row, type Row } from "../lib/report.js";
import { interleaved, samples, type Samples } from "../lib/rounds.js";
import type { Kind, Server } from "../lib/servers.js";

export interface SmallImage {
  repo: string;
  tag: string;
  layerDigest: string;
}

/** A small image (one 4 KiB layer) pushed to both registries with skopeo. */
export async function pushSmallImage(ctx: Context, pair: [Server, Server]): Promise<SmallImage> {
  const image = await makeImageLayout(join(ctx.work, "small-image"), { layers: [4096], seed: `${ctx.seed}-small`, tag: "latest" });
  try {
    for (const server of pair) await skopeoCopy(image.ref, `docker://${server.host}/bench/small:latest`, { timeoutMs: 60_000 });
  } finally {
    await rm(image.dir, { recursive: true, force: true });
  }
  return { repo: "bench/small", tag: "latest", layerDigest: image.manifests[0]!.layers[0]!.digest };
}

async function expectStatus(url: string, init: RequestInit, status: number, what: string): Promise<Response> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  await response.arrayBuffer();
  if (response.status !== status) throw new Error(`${what}: ${url} answered ${response.status}, expected ${status}`);
  return response;
}

interface LoadRun {
  label: string;
  url: (server: Server) => string;
  measure: (url: string, seconds: number) => Promise<LoadResult>;
}

async function loadRuns(ctx: Context, pair: [Server, Server], spec: LoadRun): Promise<{ rps: Samples; p99: Samples; details: Record<string, unknown>; bad: number }> {
  const warmup = ctx.options.quick ? 1 : 2;
  for (const server of pair) await spec.measure(spec.url(server), warmup);
  const rps = samples();
  const p99 = samples();
  const details: Record<Kind, unknown[]> = { berth: [], distribution: [] };
  let bad = 0;
  await interleaved(ctx, pair, {
    prepare: async () => undefined,
    measure: async (server) => {
      const result = await spec.measure(spec.url(server), ctx.options.loadSeconds);
      if (result.p99Ms === undefined) throw new Error(`${spec.label}: no p99 latency in the load tool's output:\n${result.raw.slice(0, 2000)}`);
      rps[server.kind].push(result.requestsPerSecond);
      p99[server.kind].push(result.p99Ms);
      details[server.kind].push({ requestsPerSecond: result.requestsPerSecond, latency: result.latency, badResponses: result.badResponses, errors: result.errors });
      bad += result.badResponses;
      const warn = result.badResponses > 0 ? ` — ${result.badResponses} non-2xx responses!` : "";
      log(`    ${server.kind.padEnd(12)} ${spec.label}: ${result.requestsPerSecond.toFixed(0)} req/s, p99 ${result.p99Ms.toFixed(2)} ms${warn}`);
    },
  });
  return { rps, p99, details, bad };
}

export async function manifestLoad(ctx: Context, pair: [Server, Server], image: SmallImage): Promise<Row[]> {
  const accept = `Accept: ${OCI_MANIFEST}`;
  const url = (server: Server): string => `${server.url}/v2/${image.repo}/manifests/${image.tag}`;
  for (const server of pair) {
    const response = await expectStatus(url(server), { headers: { Accept: OCI_MANIFEST } }, 200, `${server.kind} manifest GET`);
    if (response.headers.get("content-type") !== OCI_MANIFEST) throw new Error(`${server.kind}: manifest served as ${response.headers.get("content-type")}`);
  }
  const { connections } = ctx.options;
  const { rps, p99, details, bad } = await loadRuns(ctx, pair, {
    label: "manifest GET",
    url,
    measure: (target, seconds) => wrk(target, { connections, threads: 2, seconds, headers: [accept] }),
  });
  return [
    row({
      section: "3",
      metric: `manifest GET by tag, ${connections} conns`,
      unit: "req/s",
      better: "higher",
      samples: rps,
      p99,
      note: `wrk -c${connections} -t2 -d${ctx.options.loadSeconds}s -H '${accept}'${bad > 0 ? `; ${bad} non-2xx responses` : ""}`,
      details,
    }),
  ];
}

export async function headLoad(ctx: Context, pair: [Server, Server], image: SmallImage): Promise<Row[]> {
  const url = (server: Server): string => `${server.url}/v2/${image.repo}/blobs/${image.layerDigest}`;
  for (const server of pair) await expectStatus(url(server), { method: "HEAD" }, 200, `${server.kind} blob HEAD`);
  const { connections } = ctx.options;
  const { rps, p99, details, bad } = await loadRuns(ctx, pair, {
    label: "blob HEAD",
    url,
    measure: (target, seconds) => hey(target, { method: "HEAD", connections, seconds }),
  });
  return [
    row({
      section: "4",
      metric: `blob HEAD, ${connections} conns`,
      unit: "req/s",
      better: "higher",
      samples: rps,
      p99,
      note: `hey -m HEAD -c ${connections} -z ${ctx.options.loadSeconds}s${bad > 0 ? `; ${bad} non-2xx responses` : ""}`,
      details,
    }),
  ];
}
