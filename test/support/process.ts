/**
 * A server under test as a real OS process on a free loopback port: spawned, polled until it
 * answers, its output kept for assertion messages, killed when the test process exits.
 */
import type { ChildProcess } from "node:child_process";
import { freePort, waitForHttp } from "./net.js";

const OUTPUT_LIMIT = 64 * 1024;
const PORT_ATTEMPTS = 5;

export interface ServerProcessOptions {
  /** Named in error messages, e.g. "docker-registry". */
  name: string;
  /** Starts the server listening on 127.0.0.1:`port` (writing its config first, if it needs one). */
  spawn(port: number): ChildProcess | Promise<ChildProcess>;
  /** Polled with GET until it answers 200 (or one of `readyStatuses`). Default `/v2/`. */
  readyPath?: string;
  /** Default [200]; a server that requires auth answers its ready path with 401. */
  readyStatuses?: number[];
  /** Default 15 s. */
  startTimeoutMs?: number;
}

export interface ServerProcess {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, for image references like `docker://${host}/repo:tag`. */
  host: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Recent stdout+stderr, for assertion messages. */
  output(): string;
  /** SIGTERM (SIGKILL after 5 s), then waits for the exit; safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Spawns on a port freePort() reported free and waits for the ready path; another process can
 * take the port before the server binds it, so "address already in use" is retried on a new port.
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    const port = await freePort();
    const started = track(await options.spawn(port));
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForHttp(`${url}${options.readyPath ?? "/v2/"}`, options.startTimeoutMs ?? 15_000, {
        statuses: options.readyStatuses,
        abort: () => (started.exit ? `${options.name} exited (${started.exit}): ${started.output().trim()}` : undefined),
      });
    } catch (error) {
      await started.stop();
      lastError = error;
      if (/EADDRINUSE|address already in use/i.test(started.output())) continue;
      throw new Error(`${(error as Error).message}\n${options.name} output:\n${started.output()}`, { cause: error });
    }
    return { url, host: `127.0.0.1:${port}`, port, pid: started.child.pid!, child: started.child, output: started.output, stop: started.stop };
  }
  throw lastError;
}

interface Tracked {
  child: ChildProcess;
  exit: string | undefined;
  output(): string;
  stop(): Promise<void>;
}

function track(child: ChildProcess): Tracked {
  let output = "";
  const append = (chunk: Buffer): void => {
    output += chunk.toString("utf8");
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  // Without this a crashed or interrupted test run would leave servers listening.
  const killOnExit = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  let stopping: Promise<void> | undefined;
  const state: Tracked = {
    child,
    exit: undefined,
    output: () => output,
    stop: () =>
      (stopping ??= (async () => {
        if (state.exit !== undefined) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      })()),
  };
  const exited = new Promise<void>((resolveExit) => {
    child.once("error", (error) => {
      state.exit ??= `spawn failed: ${error.message}`;
      process.off("exit", killOnExit);
      resolveExit();
    });
    child.once("exit", (code, signal) => {
      state.exit = signal ? `signal ${signal}` : `code ${code}`;
      process.off("exit", killOnExit);
      resolveExit();
    });
  });
  return state;
}

/** What a command that ran to its end printed, and its exit code (1 for a signal). */
export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Collects a spawned command's output until it ends; rejects if it could not be spawned. */
export function outputOf(child: ChildProcess): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
