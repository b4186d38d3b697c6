import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const cli = ["--import", "tsx", "server/cli/dev.ts"];

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `berth` CLI from sources, with `env` added to a REGISTRY_*-free environment. */
export function berth(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnBerth(args, env);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export function spawnBerth(args: string[], env: Record<string, string> = {}): ChildProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", ...env };
  // Overrides from the developer's shell would change what the tests see.
  for (const key of Object.keys(childEnv)) if (key.startsWith("REGISTRY_") && !(key in env)) delete childEnv[key];
  return spawn(process.execPath, [...cli, ...args], { cwd: root, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
}
