import { join } from "node:path";
import { log, type Context } from "./context.js";
import { startConfigured, type StartedServer } from "./servers.js";

// Berth with its console (and so the metadata index) enabled, for bench section 8.

/** Info level in JSON: the section reads the index rebuild's log line; requests are not logged. */
export const consoleLog = ["  level: info", "  formatter: json", "  accesslog:", "    disabled: true"];

/** `node bin/berth.js serve config.yml` with the console (and so the index) enabled. */
export async function startConsoleServer(ctx: Context, root: string, stateDir: string, password: string): Promise<StartedServer> {
  const server = await startConfigured({
    kind: "berth",
    command: process.execPath,
    args: [join(ctx.repoRoot, "bin", "berth.js"), "serve"],
    cwd: ctx.work,
    root,
    work: ctx.work,
    config: { stateDir, log: consoleLog },
    env: { BERTH_ADMIN_PASSWORD: password },
  });
  ctx.servers.add(server);
  log(`  started berth serve (console + index) on ${server.url} (pid ${server.pid})`);
  return server;
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
