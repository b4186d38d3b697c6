/** What every section gets: options, a private temp dir, server start/stop, progress output. */
import { readFile } from "node:fs/promises";
import { run } from "./proc.js";
import type { Row } from "./report.js";
import { startServer, type Kind, type Server } from "./servers.js";

export const sectionIds = ["push-pull", "raw", "manifest", "head", "catalog", "rss"] as const;
export type SectionId = (typeof sectionIds)[number];

export interface Options {
  quick: boolean;
  only: Set<SectionId>;
  /** Interleaved rounds of each comparison, `--rounds` (rounds.ts; medians with min–max are reported). */
  runs: number;
  /** Image / blob size for sections 1 and 2, MiB. */
  blobMiB: number;
  /** Layer size for the peak-RSS push, MiB. */
  rssMiB: number;
  /** Blob size for the chunked upload (section 10), MiB. */
  chunkedMiB: number;
  /** Repositories for the catalog section. */
  repos: number;
  /** Duration of each load run (wrk, hey), seconds. */
  loadSeconds: number;
  connections: number;
  out: string | undefined;
  /** Where the SVG chart goes. */
  chart: string;
  build: boolean;
}

export class Context {
  readonly servers = new Set<Server>();
  readonly rows: Row[] = [];
  /** Distinct per benchmark run, so no cache (skopeo's blob-info cache included) knows our blobs. */
  readonly seed = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

  constructor(
    readonly repoRoot: string,
    readonly work: string,
    readonly options: Options,
  ) {}

  /** `storage`: config lines replacing the filesystem driver; `extra`: top-level sections appended (see berthConfig). */
  async start(kind: Kind, root: string, storage?: string[], extra?: string[]): Promise<Server> {
    const server = await startServer(kind, this.repoRoot, root, this.work, storage, extra);
    this.servers.add(server);
    log(`  started ${kind} on ${server.url} (pid ${server.pid})`);
    return server;
  }

  async stop(...servers: Server[]): Promise<void> {
    for (const server of servers) {
      await server.stop();
      this.servers.delete(server);
    }
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.servers].map((s) => s.stop()));
    this.servers.clear();
  }
}

/** A pair of servers in the order a given repetition uses them: Berth first on even runs. */
export function alternate<T>(pair: [T, T], run: number): [T, T] {
  return run % 2 === 0 ? pair : [pair[1], pair[0]];
}

/**
 * Flushes dirty pages before a timed transfer, so one run's write-back does not land in the
 * next run's time (the registries fsync their blobs; the pulls and generated images do not),
 * then waits for the disks to go quiet. On a filesystem mounted with `discard`, deleting a tree
 * (the previous run's copy) queues a discard per freed block after `sync` returns; a run that
 * starts among them waits on them. At most `maxQuietMs`.
 */
export async function settle(maxQuietMs = 60_000): Promise<void> {
  await run("sync", [], { timeoutMs: 120_000 });
  const deadline = Date.now() + maxQuietMs;
  let previous = await diskActivity();
  let quietSince = Date.now();
  while (previous !== undefined && Date.now() < deadline && Date.now() - quietSince < 1_000) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const current = await diskActivity();
    if (current !== previous) quietSince = Date.now();
    previous = current;
  }
}

/**
 * Writes, discards and I/Os in flight of every disk, as one string that changes whenever any of
 * them does (/proc/diskstats fields 8, 15 and 12); undefined where there is no /proc.
 */
async function diskActivity(): Promise<string | undefined> {
  const text = await readFile("/proc/diskstats", "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  return text
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 15)
    .map((fields) => `${fields[2]}:${fields[7]}/${fields[14]}/${fields[11]}`)
    .join(" ");
}

export function log(message: string): void {
  console.log(message);
}

/** Decimal megabytes per second. */
export function mbps(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}
