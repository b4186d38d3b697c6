/**
 * Runs the marked command blocks of an operator page (docs/*.md, see blocks.mjs) with bash, in a
 * temporary directory, with the page's variables ($CONFIG, $DATA, $REGISTRY...) in the
 * environment and a `berth` command on PATH that runs this checkout's CLI from its sources (as
 * test/cli does: no build needed, never a stale dist/).
 */
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { outputOf, startServerProcess, type CommandOutput, type ServerProcess } from "../support/process.js";
import { docBlock } from "./blocks.mjs";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export type BlockResult = CommandOutput;

export interface DocPage {
  /** The working directory of every block; removed by close(). */
  dir: string;
  /** Variables every block gets; tests add to it before running blocks that use them. */
  env: Record<string, string>;
  /** Runs a block with `bash -euo pipefail`; rejects with its output unless it exits 0. */
  run(name: string, env?: Record<string, string>): Promise<BlockResult>;
  /** Runs a block and resolves with its exit code and output, whatever the code. */
  attempt(name: string, env?: Record<string, string>): Promise<BlockResult>;
  /**
   * Starts a one-line block that runs a server (e.g. `berth serve "$CONFIG"`) on a free port,
   * given to `env(port)`, and waits until `readyPath` answers; stopped by close() at the latest.
   */
  serve(name: string, env: (port: number) => Record<string, string>, readyPath?: string): Promise<ServerProcess>;
  /** Stops the servers still running and removes the directory. */
  close(): Promise<void>;
}

const BLOCK_TIMEOUT_MS = 45_000;

export async function openPage(page: string, env: Record<string, string> = {}): Promise<DocPage> {
  const file = join(repoRoot, "docs", page);
  const dir = await mkdtemp(join(tmpdir(), "berth-docs-"));
  const bin = join(dir, ".bin");
  await mkdir(bin);
  const tsx = import.meta.resolve("tsx");
  await writeFile(join(bin, "berth"), `#!/bin/sh\nexec "${process.execPath}" --import "${tsx}" "${join(repoRoot, "server", "cli", "dev.ts")}" "$@"\n`);
  await chmod(join(bin, "berth"), 0o755);
  const servers: ServerProcess[] = [];
  const pageEnv: Record<string, string> = { ...env };
  const environment = (extra: Record<string, string>): NodeJS.ProcessEnv => {
    const merged: NodeJS.ProcessEnv = {
      ...process.env,
      NEXT_TELEMETRY_DISABLED: "1",
      // Loopback S3 servers with a sandbox's CA bundle set make some clients fail.
      AWS_CA_BUNDLE: "",
      ...pageEnv,
      ...extra,
      PATH: `${bin}:${process.env.PATH ?? ""}`,
    };
    // Overrides from the developer's shell would change what the blocks do.
    for (const key of Object.keys(merged)) if (key.startsWith("REGISTRY_") && !(key in pageEnv) && !(key in extra)) delete merged[key];
    return merged;
  };

  const attempt = (name: string, extra: Record<string, string> = {}): Promise<BlockResult> =>
    new Promise((resolve, reject) => {
      const script = docBlock(file, name);
      const child = spawn("bash", ["-euo", "pipefail", "-c", script], { cwd: dir, env: environment(extra), detached: true });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => {
        process.kill(-child.pid!, "SIGKILL");
        reject(new Error(`${page} block "${name}" did not end within ${BLOCK_TIMEOUT_MS / 1000} s\n${stdout}\n${stderr}`));
      }, BLOCK_TIMEOUT_MS);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? 1, stdout, stderr });
      });
    });

  return {
    dir,
    env: pageEnv,
    attempt,
    async run(name, extra) {
      const result = await attempt(name, extra);
      if (result.code !== 0) {
        throw new Error(`${page} block "${name}" exited ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      }
      return result;
    },
    async serve(name, envFor, readyPath = "/v2/") {
      const script = docBlock(file, name).trim();
      if (script.includes("\n")) throw new Error(`${page} block "${name}" runs a server: it must be one command`);
      const server = await startServerProcess({
        name: `${page} block "${name}"`,
        spawn: (port) => spawn("bash", ["-c", `exec ${script}`], { cwd: dir, env: environment(envFor(port)) }),
        readyPath,
        readyStatuses: [200, 401],
        startTimeoutMs: 90_000,
      });
      servers.push(server);
      return server;
    },
    async close() {
      await Promise.all(servers.map((server) => server.stop()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Writes an OCI image layout (one random layer of `kb` KiB) at `dir` with `tag`, for skopeo; resolves with the manifest digest. */
export async function makeLayout(dir: string, tag: string, kb = 64): Promise<string> {
  const result = await outputOf(spawn(process.execPath, [join(repoRoot, "scripts", "image", "make-layout.mjs"), dir, tag, String(kb)]));
  if (result.code !== 0) throw new Error(`make-layout.mjs failed: ${result.stderr}`);
  return result.stdout.trim();
}
