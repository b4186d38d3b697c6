/**
 * Child processes the benchmark starts (curl, wrk, hey, tsc, apt-get), each with a hard time
 * limit. Every running child is tracked so an interrupted run can end exactly those, by pid.
 */
import { spawn, type ChildProcess } from "node:child_process";

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number;
}

export interface RunOptions {
  /** SIGKILL after this long. Required: nothing the benchmark runs may hang forever. */
  timeoutMs: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Echo output to this process's stdout/stderr as it arrives. */
  inherit?: boolean;
}

const OUTPUT_LIMIT = 1024 * 1024;
const active = new Set<ChildProcess>();

export function run(command: string, args: string[], options: RunOptions): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    active.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      if (options.inherit) process.stdout.write(chunk);
      if (stdout.length < OUTPUT_LIMIT) stdout += chunk.toString("utf8");
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      if (options.inherit) process.stderr.write(chunk);
      if (stderr.length < OUTPUT_LIMIT) stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      active.delete(child);
      reject(new Error(`${command}: ${error.message}`));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      active.delete(child);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** Like run(), but a non-zero exit is an error carrying the command's stderr. */
export async function runChecked(command: string, args: string[], options: RunOptions): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    const timedOut = result.ms >= options.timeoutMs;
    const why = result.signal ? `killed by ${result.signal}${timedOut ? ` after its ${options.timeoutMs} ms limit` : ""}` : `exit ${result.code}`;
    const detail = (result.stderr || result.stdout).trim().split("\n").slice(-5).join("\n");
    throw new Error(`${command} ${args.join(" ")} failed (${why})${detail ? `:\n${detail}` : ""}`);
  }
  return result;
}

/** Kills the children this module started and that are still running (interrupt path). */
export function killActiveChildren(): void {
  for (const child of active) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  active.clear();
}
