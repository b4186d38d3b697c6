/**
 * Runs the reference registry (CNCF distribution, Debian's `docker-registry` package) as a
 * comparison server: the same client traffic can be replayed against it and against Berth.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { findCommand, requireCommands } from "./commands.js";
import { startServerProcess } from "./process.js";

export interface DistributionOptions {
  /** Storage root. Default: a fresh temp dir, deleted again by stop(). A given root is kept. */
  root?: string;
  /** Default: `docker-registry` on PATH, then /usr/bin/docker-registry. */
  binary?: string;
  /** logrus level. Default "warn"; distribution logs every 404 at "error", so it is never silent. */
  logLevel?: "debug" | "info" | "warn" | "error" | "fatal" | "panic";
  /** How long to wait for GET /v2/ to answer 200. Default 15 s. */
  startTimeoutMs?: number;
  /** Top-level YAML lines for distribution's `auth` section (htpasswd, token); /v2/ then answers 401. */
  auth?: string[];
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

export function findDistribution(): string | null {
  return findCommand("docker-registry");
}

export async function startDistribution(options: DistributionOptions = {}): Promise<DistributionRegistry> {
  if (!options.binary) requireCommands("docker-registry");
  const binary = options.binary ?? findDistribution()!;
  const work = await mkdtemp(join(tmpdir(), "berth-distribution-"));
  const root = resolve(options.root ?? join(work, "storage"));
  const cleanup = async (): Promise<void> => {
    await rm(work, { recursive: true, force: true });
  };
  try {
    await mkdir(root, { recursive: true });
    const server = await startServerProcess({
      name: "docker-registry",
      startTimeoutMs: options.startTimeoutMs,
      readyStatuses: options.auth ? [401] : undefined,
      spawn: async (port) => {
        const configPath = join(work, "config.yml");
        await writeFile(configPath, registryConfigYaml({ port, level: options.logLevel, storage: { filesystem: { rootdirectory: root } }, extra: options.auth }));
        // distribution lets REGISTRY_* variables override the config file; an inherited one (say
        // REGISTRY_HTTP_ADDR) would silently move the server elsewhere.
        const env = { ...process.env };
        for (const key of Object.keys(env)) if (key.startsWith("REGISTRY_")) delete env[key];
        return spawn(binary, ["serve", configPath], { env, stdio: ["ignore", "pipe", "pipe"] });
      },
    });
    let stopping: Promise<void> | undefined;
    return {
      url: server.url,
      host: server.host,
      port: server.port,
      root,
      pid: server.pid,
      output: server.output,
      stop: () => {
        stopping ??= (async () => {
          await server.stop();
          await cleanup();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

export interface RegistryConfigOptions {
  port: number;
  /** Default "warn". */
  level?: string;
  /** `storage:` drivers, name → parameters. */
  storage: Record<string, unknown>;
  /** Blob GETs answered by the registry itself, not by a redirect to the bucket. */
  noRedirect?: boolean;
  /** A fixed secret silences the "No HTTP secret provided" warning on every start. */
  secret?: string;
  /** Top-level sections appended as they are (YAML lines). */
  extra?: string[];
}

/**
 * A config.yml that distribution and Berth both read: access log off, deletes on, upload purging
 * off (a test's uploads must not vanish while it runs), on 127.0.0.1.
 */
export function registryConfigYaml(options: RegistryConfigOptions): string {
  // JSON values are valid YAML, which spares quoting paths and parameters by hand.
  return [
    "version: 0.1",
    "log:",
    `  level: ${options.level ?? "warn"}`,
    "  accesslog:",
    "    disabled: true",
    "storage:",
    ...Object.entries(options.storage).map(([driver, params]) => `  ${driver}: ${JSON.stringify(params)}`),
    ...(options.noRedirect ? ["  redirect:", "    disable: true"] : []),
    "  delete:",
    "    enabled: true",
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
    "http:",
    `  addr: 127.0.0.1:${options.port}`,
    `  secret: ${JSON.stringify(options.secret ?? "berth-test-secret")}`,
    ...(options.extra ?? []),
    "",
  ].join("\n");
}
