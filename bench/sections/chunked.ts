/**
 * Section 10: a chunked blob upload (POST, 128 PATCHes with Content-Range, PUT ?digest=), sent
 * to one instance, and alternating between two instances of the same registry on one root.
 * The second mode is what a load balancer in front of several replicas produces: each request
 * must pick the upload up from storage, including the running sha256.
 */
import { createHash } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { nextUrl, send } from "../lib/clients.js";
import { alternate, log, mbps, settle, type Context } from "../lib/context.js";
import { MiB, writeRandomFile } from "../lib/data.js";
import { row, type Row } from "../lib/report.js";
import { interleaved } from "../lib/rounds.js";
import type { Kind, Server } from "../lib/servers.js";

const CHUNKS = 128;
const modes = ["one", "alternating"] as const;
type Mode = (typeof modes)[number];

/** POST, CHUNKS PATCHes of equal size, PUT ?digest=; request k goes to instances[k % length]. */
async function chunkedUpload(instances: Server[], repo: string, data: Buffer<ArrayBuffer>, digest: string): Promise<void> {
  const at = (k: number): Server => instances[k % instances.length]!;
  let server = at(0);
  let res = await send(server, "POST", new URL(`/v2/${repo}/blobs/uploads/`, server.url), 202);
  await res.arrayBuffer();
  const size = data.length / CHUNKS;
  for (let i = 0; i < CHUNKS; i++) {
    const target = at(i + 1);
    const start = i * size;
    const url = nextUrl(res, server, target);
    server = target;
    res = await send(server, "PATCH", url, 202, data.subarray(start, start + size), {
      "Content-Type": "application/octet-stream",
      "Content-Range": `${start}-${start + size - 1}`,
    });
    await res.arrayBuffer();
  }
  const target = at(CHUNKS + 1);
  const url = nextUrl(res, server, target);
  url.searchParams.set("digest", digest);
  res = await send(target, "PUT", url, 201);
  await res.arrayBuffer();
}

/** Reads the stored blob back and hashes it: a fast upload that stored the wrong bytes must not count. */
async function verifyBlob(server: Server, repo: string, digest: string, size: number): Promise<void> {
  const res = await send(server, "GET", new URL(`/v2/${repo}/blobs/${digest}`, server.url), 200);
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  const got = `sha256:${hash.digest("hex")}`;
  if (got !== digest || bytes !== size) {
    throw new Error(`${server.kind}: chunked upload stored ${bytes} bytes hashing to ${got}; sent ${size} bytes, ${digest}`);
  }
}

export async function chunkedUploads(ctx: Context): Promise<Row[]> {
  const size = ctx.options.chunkedMiB * MiB;
  // Two instances per registry on one root. Each kind's config carries a fixed http.secret
  // (berthConfig; test/support/distribution.ts), so the two share it and honour each other's state.
  const instances = {} as Record<Kind, [Server, Server]>;
  for (const kind of ["berth", "distribution"] as const) {
    const root = join(ctx.work, `chunked-${kind}`);
    instances[kind] = [await ctx.start(kind, root), await ctx.start(kind, root)];
  }
  const seconds: Record<Mode, Record<Kind, number[]>> = { one: { berth: [], distribution: [] }, alternating: { berth: [], distribution: [] } };
  const slowdown: Record<Kind, number[]> = { berth: [], distribution: [] };
  try {
    await interleaved(ctx, ["berth", "distribution"] as [Kind, Kind], {
      // Fresh content per mode: a blob already in storage could take a shortcut on commit.
      prepare: async (run) => {
        const data = {} as Record<Mode, { bytes: Buffer<ArrayBuffer>; digest: string }>;
        for (const mode of modes) {
          const file = join(ctx.work, `chunked-${run}-${mode}.bin`);
          const digest = await writeRandomFile(file, size, `${ctx.seed}-chunked-${run}-${mode}`);
          data[mode] = { bytes: await readFile(file), digest };
          await rm(file, { force: true });
        }
        return data;
      },
      measure: async (kind, run, data) => {
        for (const mode of alternate([...modes], run)) {
          const repo = `bench/chunked-${run}-${mode}`;
          const used = mode === "one" ? instances[kind].slice(0, 1) : instances[kind];
          await settle();
          const started = performance.now();
          await chunkedUpload(used, repo, data[mode].bytes, data[mode].digest);
          const ms = performance.now() - started;
          await verifyBlob(used.at(-1)!, repo, data[mode].digest, size);
          seconds[mode][kind].push(ms / 1000);
          log(`    ${kind.padEnd(12)} ${mode.padEnd(11)} ${(ms / 1000).toFixed(2)} s (${mbps(size, ms).toFixed(1)} MB/s), digest checked`);
        }
        slowdown[kind].push(seconds.alternating[kind].at(-1)! / seconds.one[kind].at(-1)!);
        log(`    ${kind.padEnd(12)} alternating / one instance: ${slowdown[kind].at(-1)!.toFixed(2)}×`);
      },
    });
  } finally {
    await ctx.stop(...instances.berth, ...instances.distribution);
  }
  const what = `${ctx.options.chunkedMiB} MiB in ${CHUNKS} PATCHes`;
  const how = `POST, ${CHUNKS} PATCHes of ${(size / CHUNKS / 1024).toFixed(0)} KiB with Content-Range, PUT ?digest=; fetch, kept-alive connections; wall time, blob read back and hashed after each`;
  return [
    row({ section: "10", metric: `chunked upload, ${what}, one instance`, unit: "s", better: "lower", samples: seconds.one, note: how }),
    row({
      section: "10",
      metric: `chunked upload, ${what}, 2 instances alternating`,
      unit: "s",
      better: "lower",
      samples: seconds.alternating,
      target: { kind: "ratio-max", value: 1 },
      note: "each request to the other instance of the same registry; one root, one http.secret",
    }),
    row({
      section: "10",
      metric: "chunked upload: alternating / one instance",
      unit: "×",
      better: "lower",
      samples: slowdown,
      target: { kind: "berth-max", value: 1.5 },
      note: "each registry's own alternating time over its one-instance time, per round (median); the ratio column compares the two slowdowns",
    }),
  ];
}
