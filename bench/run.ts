/**
 * `npm run bench`: Berth against Debian's docker-registry (CNCF distribution 2.8), same machine,
 * same disk, same clients, alternating between the two. Prints a table of medians with the
 * ratio Berth/distribution and the targets, and writes the figures as JSON under the temp dir.
 *
 *   npm run bench                      # everything (several minutes)
 *   npm run bench -- --quick           # 64 MiB blobs, 1,000 repositories, 3 s load runs
 *   npm run bench -- --only=catalog,rss
 *   npm run bench -- --only=gc,console
 *   npm run bench -- --only=s3
 *   npm run bench -- --only=chunked
 *   npm run bench -- --only=online-gc
 *   npm run bench -- --only=proxy
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Context, log, sectionIds, type Options } from "./lib/context.js";
import { killActiveChildren } from "./lib/proc.js";
import { formatRatio, formatValue, markdownTable, ratio, targetText, textTable, verdict, type Row } from "./lib/report.js";
import type { Server } from "./lib/servers.js";
import { chartSvg } from "./lib/chart.js";
import { applyTargets } from "./lib/targets.js";
import { buildServer, ensureTools, tools, toolVersions, type Tool } from "./lib/tools.js";
import { catalog } from "./sections/catalog.js";
import { chunkedUploads } from "./sections/chunked.js";
import { consoleApi } from "./sections/console.js";
import { onlineGc } from "./sections/online-gc.js";
import { garbageCollection } from "./sections/gc.js";
import { headLoad, manifestLoad, pushSmallImage, type SmallImage } from "./sections/load.js";
import { peakMemory } from "./sections/memory.js";
import { proxyCache } from "./sections/proxy.js";
import { s3 } from "./sections/s3.js";
import { pushPull, rawBlobs } from "./sections/transfer.js";

/** Issue 23: every figure is the median of at least this many interleaved rounds. */
const MIN_ROUNDS = 5;

const repoRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));

const usage = `Usage: npm run bench -- [options]

Berth vs Debian's docker-registry (distribution 2.8), side by side.

Options:
  --quick            Small sizes for a sanity run: 64 MiB blobs, 1,000 repositories,
                     3 s load runs; GC on 1,000 manifests / 5,000 blobs;
                     50 small layers in the S3 section; online GC on 1,000 manifests
                     / 6,000 blobs with 3 s windows; a 64 MiB layer through the
                     pull-through cache.
  --only=LIST        Comma-separated sections, by number or name:
                       1 push-pull  skopeo push and pull of a single-layer image
                       2 raw        monolithic blob upload and blob GET over the raw API
                       3 manifest   manifest GET by tag under load (wrk)
                       4 head       blob HEAD under load (hey)
                       5 catalog    /v2/_catalog over many repositories
                       6 rss        peak RSS while receiving a big layer
                       7 gc         offline garbage-collect, 10,000 manifests / 50,000 blobs
                       8 console    console API (metadata index) at 10,000 repositories
                       9 s3         both on one radosgw (S3): 200 small layers, a big
                                    layer, manifest GET; radosgw default and tcp_nodelay
                      10 chunked    chunked upload (128 PATCHes, 64 MiB; --quick 16 MiB)
                                    to one instance and alternating between two
                      11 online-gc  push/s of 4 clients during an online garbage-collect
                                    and without (Berth alone), 2,000 manifests /
                                    12,000 blobs, half garbage
                      12 proxy      pull-through cache: first pull (1 GiB layer) vs the
                                    upstream direct and vs distribution's cache, cached
                                    pull vs a plain Berth, peak RSS, skopeo first pull
  --rounds=N         Interleaved rounds of each comparison (default 5): Berth then
                     distribution, then the other way round, ...; every figure is the
                     median of its rounds with their min–max.
  --repos=N          Repositories for sections 5 and 8 (default 10,000; --quick 1,000).
  --out=FILE         Where to write the JSON (default: <tmpdir>/berth-bench/latest.json).
  --chart=FILE       Where to write the SVG chart (default: docs/bench-chart.svg).
  --no-build         Do not recompile the server first.
  -h, --help         Show this help.
`;

/** The sections of bench/lib/context.ts, then those registered here (Berth-only or offline). */
const allSectionIds = [...sectionIds, "gc", "console", "s3", "chunked", "online-gc", "proxy"] as const;
type RunSectionId = (typeof allSectionIds)[number];

const sharedPairSections = new Set<RunSectionId>(["push-pull", "raw", "manifest", "head"]);

