/**
 * The two registries under test, each its own process on 127.0.0.1: Berth (`node bin/berth.js
 * serve --registry-only`) and distribution (Debian's docker-registry), with filesystem storage
 * unless a section passes other `storage:` lines (the S3 section).
 */
import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { findDistribution, startDistribution } from "../../test/support/distribution.js";
import { freePort, waitForHttp } from "../../test/support/net.js";

export type Kind = "berth" | "distribution";

export interface Server {
  kind: Kind;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  pid: number;
  root: string;
  output(): string;
  stop(): Promise<void>;
}

const OUTPUT_LIMIT = 256 * 1024;
const PORT_ATTEMPTS = 5;

export interface ConfigOptions {
  /** Replaces the lines under `log:`. */
  log?: string[];
  /** Adds the console's state dir. */
  stateDir?: string;
  /** Replaces the `filesystem:` driver lines under `storage:` (indented by two). */
  storage?: string[];
  /** Appended as they are: top-level sections such as `proxy:` (the pull-through cache section). */
  extra?: string[];
}

/**
 * The config.yml every section runs Berth with (distribution reads it too): filesystem storage
 * unless `storage` says otherwise, deletes on.
 */
export function berthConfig(root: string, port: number, options: ConfigOptions = {}): string {
  return [
    "version: 0.1",
    "log:",
    ...(options.log ?? ["  level: warn"]),
    "storage:",
    ...(options.storage ?? ["  filesystem:", `    rootdirectory: ${JSON.stringify(root)}`]),
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    "  secret: bench",
    ...(options.stateDir ? ["console:", `  statedir: ${JSON.stringify(options.stateDir)}`] : []),
    ...(options.extra ?? []),
    "",
  ].join("\n");
}

/** Starts Berth from the compiled CLI; `work` receives the config file. `extra`: see ConfigOptions. */
export function startBerth(repoRoot: string, root: string, work: string, storage?: string[], extra?: string[]): Promise<Server> {
  return startConfigured({ kind: "berth", command: process.execPath, args: [join(repoRoot, "bin", "berth.js"), "serve", "--registry-only"], cwd: repoRoot, root, work, config: { storage, extra } });
}

export interface Launch {
  kind: Kind;
  command: string;
  /** The config file's path is appended. */
  args: string[];
  cwd: string;
  root: string;
  /** Receives the config file. */
  work: string;
  config: ConfigOptions;
  /** Added to the inherited environment. */
  env?: Record<string, string>;
}

export interface StartedServer extends Server {
  /** performance.now() when the process was spawned. */
  spawnedAt: number;
}

/**
 * Spawns `command ...args <config>` with berthConfig() on a free port and waits for `/v2/`.
 * distribution reads the same file (its filesystem runs go through test/support instead).
 */
export async function startConfigured(launch: Launch): Promise<StartedServer> {
  const { kind, root, work } = launch;
  await mkdir(root, { recursive: true });
  const env = { ...process.env, ...launch.env };
  // Like distribution, the config may honour REGISTRY_* overrides; inherited ones must not move the server.
  for (const key of Object.keys(env)) if (key.startsWith("REGISTRY_")) delete env[key];
  // The sandbox's CA bundle makes both AWS SDKs fail on a plain-HTTP loopback endpoint.
  delete env.AWS_CA_BUNDLE;
  let lastError: unknown;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    const port = await freePort();
    const configPath = join(work, `${kind}-${port}.yml`);
    await writeFile(configPath, berthConfig(root, port, launch.config));
    const spawnedAt = performance.now();
    const child = spawn(launch.command, [...launch.args, configPath], { cwd: launch.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const append = (chunk: Buffer): void => {
      output += chunk.toString("utf8");
      if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
    };
    child.stdout!.on("data", append);
    child.stderr!.on("data", append);
    let exit: string | undefined;
    const exited = new Promise<void>((resolve) => {
      child.once("error", (error) => {
        exit ??= `spawn failed: ${error.message}`;
        resolve();
      });
      child.once("exit", (code, signal) => {
        exit = signal ? `signal ${signal}` : `code ${code}`;
        process.off("exit", killOnExit);
        resolve();
      });
    });
    const killOnExit = (): void => {
      child.kill("SIGKILL");
    };
    process.once("exit", killOnExit);
    const kill = async (): Promise<void> => {
      if (exit !== undefined) return;
      child.kill("SIGTERM");
      // A console server closes its index first.
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    };
    try {
      // A console server rebuilds its index first; a fine poll makes spawnedAt measure start-up.
      await waitForHttp(`http://127.0.0.1:${port}/v2/`, 60_000, {
        intervalMs: 20,
        abort: () => (exit ? `${kind} exited (${exit}): ${output.trim().slice(-2000)}` : undefined),
      });
    } catch (error) {
      await kill();
      lastError = error;
      if (/EADDRINUSE|address already in use/i.test(output)) continue;
      throw error;
    }
    let stopping: Promise<void> | undefined;
    return {
      kind,
      url: `http://127.0.0.1:${port}`,
      host: `127.0.0.1:${port}`,
      pid: child.pid!,
      root,
      spawnedAt,
      output: () => output,
      stop: () => (stopping ??= kill()),
    };
  }
  throw lastError;
}

export async function startRegistry(root: string): Promise<Server> {
  const registry = await startDistribution({ root, logLevel: "warn" });
  return {
    kind: "distribution",
    url: registry.url,
    host: registry.host,
    pid: registry.pid,
    root,
    output: registry.output,
    stop: registry.stop,
  };
}

/**
 * `storage`: lines replacing the filesystem driver in both registries' config; `extra`: top-level
 * sections appended to it (see berthConfig).
 */
export async function startServer(kind: Kind, repoRoot: string, root: string, work: string, storage?: string[], extra?: string[]): Promise<Server> {
  if (kind === "berth") return startBerth(repoRoot, root, work, storage, extra);
  if (!storage && !extra) return startRegistry(root);
  const binary = findDistribution();
  if (binary === null) throw new Error("docker-registry is not installed");
  return startConfigured({ kind, command: binary, args: ["serve"], cwd: work, root, work, config: { storage, extra } });
}

export interface MemoryStatus {
  /** Peak resident set size since the process started (VmHWM), bytes. */
  peakRss: number;
  /** Current resident set size (VmRSS), bytes. */
  rss: number;
}

export async function memoryStatus(pid: number): Promise<MemoryStatus> {
  const text = await readFile(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(text);
    if (!match) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(match[1]) * 1024;
  };
  return { peakRss: field("VmHWM"), rss: field("VmRSS") };
}

let clockTicks: number | undefined;

/** User + system CPU seconds the process (all its threads) has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  if (clockTicks === undefined) {
    const { execFileSync } = await import("node:child_process");
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8", timeout: 5_000 }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  const text = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may itself contain spaces.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}
