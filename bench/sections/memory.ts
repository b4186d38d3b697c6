/**
 * Section 6: peak resident memory of each registry process while it receives one big layer.
 * VmHWM in /proc/<pid>/status is the kernel's own high-water mark since the process started.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { makeImageLayout } from "../../test/support/images.js";
import { skopeoCopy } from "../../test/support/skopeo.js";
import { log, mbps, settle, type Context } from "../lib/context.js";
import { MiB } from "../lib/data.js";
import { row, type Row } from "../lib/report.js";
import { memoryStatus, type Kind, type Server } from "../lib/servers.js";

export async function peakMemory(ctx: Context): Promise<Row[]> {
  const size = ctx.options.rssMiB * MiB;
  let t = performance.now();
  const image = await makeImageLayout(join(ctx.work, "rss-image"), { layers: [size], seed: `${ctx.seed}-rss`, tag: "bench" });
  const bytes = image.manifests[0]!.layers[0]!.size;
  log(`  generated a ${(bytes / MiB).toFixed(0)} MiB layer in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const idle: Record<Kind, number> = { berth: 0, distribution: 0 };
  const peak: Record<Kind, number> = { berth: 0, distribution: 0 };
  const sampled: Record<Kind, number> = { berth: 0, distribution: 0 };
  const speed: Record<Kind, number[]> = { berth: [], distribution: [] };
  try {
    for (const kind of ["berth", "distribution"] as const) {
      // A fresh process each, so the high-water mark belongs to this push alone.
      const server: Server = await ctx.start(kind, join(ctx.work, `rss-${kind}`));
      try {
        idle[kind] = (await memoryStatus(server.pid)).peakRss;
        // VmRSS sampled as a cross-check of VmHWM; the sampler ends with the push.
        let pushing = true;
        const sampler = (async () => {
          for (let i = 0; pushing && i < 100_000; i++) {
            sampled[kind] = Math.max(sampled[kind], (await memoryStatus(server.pid)).rss);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })();
        await settle();
        t = performance.now();
        try {
          await skopeoCopy(image.ref, `docker://${server.host}/bench/big:bench`, { timeoutMs: 20 * 60_000 });
        } finally {
          pushing = false;
          await sampler;
        }
        speed[kind].push(mbps(bytes, performance.now() - t));
        peak[kind] = (await memoryStatus(server.pid)).peakRss;
        log(`    ${kind.padEnd(12)} VmHWM ${(idle[kind] / MiB).toFixed(1)} MiB after start, ${(peak[kind] / MiB).toFixed(1)} MiB after the push (${speed[kind][0]!.toFixed(1)} MB/s)`);
      } finally {
        await ctx.stop(server);
      }
    }
  } finally {
    await rm(image.dir, { recursive: true, force: true });
  }
  const toMiB = (r: Record<Kind, number>): Record<Kind, number[]> => ({ berth: [r.berth / MiB], distribution: [r.distribution / MiB] });
  const label = ctx.options.rssMiB >= 1024 ? `${ctx.options.rssMiB / 1024} GiB` : `${ctx.options.rssMiB} MiB`;
  return [
    row({
      section: "6",
      metric: `peak RSS (VmHWM) during a ${label} push`,
      unit: "MiB",
      better: "lower",
      samples: toMiB(peak),
      target: { kind: "berth-max", value: 150 },
      note: "fresh process, skopeo push of one layer, VmHWM read after the push",
      details: { sampledMaxVmRssMiB: { berth: sampled.berth / MiB, distribution: sampled.distribution / MiB } },
    }),
    row({ section: "6", metric: "RSS (VmHWM) idle after start", unit: "MiB", better: "lower", samples: toMiB(idle) }),
    row({ section: "6", metric: `skopeo push, ${label} layer (single run)`, unit: "MB/s", better: "higher", samples: speed }),
  ];
}
