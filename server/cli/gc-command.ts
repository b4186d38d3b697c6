import { hostname, userInfo } from "node:os";
import { storageDriver } from "../config/load.js";
import { loadCommandConfig, parseCommandArgs, processIO, type CommandIO } from "./command-io.js";
import { formatDuration, parseDuration } from "../config/units.js";
import type { GcEvent, GcReport } from "../gc/collect.js";
import { runGarbageCollection, type GcRunRecord } from "../gc/runner.js";
import { createLogger } from "../log.js";
import { ReadOnlyState, WriteTracker } from "../maintenance/readonly.js";
import { invalidatingDriver } from "../registry/blob-cache/cache.js";
import { blobDescriptorCache } from "../registry/blob-cache/from-config.js";
import { createDriver } from "../registry/storage/factory.js";

export const gcUsage = `Usage: berth garbage-collect [options] config.yml

Deletes the blobs no manifest references from the storage configured in config.yml, like
distribution's \`registry garbage-collect\`, but online: Berth instances running on the same
storage keep taking pushes and serving pulls meanwhile, and whatever they use while it runs is
kept (server/gc/README.md). --read-only holds them read-only instead (through etcd, when
config.yml configures it; a collection started from the console is refused meanwhile), as
distribution needs; --delete-untagged always runs that way.

Options:
  -d, --dry-run           Print what would be deleted; delete nothing.
  -m, --delete-untagged   Also delete manifests no tag reaches. Never deleted: the children of a
                          tagged index, anything a kept manifest references, and artifacts whose
                          subject is kept.
      --grace DURATION    Keep unreferenced blobs modified less than DURATION ago (e.g. 1h, 0s).
                          Default: gc.grace in config.yml (10m when absent).
      --hold DURATION     Online: how long pushes that checked a blob before the run published it
                          as garbage have to push the manifest that uses it. Default: gc.hold in
                          config.yml (2m when absent).
      --read-only         Hold the registry read-only for the run instead of running online.
      --json              Print the run (report included) as JSON instead of text.
  -q, --quiet             Print the summary only.
      --offline           Do not use etcd even if config.yml configures it.
  -h, --help              Show this help.

Exit status: 0 done, 1 failed (or another collection is running), 2 usage error.
`;