const sectionTools: Record<RunSectionId, Tool[]> = {
  "push-pull": [tools.registry, tools.skopeo],
  raw: [tools.registry, tools.curl],
  manifest: [tools.registry, tools.skopeo, tools.wrk],
  head: [tools.registry, tools.skopeo, tools.hey],
  catalog: [tools.registry],
  rss: [tools.registry, tools.skopeo],
  gc: [tools.registry],
  console: [],
  s3: [tools.registry, tools.skopeo, tools.wrk, tools.cephMon, tools.cephOsd, tools.radosgw, tools.ceph],
  chunked: [tools.registry],
  "online-gc": [],
  proxy: [tools.registry, tools.curl, tools.skopeo],
};

function parseOptions(argv: string[]): { options: Options; selected: RunSectionId[] } | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      rounds: { type: "string" },
      repos: { type: "string" },
      out: { type: "string" },
      chart: { type: "string" },
      "no-build": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return undefined;
  const only = new Set<RunSectionId>();
  for (const item of (values.only ?? allSectionIds.join(",")).split(",").map((s) => s.trim()).filter(Boolean)) {
    const byNumber = /^\d+$/.test(item) ? allSectionIds[Number(item) - 1] : undefined;
    const id = byNumber ?? allSectionIds.find((s) => s === item);
    if (!id) throw new Error(`unknown section ${JSON.stringify(item)}; expected 1-${allSectionIds.length} or one of ${allSectionIds.join(", ")}`);
    only.add(id);
  }
  const quick = values.quick;
  const runs = values.rounds !== undefined ? Number(values.rounds) : MIN_ROUNDS;
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error("--rounds must be an integer from 1 to 20");
  const repos = values.repos !== undefined ? Number(values.repos) : quick ? 1_000 : 10_000;
  if (!Number.isInteger(repos) || repos < 200 || repos > 1_000_000) throw new Error("--repos must be an integer from 200 to 1,000,000");
  const options: Options = {
    quick,
    only: new Set(sectionIds.filter((id) => only.has(id))),
    runs,
    blobMiB: quick ? 64 : 256,
    rssMiB: quick ? 64 : 1024,
    chunkedMiB: quick ? 16 : 64,
    repos,
    loadSeconds: quick ? 3 : 10,
    connections: 64,
    out: values.out,
    chart: values.chart ?? join(repoRoot, "docs", "bench-chart.svg"),
    build: !values["no-build"],
  };
  return { options, selected: allSectionIds.filter((id) => only.has(id)) };
}

function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? "unknown",
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    tmpdir: os.tmpdir(),
  };
}

