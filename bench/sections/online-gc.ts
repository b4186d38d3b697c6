/**
 * Section 11: push throughput while an online garbage collection runs, against the same Berth
 * without one. A storage full of garbage (section 7's data set, half of its blobs unreferenced)
 * is copied afresh per round and served by one Berth; a few clients push small images into
 * its repositories without a pause, first with nothing else running (or second: the order
 * alternates), then while `berth garbage-collect` collects online. Every push must succeed and
 * every pushed image must still be there once the collection is done. distribution cannot
 * collect while it takes pushes (its garbage-collect wants the registry stopped or read-only),
 * so it has no figure here.
 */
import { randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { OCI_MANIFEST } from "../../test/support/images.js";
import { send, StatusError } from "../lib/clients.js";
import { log, settle, type Context } from "../lib/context.js";
import { gcDataset } from "../lib/gc-dataset.js";
import { blobOf, image, type Blob } from "../lib/layout-files.js";
import { row, type Row } from "../lib/report.js";
import { interleaved } from "../lib/rounds.js";
import { berthConfig, type Server } from "../lib/servers.js";
import { berthGc, loud, runLogged } from "./gc.js";

const CLIENTS = 4;
/** Each layer's size: random bytes written as hex, so the content is a string like the data set's. */
const LAYER_BYTES = 64 * 1024;
const LAYERS = 2;
/** How long the pushers run before a window opens: connections made, the server's code warm. */
const RAMP_MS = 1_000;
const WARMUP_MS = 2_000;
/** The hold the collection is run with: long enough to be a real online run, short for the bench. */
const HOLD = "5s";
const HOLD_MS = 5_000;
const TARGET_RATIO = 0.8;

interface PushedImage {
  repo: string;
  tag: string;
  manifest: Blob;
  blobs: Blob[];
}

interface PushFailure {
  /** ms since the load started */
  at: number;
  ref: string;
  step: string;
  /** The HTTP status, or the network error's code. */
  status: number | string;
  /** The registry's error code (`errors[0].code`), when it sent one. */
  code: string;
  message: string;
}

/** The registry's error code from an OCI error body, or "". */
function errorCode(body: string): string {
  try {
    const parsed = JSON.parse(body) as { errors?: { code?: string }[] };
    return parsed.errors?.[0]?.code ?? "";
  } catch {
    return "";
  }
}

/**
 * CLIENTS concurrent pushers, each pushing one small image after the other until stopped, the way
 * docker pushes: per blob HEAD (absent, since every image is new), POST, PUT ?digest= with the
 * body, then the manifest PUT. A failed request ends that push, is recorded, and the pusher goes
 * on with the next image.
 */
class PushLoad {
  readonly pushed: PushedImage[] = [];
  /** performance.now() at each completed push. */
  readonly completions: number[] = [];
  readonly failures: PushFailure[] = [];
  private readonly started = performance.now();
  private stopping = false;
  private readonly workers: Promise<void>[];
  private count = 0;

  constructor(
    private readonly server: Server,
    private readonly repos: string[],
    private readonly label: string,
  ) {
    this.workers = Array.from({ length: CLIENTS }, () => this.worker());
  }

  private async worker(): Promise<void> {
    while (!this.stopping) {
      const n = this.count++;
      // Spread over the data set's repositories: pushes land where the collection sweeps.
      const repo = this.repos[n % this.repos.length]!;
      const tag = `${this.label}-${n}`;
      const layers = Array.from({ length: LAYERS }, () => blobOf(randomBytes(LAYER_BYTES / 2).toString("hex")));
      const made = image({ oci: true, architecture: "amd64", created: new Date().toISOString(), label: `${this.label}-${n}`, layers });
      let step = "";
      try {
        for (const blob of [...layers, made.config]) {
          step = `HEAD blob ${blob.digest}`;
          const head = await fetch(new URL(`/v2/${repo}/blobs/${blob.digest}`, this.server.url), { method: "HEAD", signal: AbortSignal.timeout(60_000) });
          if (head.status === 200) continue;
          if (head.status !== 404) throw new StatusError(`HEAD answered ${head.status}`, head.status, "");
          step = `POST upload for ${blob.digest}`;
          const started = await send(this.server, "POST", new URL(`/v2/${repo}/blobs/uploads/`, this.server.url), 202);
          await started.arrayBuffer();
          const location = started.headers.get("location");
          if (!location) throw new Error("202 without a Location");
          const url = new URL(location, this.server.url);
          url.searchParams.set("digest", blob.digest);
          step = `PUT blob ${blob.digest}`;
          const put = await send(this.server, "PUT", url, 201, blob.content, { "Content-Type": "application/octet-stream" });
          await put.arrayBuffer();
        }
        step = `PUT manifest ${made.manifest.digest}`;
        const res = await send(this.server, "PUT", new URL(`/v2/${repo}/manifests/${tag}`, this.server.url), 201, made.manifest.content, { "Content-Type": OCI_MANIFEST });
        await res.arrayBuffer();
        this.completions.push(performance.now());
        this.pushed.push({ repo, tag, manifest: made.manifest, blobs: [made.config, ...layers] });
      } catch (error) {
        const status =
          error instanceof StatusError
            ? error.status
            : String((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name ?? "error");
        this.failures.push({
          at: performance.now() - this.started,
          ref: `${repo}:${tag}`,
          step,
          status,
          code: error instanceof StatusError ? errorCode(error.body) : "",
          message: (error as Error).message.slice(0, 300),
        });
      }
    }
  }

  /** Pushes completed in [from, to) (performance.now() times). */
  completedBetween(from: number, to: number): number {
    return this.completions.filter((t) => t >= from && t < to).length;
  }

  /** Completed pushes per whole second of [from, to): the slowest second says more than the mean. */
  perSecond(from: number, to: number): number[] {
    const buckets = Array.from({ length: Math.floor((to - from) / 1000) }, () => 0);
    for (const t of this.completions) {
      const i = Math.floor((t - from) / 1000);
      if (t >= from && i < buckets.length) buckets[i]!++;
    }
    return buckets;
  }

  /** Lets every pusher finish the image it is on. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers);
  }
}

/** HEADs every blob and the manifest of each pushed image; the refs of those not answering 200. */
async function unpullable(server: Server, images: PushedImage[]): Promise<string[]> {
  const missing: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < images.length) {
      const pushed = images[next++]!;
      const paths = [`manifests/${pushed.manifest.digest}`, ...pushed.blobs.map((b) => `blobs/${b.digest}`)];
      for (const path of paths) {
        const res = await fetch(new URL(`/v2/${pushed.repo}/${path}`, server.url), { method: "HEAD", headers: { Accept: OCI_MANIFEST }, signal: AbortSignal.timeout(60_000) });
        if (res.status !== 200) missing.push(`${pushed.repo}:${pushed.tag} ${path} → ${res.status}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return missing;
}

interface GcJson {
  status: string;
  report?: { durationMs: number; blobs: number; blobsDeleted: { digest: string }[]; kept: { protected: { blobs: number } } };
}

type Phase = "without" | "during";

/** One round's server, and every image pushed to it (checked after both phases). */
interface Round {
  server: Server;
  images: PushedImage[];
}

export async function onlineGc(ctx: Context): Promise<Row[]> {
  const manifests = ctx.options.quick ? 1_000 : 2_000;
  const blobs = manifests * 6;
  // Half of all blobs garbage: the collection has as much to delete as to keep.
  const data = gcDataset(manifests, blobs, `${ctx.seed}-online`, blobs / 2);
  const windowMs = ctx.options.loadSeconds * 1000;
  const rates: Record<Phase, number[]> = { without: [], during: [] };
  const ratios: number[] = [];
  const gcSeconds: number[] = [];
  const slowestSecond: number[] = [];
  const failures: Record<Phase, PushFailure[]> = { without: [], during: [] };
  const missing: string[] = [];
  const problems: string[] = [];
  let pushedTotal = 0;
  let protectedBlobs = 0;

  const root = join(ctx.work, "online-gc");
  // The collection's config names the same root; it listens nowhere, so the port is moot.
  const config = join(ctx.work, "online-gc.yml");
  await writeFile(config, berthConfig(root, 5000, { stateDir: join(ctx.work, "online-gc-state") }));

  await interleaved<Phase, Round>(ctx, ["without", "during"], {
    prepare: async (rep) => {
      const t = performance.now();
      await rm(root, { recursive: true, force: true });
      // Written afresh each time rather than copied: on this disk writing the files is the faster.
      await data.files.write(root);
      const server = await ctx.start("berth", root);
      log(
        `    round ${rep + 1}: wrote ${data.manifests.toLocaleString("en-US")} manifests, ${data.blobs.toLocaleString("en-US")} blobs ` +
          `(${data.unreferenced.size.toLocaleString("en-US")} unreferenced) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
      try {
        const warmup = new PushLoad(server, data.names, `warmup-${rep}`);
        await sleep(WARMUP_MS);
        await warmup.stop();
        failures.without.push(...warmup.failures);
        return { server, images: [...warmup.pushed] };
      } catch (error) {
        await ctx.stop(server);
        throw error;
      }
    },
    measure: async (phase, rep, { server, images }) => {
      // Write-back of the data set or of the other phase's pushes is not this phase's; capped, so
      // a disk kept busy by others does not stretch the section.
      await settle(5_000);
      const load = new PushLoad(server, data.names, `${phase}-${rep}`);
      let from = 0;
      let to = 0;
      let output = "";
      try {
        await sleep(RAMP_MS);
        from = performance.now();
        if (phase === "without") await sleep(windowMs);
        else {
          const [command, args] = berthGc(ctx, ["--grace", "0s", "--hold", HOLD, "--json", config]);
          ({ output } = await runLogged(ctx, "berth garbage-collect (online)", command, args));
        }
        to = performance.now();
      } finally {
        // Also when the collection failed: pushers left running would spin against a stopped server.
        await load.stop();
      }
      let note = "";
      if (phase === "during") {
        // --json prints the run on stdout; anything the collection logs (stderr) shares the file.
        const run = JSON.parse(output.slice(output.indexOf("\n{") + 1, output.lastIndexOf("}") + 1)) as GcJson;
        const report = run.report;
        if (run.status !== "succeeded" || !report) throw new Error(`the collection did not succeed: ${output.slice(0, 500)}`);
        // Without a running instance seen, the run skips its hold: then it was not online.
        if (report.durationMs < HOLD_MS) problems.push(`round ${rep + 1}: the collection took ${report.durationMs} ms, less than its hold: it did not see the running Berth`);
        const deleted = report.blobsDeleted.map((b) => b.digest);
        const wrong = deleted.filter((digest) => !data.unreferenced.has(digest));
        if (wrong.length > 0) problems.push(`round ${rep + 1}: the collection deleted ${wrong.length} blobs that were not garbage (${wrong.slice(0, 3).join(", ")})`);
        protectedBlobs += report.kept.protected.blobs;
        note = `; GC deleted ${deleted.length} of ${data.unreferenced.size} garbage blobs, kept ${report.kept.protected.blobs} as in use`;
      }
      const rate = load.completedBetween(from, to) / ((to - from) / 1000);
      rates[phase].push(rate);
      failures[phase].push(...load.failures);
      images.push(...load.pushed);
      if (phase === "during") {
        gcSeconds.push((to - from) / 1000);
        slowestSecond.push(Math.min(...load.perSecond(from, to)));
      }
      const failed = load.failures.length > 0 ? `, ${load.failures.length} FAILED` : "";
      if (load.failures.length > 0) log(`    Berth's log, last lines:\n${server.output().trim().split("\n").slice(-20).join("\n")}`);
      log(`    ${phase === "without" ? "no GC       " : "online GC   "} ${rate.toFixed(1)} push/s over ${((to - from) / 1000).toFixed(1)} s, ${load.pushed.length} pushes${failed}${note}`);
    },
    cleanup: async (rep, { server, images }) => {
      try {
        if (rates.during.length === rep + 1 && rates.without.length === rep + 1) {
          ratios.push(rates.during.at(-1)! / rates.without.at(-1)!);
          const gone = await unpullable(server, images);
          missing.push(...gone);
          pushedTotal += images.length;
          log(`    during / without: ${ratios.at(-1)!.toFixed(3)}×; ${images.length - new Set(gone.map((g) => g.split(" ")[0])).size} of ${images.length} pushed images pull (manifest and blobs HEAD 200)`);
        }
      } finally {
        await ctx.stop(server);
        await rm(root, { recursive: true, force: true });
      }
    },
  });

  const allFailures = [...failures.without.map((f) => ({ phase: "no GC", ...f })), ...failures.during.map((f) => ({ phase: "during GC", ...f }))];
  for (const f of allFailures) log(`    failed push (${f.phase}, ${(f.at / 1000).toFixed(1)} s into its load): ${f.ref} at ${f.step}: ${f.status}${f.code ? ` ${f.code}` : ""}: ${f.message}`);
  if (allFailures.length > 0 || missing.length > 0 || problems.length > 0) {
    loud([
      "ONLINE GARBAGE COLLECTION: PUSHES FAILED OR IMAGES LOST",
      `${failures.during.length} failed pushes during the collection, ${failures.without.length} without`,
      `${missing.length} manifest/blob HEADs not 200 after it${missing.length ? `: ${missing.slice(0, 5).join("; ")}` : ""}`,
      ...problems,
    ]);
  }

  const codes = (list: PushFailure[]): string =>
    [...new Set(list.map((f) => `${f.status}${f.code ? ` ${f.code}` : ""} at ${f.step.split(" ").slice(0, 2).join(" ")}`))].join("; ");
  const what = `${CLIENTS} clients, config + ${LAYERS} × ${LAYER_BYTES / 1024} KiB layers`;
  const noDistribution = "distribution: — (it cannot collect while taking pushes; its garbage-collect needs the registry stopped or read-only)";
  return [
    row({
      section: "11",
      metric: `push/s, ${what}, no GC`,
      unit: "push/s",
      better: "higher",
      samples: { berth: rates.without, distribution: [] },
      note: `per push: HEAD, POST, PUT ?digest= per blob, then the manifest PUT, by fetch over kept-alive connections; into the ${data.repositories} repositories of a storage with ${data.unreferenced.size.toLocaleString("en-US")} garbage blobs of ${data.blobs.toLocaleString("en-US")}; ${ctx.options.loadSeconds} s window after a ${RAMP_MS / 1000} s ramp`,
    }),
    row({
      section: "11",
      metric: "push/s during online garbage-collect",
      unit: "push/s",
      better: "higher",
      samples: { berth: rates.during, distribution: [] },
      note: `window: the collection's whole run (garbage-collect --grace 0s --hold ${HOLD}, ${gcSeconds.map((s) => s.toFixed(1)).join(", ")} s; settle and hold included), started ${RAMP_MS / 1000} s after the pushers; slowest whole second ${slowestSecond.join(", ")} pushes; ${noDistribution}`,
      details: { gcSeconds, slowestSecond, protectedBlobs },
    }),
    row({
      section: "11",
      metric: "push/s during GC / without",
      unit: "×",
      better: "higher",
      samples: { berth: ratios, distribution: [] },
      target: { kind: "berth-min", value: TARGET_RATIO },
      note: "per round (median), the order of the two phases alternating (bench/lib/rounds.ts)",
    }),
    row({
      section: "11",
      metric: "failed pushes during online GC",
      unit: "pushes",
      better: "lower",
      berth: failures.during.length,
      samples: { berth: [], distribution: [] },
      target: { kind: "berth-max", value: 0 },
      note: `total over ${ctx.options.runs} rounds${failures.during.length ? `: ${codes(failures.during)}` : ""}; without GC: ${failures.without.length}${failures.without.length ? ` (${codes(failures.without)})` : ""}`,
      details: { failures: allFailures },
    }),
    row({
      section: "11",
      metric: "pushed images missing after online GC",
      unit: "HEADs",
      better: "lower",
      berth: missing.length,
      samples: { berth: [], distribution: [] },
      target: { kind: "berth-max", value: 0 },
      note: `manifest by digest and every blob HEADed after each run, ${pushedTotal} images in all${problems.length ? `; ${problems.join("; ")}` : ""}`,
      details: { missing: missing.slice(0, 100) },
    }),
  ];
}
