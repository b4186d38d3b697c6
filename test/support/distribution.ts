/**
 * Runs the reference registry (CNCF distribution, Debian's `docker-registry` package) as a
 * comparison server: the same client traffic can be replayed against it and against Berth.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { findCommand } from "./commands.js";
import { freePort, waitForHttp } from "./net.js";

export interface DistributionOptions {
  /** Storage root. Default: a fresh temp dir, deleted again by stop(). A given root is kept. */
  root?: string;
  /** Default: `docker-registry` on PATH, then /usr/bin/docker-registry. */
  binary?: string;
  /** logrus level. Default "warn"; distribution logs every 404 at "error", so it is never silent. */
  logLevel?: "debug" | "info" | "warn" | "error" | "fatal" | "panic";
  /** How long to wait for GET /v2/ to answer 200. Default 15 s. */
  startTimeoutMs?: number;
}

export interface DistributionRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, for image references like `docker://${host}/repo:tag`. */
  host: string;
  port: number;
  root: string;
  pid: number;
  /** Recent stdout+stderr of the registry, for assertion messages. */
  output(): string;
  /** Kills the process and waits for it to exit; safe to call more than once. */
  stop(): Promise<void>;
}

const OUTPUT_LIMIT = 64 * 1024;
const PORT_ATTEMPTS = 5;

export function findDistribution(): string | null {
  return findCommand("docker-registry") ?? findCommand("/usr/bin/docker-registry");
}

export async function startDistribution(options: DistributionOptions = {}): Promise<DistributionRegistry> {
  const binary = options.binary ?? findDistribution();
  if (binary === null) throw new Error("docker-registry (CNCF distribution) is not installed: not on PATH nor at /usr/bin");
  const work = await mkdtemp(join(tmpdir(), "berth-distribution-"));
  const root = resolve(options.root ?? join(work, "storage"));
  const cleanup = async (): Promise<void> => {
    await rm(work, { recursive: true, force: true });
  };

  let lastError: unknown;
  try {
    await mkdir(root, { recursive: true });
    for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
      const port = await freePort();
      const configPath = join(work, "config.yml");
      await writeFile(configPath, configYaml(root, port, options.logLevel ?? "warn"));
      const started = spawnRegistry(binary, configPath);
      try {
        await waitForHttp(`http://127.0.0.1:${port}/v2/`, options.startTimeoutMs ?? 15_000, {
          abort: () => (started.exit ? `docker-registry exited (${started.exit}): ${started.output().trim()}` : undefined),
        });
      } catch (error) {
        await started.kill();
        lastError = error;
        // Another process can grab the port between freePort() and the registry's bind.
        if (/address already in use/i.test(started.output())) continue;
        throw error;
      }
      const url = `http://127.0.0.1:${port}`;
      let stopping: Promise<void> | undefined;
      return {
        url,
        host: `127.0.0.1:${port}`,
        port,
        root,
        pid: started.child.pid!,
        output: started.output,
        stop: () => {
          stopping ??= (async () => {
            await started.kill();
            await cleanup();
          })();
          return stopping;
        },
      };
    }
    throw lastError;
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function configYaml(root: string, port: number, level: string): string {
  // JSON strings are valid YAML scalars, which spares escaping paths by hand.
  return [
    "version: 0.1",
    "log:",
    `  level: ${level}`,
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${JSON.stringify(root)}`,
    "  delete:",
    "    enabled: true",
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    // A fixed secret silences the "No HTTP secret provided" warning on every start.
    "  secret: berth-test-secret",
    "",
  ].join("\n");
}

interface Started {
  child: ChildProcess;
  exit: string | undefined;
  output: () => string;
  kill: () => Promise<void>;
}

function spawnRegistry(binary: string, configPath: string): Started {
  // distribution lets REGISTRY_* variables override the config file; an inherited one (say
  // REGISTRY_HTTP_ADDR) would silently move the server elsewhere.
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("REGISTRY_")) delete env[key];
  const child = spawn(binary, ["serve", configPath], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const append = (chunk: Buffer): void => {
    output += chunk.toString("utf8");
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);

  const state: Started = {
    child,
    exit: undefined,
    output: () => output,
    kill: async () => {
      if (state.exit !== undefined) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const exited = new Promise<void>((resolveExit) => {
    child.once("error", (error) => {
      state.exit ??= `spawn failed: ${error.message}`;
      resolveExit();
    });
    child.once("exit", (code, signal) => {
      state.exit = signal ? `signal ${signal}` : `code ${code}`;
      process.off("exit", killOnExit);
      resolveExit();
    });
  });
  // Without this a crashed or interrupted test run would leave registries listening.
  const killOnExit = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  return state;
}
