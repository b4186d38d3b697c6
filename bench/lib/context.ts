/** What every section gets: options, a private temp dir, server start/stop, progress output. */
import { run } from "./proc.js";
import type { Row } from "./report.js";
import { startServer, type Kind, type Server } from "./servers.js";

export const sectionIds = ["push-pull", "raw", "manifest", "head", "catalog", "rss"] as const;
export type SectionId = (typeof sectionIds)[number];

export interface Options {
  quick: boolean;
  only: Set<SectionId>;
  /** Repetitions of each timed run (medians are reported). */
  runs: number;
  /** Image / blob size for sections 1 and 2, MiB. */
  blobMiB: number;
  /** Layer size for the peak-RSS push, MiB. */
  rssMiB: number;
  /** Repositories for the catalog section. */
  repos: number;
  /** Duration of each load run (wrk, hey), seconds. */
  loadSeconds: number;
  connections: number;
  out: string | undefined;
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

  /** `storage`: config lines replacing the filesystem driver (see berthConfig). */
  async start(kind: Kind, root: string, storage?: string[]): Promise<Server> {
    const server = await startServer(kind, this.repoRoot, root, this.work, storage);
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
 * next run's time (the registries fsync their blobs; the pulls and generated images do not).
 */
export async function settle(): Promise<void> {
  await run("sync", [], { timeoutMs: 120_000 });
}

export function log(message: string): void {
  console.log(message);
}

/** Decimal megabytes per second. */
export function mbps(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}
