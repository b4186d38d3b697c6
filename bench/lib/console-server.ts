import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, waitForHttp } from "../../test/support/net.js";
import { log, type Context } from "./context.js";
import { berthConfig, type Server } from "./servers.js";

// Berth with its console (and so the metadata index) enabled, for bench section 8.

/** Info level in JSON: the section reads the index rebuild's log line; requests are not logged. */
export const consoleLog = ["  level: info", "  formatter: json", "  accesslog:", "    disabled: true"];
const OUTPUT_LIMIT = 256 * 1024;

export interface ConsoleServer extends Server {
  /** performance.now() when the process was spawned. */
  spawnedAt: number;
}

/** `node bin/berth.js serve config.yml` with the console (and so the index) enabled. */
export async function startConsoleServer(ctx: Context, root: string, stateDir: string, password: string): Promise<ConsoleServer> {
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_ADMIN_PASSWORD: password };
  for (const key of Object.keys(env)) if (key.startsWith("REGISTRY_")) delete env[key];
  let lastError: unknown;
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await freePort();
    const configPath = join(ctx.work, `console-${port}.yml`);
    await writeFile(configPath, berthConfig(root, port, { stateDir, log: consoleLog }));
    const spawnedAt = performance.now();
    const child = spawn(process.execPath, [join(ctx.repoRoot, "bin", "berth.js"), "serve", configPath], {
      cwd: ctx.work,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const append = (chunk: Buffer): void => {
      output += chunk.toString("utf8");
      if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
    };
    child.stdout!.on("data", append);
    child.stderr!.on("data", append);
    let exit: string | undefined;
    const killOnExit = (): void => {
      child.kill("SIGKILL");
    };
    process.once("exit", killOnExit);
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
    const kill = async (): Promise<void> => {
      if (exit !== undefined) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    };
    try {
      await waitForHttp(`http://127.0.0.1:${port}/v2/`, 60_000, {
        intervalMs: 20,
        abort: () => (exit ? `berth exited (${exit}): ${output.trim().slice(-2000)}` : undefined),
      });
    } catch (error) {
      await kill();
      lastError = error;
      if (/EADDRINUSE|address already in use/i.test(output)) continue;
      throw error;
    }
    let stopping: Promise<void> | undefined;
    const server: ConsoleServer = {
      kind: "berth",
      url: `http://127.0.0.1:${port}`,
      host: `127.0.0.1:${port}`,
      pid: child.pid!,
      root,
      spawnedAt,
      output: () => output,
      stop: () => (stopping ??= kill()),
    };
    ctx.servers.add(server);
    log(`  started berth serve (console + index) on ${server.url} (pid ${server.pid})`);
    return server;
  }
  throw lastError;
}

/** The `metadata index rebuilt` line of the server's JSON log, if it was written. */
export function loggedRebuild(output: string): { durationMs: number; repositories: number; tags: number } | undefined {
  for (const line of output.split("\n")) {
    if (!line.includes("metadata index rebuilt")) continue;
    try {
      const entry = JSON.parse(line) as { durationMs?: number; repositories?: number; tags?: number };
      if (typeof entry.durationMs === "number") return { durationMs: entry.durationMs, repositories: entry.repositories ?? 0, tags: entry.tags ?? 0 };
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}
