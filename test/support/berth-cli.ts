/**
 * The `berth` command as a child process: one run to completion (`berth`), a process to drive by
 * hand (`spawnBerth`), or `berth serve` on a free port, started and polled until it answers
 * (`startBerthProcess`). From the sources through tsx, or the built bin/berth.js.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { outputOf, startServerProcess, type CommandOutput, type ServerProcess } from "./process.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const fromSources = ["--import", "tsx", "server/cli/dev.ts"];
const built = ["bin/berth.js"];

export type CliResult = CommandOutput;

export interface SpawnOptions {
  /** Added to a REGISTRY_*-free environment. */
  env?: Record<string, string>;
  /** The built bin/berth.js (what the package ships) instead of the sources. */
  built?: boolean;
}

/** Runs the `berth` CLI to its end. */
export function berth(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return outputOf(spawnBerth(args, { env }));
}

export function spawnBerth(args: string[], options: SpawnOptions = {}): ChildProcess {
  const env = options.env ?? {};
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", ...env };
  // Overrides from the developer's shell would change what the tests see.
  for (const key of Object.keys(childEnv)) if (key.startsWith("REGISTRY_") && !(key in env)) delete childEnv[key];
  return spawn(process.execPath, [...(options.built ? built : fromSources), ...args], { cwd: root, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
}

export interface BerthProcessOptions extends SpawnOptions {
  /** Named in error messages. Default "berth". */
  name?: string;
  /** Writes the config.yml for a server on 127.0.0.1:`port` and returns its path. */
  config(port: number): string | Promise<string>;
  /** Default `["serve", "--registry-only"]`; the config file goes last. */
  args?: string[];
  /** Default 30 s: tsx compiles the sources at start, slowly on busy cores. */
  startTimeoutMs?: number;
}

/** `berth serve` on a free loopback port, once it answers `/v2/` with 200. */
export function startBerthProcess(options: BerthProcessOptions): Promise<ServerProcess> {
  return startServerProcess({
    name: options.name ?? "berth",
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
    spawn: async (port) => spawnBerth([...(options.args ?? ["serve", "--registry-only"]), await options.config(port)], options),
  });
}
