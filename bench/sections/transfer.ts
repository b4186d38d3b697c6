/**
 * Sections 1 and 2: moving big blobs. skopeo push and pull of a single-layer image, then the
 * raw API: one monolithic upload and one blob GET, without skopeo's own overhead.
 */
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { makeImageLayout } from "../../test/support/images.js";
import { skopeoCopy } from "../../test/support/skopeo.js";
import { curlDownload } from "../lib/clients.js";
import { log, mbps, settle, type Context } from "../lib/context.js";
import { MiB, uploadFile, writeRandomFile } from "../lib/data.js";
import { row, type Row } from "../lib/report.js";
import { interleaved, samples } from "../lib/rounds.js";
import { cpuSeconds, type Kind, type Server } from "../lib/servers.js";

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
  await interleaved(ctx, pair, {
    // New content every round: a blob the registry (or skopeo's blob-info cache) knows would be skipped or mounted.
    prepare: async (run) => {
      const started = performance.now();
      const image = await makeImageLayout(join(ctx.work, `image-${run}`), { layers: [size], seed: `${ctx.seed}-push-${run}`, tag: "bench" });
      log(`  round ${run + 1}/${ctx.options.runs}: generated a ${(image.manifests[0]!.layers[0]!.size / MiB).toFixed(1)} MiB layer in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      return image;
    },
    measure: async (server, run, image) => {
      const bytes = image.manifests[0]!.layers[0]!.size;
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
    },
    cleanup: (_run, image) => rm(image.dir, { recursive: true, force: true }),
  });
  const cpuNote = "user+system CPU of the registry process (/proc/<pid>/stat) per 10^9 bytes moved";
  const note = `skopeo copy of a ${ctx.options.blobMiB} MiB single-layer OCI image; wall time of the skopeo process`;
  return [
    row({ section: "1", metric: `skopeo push, ${ctx.options.blobMiB} MiB layer`, unit: "MB/s", better: "higher", samples: push, note }),
    row({ section: "1", metric: `skopeo pull to oci: dir, ${ctx.options.blobMiB} MiB`, unit: "MB/s", better: "higher", samples: pull, note }),
    row({ section: "1", metric: "server CPU during skopeo push", unit: "s/GB", better: "lower", samples: pushCpu, note: cpuNote }),
    row({ section: "1", metric: "server CPU during skopeo pull", unit: "s/GB", better: "lower", samples: pullCpu, note: cpuNote }),
  ];
}

/** MB/s of writing `size` bytes to a new file at `path` and fsyncing it; the file is removed. */
async function diskWriteMBps(path: string, size: number): Promise<number> {
  const chunk = Buffer.alloc(MiB, 0xa5);
  await settle();
  const started = performance.now();
  const handle = await open(path, "w");
  try {
    for (let left = size; left > 0; left -= MiB) await handle.write(chunk, 0, Math.min(MiB, left));
    await handle.sync();
  } finally {
    await handle.close();
  }
  const ms = performance.now() - started;
  await rm(path, { force: true });
  return mbps(size, ms);
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
  const disk: number[] = [];
  const ofDisk: number[] = [];
  await interleaved(ctx, pair, {
    prepare: async (run) => {
      const file = join(ctx.work, `raw-${run}.bin`);
      const digest = await writeRandomFile(file, size, `${ctx.seed}-raw-${run}`);
      disk.push(await diskWriteMBps(join(ctx.work, `disk-${run}.bin`), size));
      log(`  round ${run + 1}/${ctx.options.runs}: disk write ${disk.at(-1)!.toFixed(1)} MB/s (1 MiB writes, then fsync)`);
      return { file, digest, repo: `bench/raw-${run}` };
    },
    measure: async (server, _run, { file, digest, repo }) => {
      const up = await timed(server, () => monolithicUpload(server, modes[server.kind], repo, file, size, digest));
      upload[server.kind].push(mbps(size, up.ms));
      uploadCpu[server.kind].push(cpuPerGB(up.cpu, size));
      let result: Awaited<ReturnType<typeof curlDownload>> | undefined;
      const down = await timed(server, async () => {
        result = await curlDownload(`${server.url}/v2/${repo}/blobs/${digest}`, TRANSFER_TIMEOUT);
      });
      if (!result || result.status !== 200 || result.bytes !== size) {
        throw new Error(`${server.kind}: blob GET answered ${result?.status} with ${result?.bytes} of ${size} bytes`);
      }
      download[server.kind].push(mbps(size, result.seconds * 1000));
      downloadCpu[server.kind].push(cpuPerGB(down.cpu, size));
      log(
        `    ${server.kind.padEnd(12)} upload ${upload[server.kind].at(-1)!.toFixed(1)} MB/s (server CPU ${up.cpu.toFixed(2)} s), ` +
          `GET ${download[server.kind].at(-1)!.toFixed(1)} MB/s (server CPU ${down.cpu.toFixed(2)} s)`,
      );
    },
    cleanup: async (_run, { file }) => {
      if (upload.berth.length === disk.length) ofDisk.push(upload.berth.at(-1)! / disk.at(-1)!);
      await rm(file, { force: true });
    },
  });
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
    row({ section: "2", metric: "disk write bandwidth, same rounds", unit: "MB/s", better: "higher", samples: { berth: disk, distribution: [] }, note: "1 MiB writes of one file then fsync, timed, on the registries' disk" }),
    row({
      section: "2",
      metric: "raw monolithic upload / disk write bandwidth",
      unit: "×",
      better: "higher",
      samples: { berth: ofDisk, distribution: [] },
      note: "Berth's upload MB/s over the disk write MB/s of the same round",
    }),
    row({
      section: "2",
      metric: `raw blob GET, ${ctx.options.blobMiB} MiB`,
      unit: "MB/s",
      better: "higher",
      samples: download,
      note: "curl -o /dev/null right after the upload, curl's time_total; blob data in the page cache",
    }),
    row({ section: "2", metric: "server CPU during raw upload", unit: "s/GB", better: "lower", samples: uploadCpu, note: "user+system CPU of the registry process per 10^9 bytes" }),
    row({ section: "2", metric: "server CPU during raw blob GET", unit: "s/GB", better: "lower", samples: downloadCpu, note: "user+system CPU of the registry process per 10^9 bytes" }),
  ];
}
