/**
 * Sections 1 and 2: moving big blobs. skopeo push and pull of a single-layer image, then the
 * raw API: one monolithic upload and one blob GET, without skopeo's own overhead.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { makeImageLayout } from "../../test/support/images.js";
import { skopeoCopy } from "../../test/support/skopeo.js";
import { curlDownload } from "../lib/clients.js";
import { alternate, log, mbps, settle, type Context } from "../lib/context.js";
import { MiB, uploadFile, writeRandomFile } from "../lib/data.js";
import { row, type Row } from "../lib/report.js";
import { cpuSeconds, type Kind, type Server } from "../lib/servers.js";

type Samples = Record<Kind, number[]>;
const samples = (): Samples => ({ berth: [], distribution: [] });
const TRANSFER_TIMEOUT = 10 * 60_000;

/** Runs `work` and returns its wall ms and the CPU seconds the server used meanwhile. */
async function timed(server: Server, work: () => Promise<unknown>): Promise<{ ms: number; cpu: number }> {
  await settle();
  const cpu = await cpuSeconds(server.pid);
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  return { ms, cpu: (await cpuSeconds(server.pid)) - cpu };
}

/** Server CPU seconds per GB (10^9 bytes) moved. */
const cpuPerGB = (cpu: number, bytes: number): number => cpu / (bytes / 1e9);

export async function pushPull(ctx: Context, pair: [Server, Server]): Promise<Row[]> {
  const size = ctx.options.blobMiB * MiB;
  const push = samples();
  const pull = samples();
  const pushCpu = samples();
  const pullCpu = samples();
  for (let run = 0; run < ctx.options.runs; run++) {
    // New content every run: a blob the registry (or skopeo's blob-info cache) knows would be skipped or mounted.
    const started = performance.now();
    const image = await makeImageLayout(join(ctx.work, `image-${run}`), { layers: [size], seed: `${ctx.seed}-push-${run}`, tag: "bench" });
    const bytes = image.manifests[0]!.layers[0]!.size;
    log(`  run ${run + 1}/${ctx.options.runs}: generated a ${(bytes / MiB).toFixed(1)} MiB layer in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    try {
      for (const server of alternate(pair, run)) {
        const ref = `docker://${server.host}/bench/push-${run}:bench`;
        const up = await timed(server, () => skopeoCopy(image.ref, ref, { timeoutMs: TRANSFER_TIMEOUT }));
        push[server.kind].push(mbps(bytes, up.ms));
        pushCpu[server.kind].push(cpuPerGB(up.cpu, bytes));

        const pulled = join(ctx.work, `pulled-${server.kind}-${run}`);
        const down = await timed(server, () => skopeoCopy(ref, `oci:${pulled}:bench`, { timeoutMs: TRANSFER_TIMEOUT }));
        pull[server.kind].push(mbps(bytes, down.ms));
        pullCpu[server.kind].push(cpuPerGB(down.cpu, bytes));
        await rm(pulled, { recursive: true, force: true });
        log(
          `    ${server.kind.padEnd(12)} push ${push[server.kind].at(-1)!.toFixed(1)} MB/s (server CPU ${up.cpu.toFixed(2)} s), ` +
            `pull ${pull[server.kind].at(-1)!.toFixed(1)} MB/s (server CPU ${down.cpu.toFixed(2)} s)`,
        );
      }
    } finally {
      await rm(image.dir, { recursive: true, force: true });
    }
  }
  const cpuNote = "user+system CPU of the registry process (/proc/<pid>/stat) per 10^9 bytes moved";
  const note = `skopeo copy of a ${ctx.options.blobMiB} MiB single-layer OCI image; wall time of the skopeo process`;
  return [
    row({ section: "1", metric: `skopeo push, ${ctx.options.blobMiB} MiB layer`, unit: "MB/s", better: "higher", samples: push, target: { kind: "ratio-min", value: 1.2 }, note }),
    row({ section: "1", metric: `skopeo pull to oci: dir, ${ctx.options.blobMiB} MiB`, unit: "MB/s", better: "higher", samples: pull, target: { kind: "ratio-min", value: 1.2 }, note }),
    row({ section: "1", metric: "server CPU during skopeo push", unit: "s/GB", better: "lower", samples: pushCpu, note: cpuNote }),
    row({ section: "1", metric: "server CPU during skopeo pull", unit: "s/GB", better: "lower", samples: pullCpu, note: cpuNote }),
  ];
}

export type UploadMode = "single POST" | "POST + PUT";

/**
 * Whether `POST /blobs/uploads/?digest=` with the body completes the upload in one request.
 * distribution 2.8 does not implement it (it answers 404 BLOB_UPLOAD_INVALID); there the
 * monolithic upload is the spec's other form, an empty POST then one PUT with the whole body.
 */
