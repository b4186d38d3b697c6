/**
 * Section 7: offline garbage collection. One storage root is written directly in distribution's
 * layout (manifests, configs, layers, tags with history, `_layers` links, multi-arch indexes and
 * unreferenced blobs), then copied, and `berth garbage-collect` and `docker-registry
 * garbage-collect` each run on their own fresh copy: without and with `--delete-untagged`, and as
 * a dry run. What each deleted is read back from the copies and compared.
 */
import { readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { findDistribution } from "../../test/support/distribution.js";
import { alternate, log, settle, type Context } from "../lib/context.js";
import { gcDataset, type GcDataset } from "../lib/gc-dataset.js";
import { run, runChecked, type RunResult } from "../lib/proc.js";
import { row, type Row } from "../lib/report.js";
import { berthConfig } from "../lib/servers.js";

// ---- reading a root back -----------------------------------------------------------------------

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/** Digests of the blobs (with a `data` file) left in a root. */
async function remainingBlobs(root: string): Promise<Set<string>> {
  const base = join(root, "docker", "registry", "v2", "blobs", "sha256");
  const found = new Set<string>();
  for (const prefix of await listDir(base)) {
    const hexes = await listDir(join(base, prefix));
    const present = await Promise.all(hexes.map((hex) => exists(join(base, prefix, hex, "data"))));
    hexes.forEach((hex, i) => {
      if (present[i]) found.add(`sha256:${hex}`);
    });
  }
  return found;
}

/** `repo@digest` of every revision link left in a root (repositories named `gc/app-NNNN`). */
async function remainingRevisions(root: string): Promise<Set<string>> {
  const base = join(root, "docker", "registry", "v2", "repositories", "gc");
  const found = new Set<string>();
  for (const app of await listDir(base)) {
    const dir = join(base, app, "_manifests", "revisions", "sha256");
    const hexes = await listDir(dir);
    const present = await Promise.all(hexes.map((hex) => exists(join(dir, hex, "link"))));
    hexes.forEach((hex, i) => {
      if (present[i]) found.add(`gc/${app}@sha256:${hex}`);
    });
  }
  return found;
}

function difference(a: Set<string>, b: Set<string>): string[] {
  return [...a].filter((x) => !b.has(x));
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && difference(a, b).length === 0;
}

// ---- the runs ----------------------------------------------------------------------------------

type Tool = "berth" | "distribution";
type Mode = "plain" | "untagged" | "dry-run";


const GC_TIMEOUT = 15 * 60_000;

/**
 * Runs a command with its output going to a file (a collection prints a line per blob or more,
 * far beyond what a pipe buffer in this process should hold), without the REGISTRY_* overrides
 * that could move it off the config file; returns the run and that output. A non-zero exit throws,
 * naming `what` and the output's last lines.
 */
export async function runLogged(ctx: Context, what: string, command: string, args: string[]): Promise<{ result: RunResult; output: string }> {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("REGISTRY_")) delete env[key];
  const logFile = join(ctx.work, `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}.log`);
  env.BENCH_GC_LOG = logFile;
  const result = await run("sh", ["-c", 'exec "$@" >"$BENCH_GC_LOG" 2>&1', "sh", command, ...args], { timeoutMs: GC_TIMEOUT, env, cwd: ctx.work });
  const output = await readFile(logFile, "utf8").catch(() => "");
  await rm(logFile, { force: true });
  if (result.code !== 0) {
    const detail = (output || result.stderr).trim().split("\n").slice(-8).join("\n");
    throw new Error(`${what} failed (${result.signal ?? `exit ${result.code}`}):\n${detail}`);
  }
  return { result, output };
}

/** `node bin/berth.js garbage-collect ARGS`: the command and its arguments, for runLogged. */
export function berthGc(ctx: Context, args: string[]): [string, string[]] {
  return [process.execPath, [join(ctx.repoRoot, "bin", "berth.js"), "garbage-collect", ...args]];
}

/** Runs one collection on `root`; returns the run and its output. */
function collect(ctx: Context, tool: Tool, root: string, config: string, mode: Mode): Promise<{ result: RunResult; output: string }> {
  const flags = mode === "untagged" ? ["--delete-untagged"] : mode === "dry-run" ? ["--dry-run"] : [];
  const [command, args] =
    tool === "berth"
      ? // The data set was written moments ago and distribution has no grace period: none for Berth either.
        berthGc(ctx, ["--grace=0s", ...flags, config])
      : [findDistribution() ?? "docker-registry", ["garbage-collect", ...flags, config]];
  return runLogged(ctx, `${tool} garbage-collect ${flags.join(" ")} on ${root}`, command, args);
}

