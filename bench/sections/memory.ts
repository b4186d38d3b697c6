/**
 * Section 6: resident memory. Per round, a fresh process of each registry receives one big
 * layer (VmHWM in /proc/<pid>/status is the kernel's own high-water mark since the process
 * started, so it is this push's peak), and a fresh Berth with its console is left idle.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { makeImageLayout } from "../../test/support/images.js";
import { skopeoCopy } from "../../test/support/skopeo.js";
import { ApiClient } from "../lib/console-client.js";
import { startConsoleServer } from "../lib/console-server.js";
import { log, mbps, settle, type Context } from "../lib/context.js";
import { MiB } from "../lib/data.js";
import { row, type Row } from "../lib/report.js";
import { interleaved, samples } from "../lib/rounds.js";
import { memoryStatus, type Kind, type Server } from "../lib/servers.js";

const PASSWORD = "x";
/** How long the console Berth sits idle after its index is built and its first page served. */
const IDLE_MS = 3_000;

/** VmRSS of a fresh Berth with its console, idle after a login, the index built and one page of the UI. */
async function idleWithConsole(ctx: Context, round: number): Promise<number> {
  const stateDir = join(ctx.work, `rss-console-state-${round}`);
  await mkdir(stateDir, { recursive: true });
  const server = await startConsoleServer(ctx, join(ctx.work, `rss-console-${round}`), stateDir, PASSWORD);
  try {
    const client = new ApiClient(server.url, PASSWORD);
    await client.login();
    for (let i = 0; (await client.query<{ index: { builtAt: string | null } }>("images.stats")).data.index.builtAt === null; i++) {
      if (i > 600) throw new Error("the console's index was not built within 60 s");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await (await fetch(server.url, { signal: AbortSignal.timeout(60_000) })).arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    return (await memoryStatus(server.pid)).rss / MiB;
  } finally {
    await ctx.stop(server);
  }
}

export async function peakMemory(ctx: Context): Promise<Row[]> {
  const size = ctx.options.rssMiB * MiB;
  let t = performance.now();
  const image = await makeImageLayout(join(ctx.work, "rss-image"), { layers: [size], seed: `${ctx.seed}-rss`, tag: "bench" });
  const bytes = image.manifests[0]!.layers[0]!.size;
  log(`  generated a ${(bytes / MiB).toFixed(0)} MiB layer in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const idle = samples();
  const peak = samples();
  const sampled = samples();
  const speed = samples();
  const consoleIdle: number[] = [];
  try {
    await interleaved(ctx, ["berth", "distribution"] as [Kind, Kind], {
      prepare: async (round) => {
        consoleIdle.push(await idleWithConsole(ctx, round));
        log(`  round ${round + 1}/${ctx.options.runs}: Berth with console idle at ${consoleIdle.at(-1)!.toFixed(1)} MiB VmRSS`);
      },
      measure: async (kind, round) => {
        // A fresh process and root each, so the high-water mark belongs to this push alone.
        const server: Server = await ctx.start(kind, join(ctx.work, `rss-${kind}-${round}`));
        try {
          idle[kind].push((await memoryStatus(server.pid)).peakRss / MiB);
          // VmRSS sampled as a cross-check of VmHWM; the sampler ends with the push.
          let pushing = true;
          let highest = 0;
          const sampler = (async () => {
            for (let i = 0; pushing && i < 100_000; i++) {
              highest = Math.max(highest, (await memoryStatus(server.pid)).rss);
              await new Promise((resolve) => setTimeout(resolve, 100));
            }
          })();
          await settle();
          t = performance.now();
          try {
            await skopeoCopy(image.ref, `docker://${server.host}/bench/big-${round}:bench`, { timeoutMs: 20 * 60_000 });
          } finally {
            pushing = false;
            await sampler;
          }
          speed[kind].push(mbps(bytes, performance.now() - t));
          peak[kind].push((await memoryStatus(server.pid)).peakRss / MiB);
          sampled[kind].push(highest / MiB);
          log(`    ${kind.padEnd(12)} VmHWM ${idle[kind].at(-1)!.toFixed(1)} MiB after start, ${peak[kind].at(-1)!.toFixed(1)} MiB after the push (${speed[kind].at(-1)!.toFixed(1)} MB/s)`);
        } finally {
          await ctx.stop(server);
          await rm(join(ctx.work, `rss-${kind}-${round}`), { recursive: true, force: true });
        }
      },
    });
  } finally {
    await rm(image.dir, { recursive: true, force: true });
  }
  const label = ctx.options.rssMiB >= 1024 ? `${ctx.options.rssMiB / 1024} GiB` : `${ctx.options.rssMiB} MiB`;
  return [
    row({
      section: "6",
      metric: `peak RSS (VmHWM) during a ${label} push`,
      unit: "MiB",
      better: "lower",
      samples: peak,
      note: "fresh process per round, skopeo push of one layer, VmHWM read after the push",
      details: { sampledMaxVmRssMiB: sampled },
    }),
    row({ section: "6", metric: "RSS (VmHWM) idle after start, registry only", unit: "MiB", better: "lower", samples: idle }),
    row({
      section: "6",
      metric: "RSS (VmRSS) idle after start, with console",
      unit: "MiB",
      better: "lower",
      samples: { berth: consoleIdle, distribution: [] },
      note: `berth serve with the console, empty root: login, index built, the UI's first page, then ${IDLE_MS / 1000} s idle`,
    }),
    row({ section: "6", metric: `skopeo push, ${label} layer`, unit: "MB/s", better: "higher", samples: speed }),
  ];
}