async function probeMode(ctx: Context, server: Server): Promise<UploadMode> {
  const file = join(ctx.work, `probe-${server.kind}.bin`);
  const digest = await writeRandomFile(file, 1024, `${ctx.seed}-probe`);
  try {
    const result = await uploadFile("POST", `${server.url}/v2/bench/probe/blobs/uploads/?digest=${digest}`, file, 1024, 30_000);
    return result.status === 201 ? "single POST" : "POST + PUT";
  } finally {
    await rm(file, { force: true });
  }
}

/** One blob in one request body: a single POST ?digest=, or an empty POST then one PUT ?digest= (distribution). */
export async function monolithicUpload(server: Server, mode: UploadMode, repo: string, file: string, size: number, digest: string): Promise<void> {
  if (mode === "single POST") {
    const result = await uploadFile("POST", `${server.url}/v2/${repo}/blobs/uploads/?digest=${digest}`, file, size, TRANSFER_TIMEOUT);
    if (result.status !== 201) throw new Error(`${server.kind}: monolithic POST answered ${result.status}: ${result.body.slice(0, 300)}`);
  } else {
    const start = await fetch(`${server.url}/v2/${repo}/blobs/uploads/`, { method: "POST", signal: AbortSignal.timeout(30_000) });
    await start.arrayBuffer();
    const location = start.headers.get("location");
    if (start.status !== 202 || !location) throw new Error(`${server.kind}: POST /blobs/uploads/ answered ${start.status}`);
    const url = new URL(location, server.url);
    url.searchParams.set("digest", digest);
    const result = await uploadFile("PUT", url.href, file, size, TRANSFER_TIMEOUT);
    if (result.status !== 201) throw new Error(`${server.kind}: monolithic PUT answered ${result.status}: ${result.body.slice(0, 300)}`);
  }
}

export async function rawBlobs(ctx: Context, pair: [Server, Server]): Promise<Row[]> {
  const size = ctx.options.blobMiB * MiB;
  const modes = {} as Record<Kind, UploadMode>;
  for (const server of pair) modes[server.kind] = await probeMode(ctx, server);
  log(`  monolithic upload: berth uses ${modes.berth}, distribution uses ${modes.distribution}`);
  const upload = samples();
  const download = samples();
  const uploadCpu = samples();
  const downloadCpu = samples();
  const getsPerRun = 2;
  for (let run = 0; run < ctx.options.runs; run++) {
    const file = join(ctx.work, `raw-${run}.bin`);
    const digest = await writeRandomFile(file, size, `${ctx.seed}-raw-${run}`);
    const repo = `bench/raw-${run}`;
    try {
      for (const server of alternate(pair, run)) {
        const up = await timed(server, () => monolithicUpload(server, modes[server.kind], repo, file, size, digest));
        upload[server.kind].push(mbps(size, up.ms));
        uploadCpu[server.kind].push(cpuPerGB(up.cpu, size));
        log(`    ${server.kind.padEnd(12)} upload ${upload[server.kind].at(-1)!.toFixed(1)} MB/s (server CPU ${up.cpu.toFixed(2)} s)`);
      }
      for (let get = 0; get < getsPerRun; get++) {
        for (const server of alternate(pair, run + get)) {
          let result: Awaited<ReturnType<typeof curlDownload>> | undefined;
          const down = await timed(server, async () => {
            result = await curlDownload(`${server.url}/v2/${repo}/blobs/${digest}`, TRANSFER_TIMEOUT);
          });
          if (!result || result.status !== 200 || result.bytes !== size) {
            throw new Error(`${server.kind}: blob GET answered ${result?.status} with ${result?.bytes} of ${size} bytes`);
          }
          download[server.kind].push(mbps(size, result.seconds * 1000));
          downloadCpu[server.kind].push(cpuPerGB(down.cpu, size));
          log(`    ${server.kind.padEnd(12)} GET ${download[server.kind].at(-1)!.toFixed(1)} MB/s (server CPU ${down.cpu.toFixed(2)} s)`);
        }
      }
    } finally {
      await rm(file, { force: true });
    }
  }
  return [
    row({
      section: "2",
      metric: `raw monolithic upload, ${ctx.options.blobMiB} MiB`,
      unit: "MB/s",
      better: "higher",
      samples: upload,
      note: `Node http client streaming a file with Content-Length; berth: ${modes.berth}, distribution: ${modes.distribution} (distribution 2.8 has no single-POST upload)`,
      details: { modes },
    }),
    row({
      section: "2",
      metric: `raw blob GET, ${ctx.options.blobMiB} MiB`,
      unit: "MB/s",
      better: "higher",
      samples: download,
      note: "curl -o /dev/null, curl's time_total; blob data in the page cache",
    }),
    row({ section: "2", metric: "server CPU during raw upload", unit: "s/GB", better: "lower", samples: uploadCpu, note: "user+system CPU of the registry process per 10^9 bytes" }),
    row({ section: "2", metric: "server CPU during raw blob GET", unit: "s/GB", better: "lower", samples: downloadCpu, note: "user+system CPU of the registry process per 10^9 bytes" }),
  ];
}