function summaryLine(tool: Tool, text: string): string {
  if (tool === "distribution") return /\d+ blobs marked, \d+ blobs and \d+ manifests eligible for deletion/.exec(text)?.[0] ?? "(no summary)";
  return /(would delete|deleted) \d+ manifests, \d+ blobs[^\n]*/.exec(text)?.[0] ?? "(no summary)";
}

/** A problem nobody should miss in the progress output. */
export function loud(lines: string[]): void {
  const bar = "!".repeat(78);
  console.error(`\n${bar}\n${lines.map((l) => `!! ${l}`).join("\n")}\n${bar}\n`);
}

export async function garbageCollection(ctx: Context): Promise<Row[]> {
  const manifests = ctx.options.quick ? 1_000 : 10_000;
  const blobs = manifests * 5;
  let t = performance.now();
  const data = gcDataset(manifests, blobs, ctx.seed);
  const base = join(ctx.work, "gc-base");
  await data.files.write(base);
  log(
    `  wrote ${data.repositories.toLocaleString("en-US")} repositories (${data.multiArchRepositories} multi-arch), ` +
      `${data.manifests.toLocaleString("en-US")} manifests, ${data.blobs.toLocaleString("en-US")} blobs ` +
      `(${data.unreferenced.size.toLocaleString("en-US")} unreferenced), ${data.files.size.toLocaleString("en-US")} files, in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  const allBlobs = await remainingBlobs(base);
  if (allBlobs.size !== data.blobs) throw new Error(`the data set holds ${allBlobs.size} blobs, planned ${data.blobs}`);
  const allRevisions = await remainingRevisions(base);

  const stateDir = join(ctx.work, "gc-state");
  const copy = async (name: string): Promise<{ root: string; config: Record<Tool, string> }> => {
    const root = join(ctx.work, name);
    await rm(root, { recursive: true, force: true });
    await runChecked("cp", ["-a", base, root], { timeoutMs: 10 * 60_000 });
    const config = { berth: join(ctx.work, `${name}-berth.yml`), distribution: join(ctx.work, `${name}-distribution.yml`) };
    await writeFile(config.berth, berthConfig(root, 5000, { stateDir }));
    await writeFile(config.distribution, berthConfig(root, 5000));
    return { root, config };
  };

  const times: Record<Mode, Record<Tool, number[]>> = {
    plain: { berth: [], distribution: [] },
    untagged: { berth: [], distribution: [] },
    "dry-run": { berth: [], distribution: [] },
  };
  const deleted: Record<"plain" | "untagged", Record<Tool, { blobs: number; revisions: number }>> = {
    plain: { berth: { blobs: 0, revisions: 0 }, distribution: { blobs: 0, revisions: 0 } },
    untagged: { berth: { blobs: 0, revisions: 0 }, distribution: { blobs: 0, revisions: 0 } },
  };
  const problems: string[] = [];
  const untaggedNotes = new Set<string>();
  const pair: [Tool, Tool] = ["berth", "distribution"];

  for (let rep = 0; rep < ctx.options.runs; rep++) {
    for (const mode of ["plain", "untagged"] as const) {
      t = performance.now();
      const [berthCopy, distributionCopy] = await Promise.all([copy("gc-berth"), copy("gc-distribution")]);
      const roots = { berth: berthCopy, distribution: distributionCopy };
      log(`    run ${rep + 1}, ${mode === "plain" ? "plain" : "--delete-untagged"}: copied the root twice in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      if (mode === "plain") {
        // Dry runs first, on the copies the plain runs then collect (a dry run changes no blob).
        for (const tool of alternate(pair, rep)) {
          await settle();
          const { result, output } = await collect(ctx, tool, roots[tool].root, roots[tool].config[tool], "dry-run");
          times["dry-run"][tool].push(result.ms / 1000);
          log(`    ${tool.padEnd(12)} dry run   ${(result.ms / 1000).toFixed(2)} s  ${summaryLine(tool, output)}`);
        }
      }
      for (const tool of alternate(pair, rep)) {
        await settle();
        const { result, output } = await collect(ctx, tool, roots[tool].root, roots[tool].config[tool], mode);
        times[mode][tool].push(result.ms / 1000);
        log(`    ${tool.padEnd(12)} ${mode === "plain" ? "plain    " : "untagged "} ${(result.ms / 1000).toFixed(2)} s  ${summaryLine(tool, output)}`);
      }

      const gone: Record<Tool, { blobs: Set<string>; revisions: Set<string> }> = {
        berth: { blobs: new Set(), revisions: new Set() },
        distribution: { blobs: new Set(), revisions: new Set() },
      };
      for (const tool of pair) {
        const left = await remainingBlobs(roots[tool].root);
        const leftRevisions = await remainingRevisions(roots[tool].root);
        gone[tool] = { blobs: new Set(difference(allBlobs, left)), revisions: new Set(difference(allRevisions, leftRevisions)) };
        deleted[mode][tool] = { blobs: gone[tool].blobs.size, revisions: gone[tool].revisions.size };
      }
      if (mode === "plain") {
        if (!sameSet(gone.berth.blobs, gone.distribution.blobs)) {
          const onlyBerth = difference(gone.berth.blobs, gone.distribution.blobs);
          const onlyDist = difference(gone.distribution.blobs, gone.berth.blobs);
          problems.push(
            `plain GC, run ${rep + 1}: Berth and distribution deleted DIFFERENT blob sets: Berth ${gone.berth.blobs.size}, distribution ${gone.distribution.blobs.size}; ` +
              `only Berth: ${onlyBerth.length} (${onlyBerth.slice(0, 3).join(", ")}), only distribution: ${onlyDist.length} (${onlyDist.slice(0, 3).join(", ")})`,
          );
        }
        for (const tool of pair) {
          if (!sameSet(gone[tool].blobs, data.unreferenced)) {
            problems.push(`plain GC, run ${rep + 1}: ${tool} deleted ${gone[tool].blobs.size} blobs, expected exactly the ${data.unreferenced.size} unreferenced ones`);
          }
          if (gone[tool].revisions.size > 0) problems.push(`plain GC, run ${rep + 1}: ${tool} deleted ${gone[tool].revisions.size} manifest revisions, expected none`);
        }
      } else {
        // Berth keeps the children of a tagged index; distribution 2.8 may not (#3178).
        for (const tool of pair) {
          const keeps = sameSet(gone[tool].blobs, data.untaggedKeepChildren) && sameSet(gone[tool].revisions, data.revisionsKeepChildren);
          const drops = sameSet(gone[tool].blobs, data.untaggedDropChildren) && sameSet(gone[tool].revisions, data.revisionsDropChildren);
          if (keeps) untaggedNotes.add(`${tool} kept the untagged children of tagged indexes`);
          else if (drops) untaggedNotes.add(`${tool} deleted the untagged children of tagged indexes (revision links, configs and layers; the child manifest blobs stay)`);
          else {
            problems.push(
              `--delete-untagged, run ${rep + 1}: ${tool} deleted ${gone[tool].blobs.size} blobs and ${gone[tool].revisions.size} revisions, matching neither expectation ` +
                `(${data.untaggedKeepChildren.size}/${data.revisionsKeepChildren.size} keeping index children, ${data.untaggedDropChildren.size}/${data.revisionsDropChildren.size} dropping them)`,
            );
          }
        }
        if (!berthKeptIndexChildren(gone.berth, data)) problems.push(`--delete-untagged, run ${rep + 1}: Berth deleted children of a tagged index`);
      }
      await Promise.all(pair.map((tool) => rm(roots[tool].root, { recursive: true, force: true })));
    }
  }
  await rm(base, { recursive: true, force: true });
  if (problems.length > 0) loud(["GARBAGE COLLECTION RESULTS DIFFER", ...problems]);
  else log(`    plain GC: Berth and distribution deleted the same ${data.unreferenced.size.toLocaleString("en-US")} blobs in every run`);
  for (const note of untaggedNotes) log(`    --delete-untagged: ${note}`);

  const n = `${data.manifests.toLocaleString("en-US")} manifests, ${data.blobs.toLocaleString("en-US")} blobs`;
  const target = { kind: "ratio-max", value: 0.5 } as const;
  const count = (mode: "plain" | "untagged", tool: Tool) => `${deleted[mode][tool].blobs} blobs, ${deleted[mode][tool].revisions} revisions`;
  const verified = problems.length === 0 ? "same blob set deleted by both (checked on disk)" : `MISMATCH: ${problems.join(" | ")}`;
  return [
    row({
      section: "7",
      metric: `garbage-collect (${n})`,
      unit: "s",
      better: "lower",
      samples: times.plain,
      target,
      note: `wall time of the CLI process on a fresh copy; deleted: Berth ${count("plain", "berth")}, distribution ${count("plain", "distribution")}; ${verified}`,
    }),
    row({
      section: "7",
      metric: "garbage-collect --delete-untagged",
      unit: "s",
      better: "lower",
      samples: times.untagged,
      target,
      note: `deleted: Berth ${count("untagged", "berth")}, distribution ${count("untagged", "distribution")}; ${[...untaggedNotes].join("; ") || "see the log"}`,
    }),
    row({
      section: "7",
      metric: "garbage-collect --dry-run",
      unit: "s",
      better: "lower",
      samples: times["dry-run"],
      note: "on the copies the plain runs collect next",
    }),
  ];
}

/** Whether Berth's `--delete-untagged` left every child of a tagged index in place. */
function berthKeptIndexChildren(gone: { revisions: Set<string> }, data: GcDataset): boolean {
  const childrenOfTagged = difference(data.revisionsDropChildren, data.revisionsKeepChildren);
  return childrenOfTagged.every((revision) => !gone.revisions.has(revision));
}