async function main(): Promise<number> {
  let parsed: { options: Options; selected: RunSectionId[] } | undefined;
  try {
    parsed = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (!parsed) {
    process.stdout.write(usage);
    return 0;
  }
  const { options, selected } = parsed;
  ensureTools(selected.flatMap((id) => sectionTools[id]));
  if (options.build) await buildServer(repoRoot);

  const work = await mkdtemp(join(os.tmpdir(), "berth-bench-"));
  const ctx = new Context(repoRoot, work, options);
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      killActiveChildren();
      await ctx.stopAll();
      await rm(work, { recursive: true, force: true });
    })());
  const interrupted = (signal: NodeJS.Signals): void => {
    console.error(`\nbench: ${signal}: stopping servers and removing ${work}…`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);

  const started = new Date();
  const errors: { section: RunSectionId; error: string }[] = [];
  try {
    log(`bench: ${options.quick ? "quick run" : "full run"}, sections ${selected.join(", ")}; work dir ${work}`);
    // Sections 1-4 share one pair of long-running servers on fresh roots.
    let pair: [Server, Server] | undefined;
    let small: SmallImage | undefined;
    const sharedPair = async (): Promise<[Server, Server]> => {
      if (!pair) {
        const berth = await ctx.start("berth", join(work, "main-berth"));
        const dist = await ctx.start("distribution", join(work, "main-distribution"));
        pair = [berth, dist];
      }
      return pair;
    };
    const smallImage = async (): Promise<SmallImage> => (small ??= await pushSmallImage(ctx, await sharedPair()));

    const sections: Record<RunSectionId, { title: string; run: () => Promise<Row[]> }> = {
      "push-pull": { title: `1. skopeo push/pull, ${options.blobMiB} MiB single-layer image`, run: async () => pushPull(ctx, await sharedPair()) },
      raw: { title: `2. raw monolithic upload and blob GET, ${options.blobMiB} MiB`, run: async () => rawBlobs(ctx, await sharedPair()) },
      manifest: { title: `3. manifest GET by tag, ${options.connections} connections (wrk)`, run: async () => manifestLoad(ctx, await sharedPair(), await smallImage()) },
      head: { title: `4. blob HEAD, ${options.connections} connections (hey)`, run: async () => headLoad(ctx, await sharedPair(), await smallImage()) },
      catalog: { title: `5. _catalog with ${options.repos.toLocaleString("en-US")} repositories`, run: () => catalog(ctx) },
      rss: { title: `6. peak RSS during a ${options.rssMiB} MiB push`, run: () => peakMemory(ctx) },
      gc: { title: `7. offline garbage-collect, ${options.quick ? "1,000 manifests / 5,000" : "10,000 manifests / 50,000"} blobs`, run: () => garbageCollection(ctx) },
      console: { title: `8. console API (metadata index), ${options.repos.toLocaleString("en-US")} repositories`, run: () => consoleApi(ctx) },
      s3: { title: `9. S3 storage (radosgw), Berth and distribution on one server`, run: () => s3(ctx) },
      chunked: { title: `10. chunked upload, ${options.chunkedMiB} MiB in 128 PATCHes, one instance and two alternating`, run: () => chunkedUploads(ctx) },
      "online-gc": { title: `11. push/s during an online garbage-collect and without, ${options.quick ? "1,000 manifests / 6,000" : "2,000 manifests / 12,000"} blobs, half garbage`, run: () => onlineGc(ctx) },
      proxy: { title: `12. pull-through cache, ${options.rssMiB >= 1024 ? `${options.rssMiB / 1024} GiB` : `${options.rssMiB} MiB`} layer: first pull vs the upstream, cached pull vs a plain Berth`, run: () => proxyCache(ctx) },
    };
    for (const id of selected) {
      // Interrupted: the cleanup is removing the work dir; no further section may write into it.
      if (cleaning) break;
      const section = sections[id];
      log(`\n== ${section.title} ==`);
      const t = performance.now();
      try {
        ctx.rows.push(...applyTargets(await section.run()));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        errors.push({ section: id, error: message });
        console.error(`bench: section ${id} failed: ${message}`);
      }
      log(`  (${((performance.now() - t) / 1000).toFixed(0)} s)`);
      // The shared pair is stopped as soon as no later section needs it.
      if (pair && !selected.slice(selected.indexOf(id) + 1).some((later) => sharedPairSections.has(later))) {
        await ctx.stop(...pair);
        pair = undefined;
      }
    }
  } finally {
    await cleanup();
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
  }

  const finished = new Date();
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  log(`\n== results (${command}; ${started.toISOString()}) ==`);
  log(
    `Each figure is the median [min–max] of its rounds (how many: after the unit); "ratio of medians" is Berth's median over distribution's; ` +
      `"better" says which direction wins; p99 is the median over the rounds of each load run's p99 latency.\n`,
  );
  log(textTable(ctx.rows));
  for (const r of ctx.rows) if (r.note) log(`  [${r.section}] ${r.metric}: ${r.note}`);
  const failed = ctx.rows.filter((r) => verdict(r) === "MISSED");
  const passed = ctx.rows.filter((r) => verdict(r) === "met");
  log(`\ntargets: ${passed.length} met, ${failed.length} missed${failed.length ? ` (${failed.map((r) => `${r.section}: ${r.metric}`).join("; ")})` : ""}`);
  for (const e of errors) log(`section ${e.section} did not complete: ${e.error.split("\n")[0]}`);

  const result = {
    command,
    started: started.toISOString(),
    finished: finished.toISOString(),
    options: { ...options, only: selected },
    machine: machine(),
    tools: await toolVersions(),
    rows: ctx.rows.map((r) => ({
      ...r,
      ratio: ratio(r),
      ratioText: formatRatio(ratio(r)),
      berthText: formatValue(r.berth),
      distributionText: formatValue(r.distribution),
      targetText: targetText(r),
      verdict: verdict(r),
    })),
    markdown: markdownTable(ctx.rows),
    errors,
  };
  const out = resolve(options.out ?? join(os.tmpdir(), "berth-bench", "latest.json"));
  await mkdir(resolve(out, ".."), { recursive: true });
  await writeFile(out, JSON.stringify(result, null, 2) + "\n");
  log(`\nJSON: ${out}`);
  await writeFile(options.chart, chartSvg(ctx.rows, `Berth vs distribution 2.8: ${started.toISOString().slice(0, 16).replace("T", " ")} UTC, ${options.runs} rounds`, command));
  log(`chart: ${options.chart}`);
  if (options.runs < MIN_ROUNDS) log(`fewer than ${MIN_ROUNDS} rounds: a sanity run, not a result`);
  return errors.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