/** `berth garbage-collect ...`; returns the exit status. */
export async function gcCommand(args: string[], io: CommandIO = processIO): Promise<number> {
  const parsed = parseCommandArgs("berth garbage-collect", gcUsage, {
    args,
    allowPositionals: true,
    options: {
      "dry-run": { type: "boolean", short: "d", default: false },
      "delete-untagged": { type: "boolean", short: "m", default: false },
      grace: { type: "string" },
      json: { type: "boolean", default: false },
      quiet: { type: "boolean", short: "q", default: false },
      offline: { type: "boolean", default: false },
      "read-only": { type: "boolean", default: false },
      hold: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  }, io);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const file = positionals[0];
  if (file === undefined || positionals.length > 1) {
    io.err(`berth garbage-collect: expected exactly one config file\n\n${gcUsage}`);
    return 2;
  }
  let graceMs: number | undefined;
  let holdMs: number | undefined;
  try {
    graceMs = durationOption("--grace", values.grace);
    holdMs = durationOption("--hold", values.hold);
  } catch (error) {
    io.err(`berth garbage-collect: ${(error as Error).message}\n`);
    return 2;
  }

  const config = await loadCommandConfig(file, io);
  if (!config) return 1;
  const { name, params } = storageDriver(config);
  const logger = createLogger({ level: "error", write: (line) => io.err(`${line}\n`) });
  // The servers' shared Redis cache hears of every blob and link the sweep deletes.
  const blobCache = config.storage.cache ? await blobDescriptorCache(config, logger) : undefined;
  const driver = blobCache?.shared ? invalidatingDriver(createDriver(name, params), blobCache) : createDriver(name, params);
  const etcdConfig = values.offline ? undefined : config.etcd;
  // etcd's client (gRPC) is loaded only when used: it is a fifth of a second of start-up.
  const etcd = etcdConfig ? await (await import("../etcd/client.js")).createEtcdClient(etcdConfig) : undefined;
  const dryRun = values["dry-run"];
  const text = !values.json;
  const verbose = text && !values.quiet;
  const readOnly = await ReadOnlyState.create({ etcd, prefix: etcdConfig?.prefix, logger });
  const lines = batchedOutput(io);
  // The index's modules (SQLite, MySQL clients) load while the collection waits on the disk,
  // not before it starts: they are only needed at the end.
  const indexModules = dryRun ? undefined : Promise.all([import("../index/metadata-index.js"), import("../index/settings.js")]);
  indexModules?.catch(() => undefined);
  try {
    const run = await runGarbageCollection({
      driver,
      readOnly,
      writes: new WriteTracker(),
      etcd,
      etcdPrefix: etcdConfig?.prefix,
      logger,
      dryRun,
      deleteUntagged: values["delete-untagged"],
      user: `cli:${currentUser()}@${hostname()}`,
      graceMs: graceMs ?? config.gc.grace,
      mode: values["read-only"] ? "read-only" : "online",
      holdMs: holdMs ?? config.gc.hold,
      onEvent: (event) => printEvent(lines, event, dryRun, verbose, text),
    });
    lines.flush();
    // The console's index (a server's SQLite file on this machine, or the shared database) learns
    // of the deletions at the next start; the collection itself is done either way.
    if (indexModules) {
      const [{ markIndexStale }, { indexSettings }] = await indexModules;
      await markIndexStale(indexSettings(config).database).catch((error: unknown) =>
        io.err(`berth garbage-collect: could not mark the console's index for a rebuild: ${(error as Error).message}\n`),
      );
    }
    if (values.json) io.out(`${JSON.stringify(run, null, 2)}\n`);
    else io.out(summary(run));
    return 0;
  } catch (error) {
    lines.flush();
    io.err(`berth garbage-collect: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await readOnly.close();
    etcd?.close();
    await blobCache?.close();
  }
}

/** A non-negative duration given as an option, or undefined when it was not given. */
function durationOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (error) {
    throw new Error(`${name}: ${(error as Error).message}`);
  }
  if (ms < 0) throw new Error(`${name}: must not be negative`);
  return ms;
}

/**
 * The per-deletion lines, written a burst at a time: a collection decides deletions a few hundred
 * at once, and one write per line was a measurable part of a large run. Warnings go to stderr
 * after the lines before them.
 */
function batchedOutput(io: CommandIO): CommandIO & { flush: () => void } {
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    io.out(pending.join(""));
    pending = [];
  };
  return {
    out: (text) => {
      pending.push(text);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    err: (text) => {
      flush();
      io.err(text);
    },
    flush,
  };
}

function printEvent(io: CommandIO, event: GcEvent, dryRun: boolean, verbose: boolean, text: boolean): void {
  if (event.type === "warning") {
    if (text) io.err(`warning: ${event.message}\n`);
    return;
  }
  if (!verbose) return;
  const verb = dryRun ? "would delete" : "deleting";
  if (event.type === "manifest") io.out(`${event.repository}: ${verb} manifest ${event.digest}\n`);
  else io.out(`${verb} blob ${event.digest} (${formatBytes(event.size)})\n`);
}

function summary(run: GcRunRecord): string {
  const report = run.report;
  if (!report) return "\n";
  const links = report.linksDeleted.tagHistory + report.linksDeleted.referrers + report.linksDeleted.layers;
  const seconds = (report.durationMs / 1000).toFixed(1);
  const lines = [
    `${report.repositories} repositories, ${report.manifests} manifests, ${report.blobs} blobs (${report.blobsMarked} referenced${keptText(report)})`,
    `${report.dryRun ? "would delete" : "deleted"} ${report.manifestsDeleted.length} manifests, ${report.blobsDeleted.length} blobs and ${links} stale links; ${report.dryRun ? "would free" : "freed"} ${formatBytes(report.bytesFreed)} (${report.bytesFreed} bytes) in ${seconds} s${report.dryRun ? " (dry run: nothing was deleted)" : ""}`,
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * What stayed unreferenced and why, so a run that frees less than expected says so: the grace
 * period used, what it kept, and what the protect step kept.
 */
function keptText(report: GcReport): string {
  // Reports of runs recorded before `kept` existed carry only the count.
  const inGrace = report.kept?.inGrace ?? { blobs: report.blobsInGrace, bytes: 0, manifests: 0 };
  const parts: string[] = [];
  if (inGrace.blobs || inGrace.manifests) {
    const manifests = inGrace.manifests ? ` and ${inGrace.manifests} untagged manifests` : "";
    parts.push(`${inGrace.blobs} unreferenced (${formatBytes(inGrace.bytes)})${manifests} kept as younger than the grace period of ${formatDuration(report.graceMs)}`);
  }
  const held = report.kept?.protected;
  if (held && (held.blobs || held.manifests)) parts.push(`${held.blobs} (${formatBytes(held.bytes)}) and ${held.manifests} manifests kept as still in use`);
  return parts.map((part) => `, ${part}`).join("");
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? "unknown";
  }
}
