/**
 * The external programs the benchmark drives. Missing ones are named with the Debian package
 * that provides them; as root with apt-get they are installed, as `npm test` does for its own.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { findCommand } from "../../test/support/commands.js";
import { findDistribution } from "../../test/support/distribution.js";
import { run } from "./proc.js";

export interface Tool {
  command: string;
  pkg: string;
  why: string;
}

export const tools = {
  skopeo: { command: "skopeo", pkg: "skopeo", why: "pushes and pulls images (sections 1, 3, 4, 6, 9, 12)" },
  registry: { command: "docker-registry", pkg: "docker-registry", why: "the distribution registry compared against" },
  curl: { command: "curl", pkg: "curl", why: "raw blob upload and download (sections 2, 12)" },
  wrk: { command: "wrk", pkg: "wrk", why: "manifest GET load (sections 3, 9)" },
  hey: { command: "hey", pkg: "hey", why: "blob HEAD load (section 4)" },
  cephMon: { command: "ceph-mon", pkg: "ceph-mon", why: "the S3 server's monitor (section 9)" },
  cephOsd: { command: "ceph-osd", pkg: "ceph-osd", why: "the S3 server's object store (section 9)" },
  radosgw: { command: "radosgw", pkg: "radosgw", why: "the S3 server (section 9)" },
  ceph: { command: "ceph", pkg: "ceph-common", why: "starts the S3 server and reads its request counter (section 9)" },
} satisfies Record<string, Tool>;

function present(tool: Tool): boolean {
  if (tool.command === "docker-registry") return findDistribution() !== null;
  return findCommand(tool.command) !== null;
}

/** Installs (root + apt-get) or reports what is missing; throws when it cannot go on. */
export function ensureTools(needed: Tool[]): void {
  const missing = [...new Set(needed)].filter((tool) => !present(tool));
  if (missing.length === 0) return;
  const list = missing.map((t) => `  ${t.command} (Debian package ${t.pkg}): ${t.why}`).join("\n");
  const pkgs = missing.map((t) => t.pkg);
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || findCommand("apt-get") === null) {
    throw new Error(`missing tools:\n${list}\nInstall them (Debian: sudo apt-get install -y ${pkgs.join(" ")}) and run the benchmark again.`);
  }
  console.log(`bench: missing tools:\n${list}\nbench: installing ${pkgs.join(", ")} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update"], ["install", "-y", "--no-install-recommends", ...pkgs]]) {
    const result = spawnSync("apt-get", args, { stdio: "inherit", env, timeout: 15 * 60_000 });
    if (result.status !== 0) throw new Error(`apt-get ${args[0]} failed; install ${pkgs.join(" ")} by hand`);
  }
  const still = missing.filter((tool) => !present(tool));
  if (still.length > 0) throw new Error(`still missing after apt-get: ${still.map((t) => t.command).join(", ")}`);
}

/**
 * Compiles the server (the engine and the CLI) so the measured process runs current sources.
 * tsc still emits when other files have type errors; then the run goes on with a warning.
 */
export async function buildServer(root: string): Promise<void> {
  console.log("bench: compiling the server (npx tsc -p tsconfig.server.json)…");
  const result = await run("npx", ["tsc", "-p", "tsconfig.server.json"], { cwd: root, timeoutMs: 5 * 60_000 });
  const main = join(root, "dist", "server", "cli", "main.js");
  if (result.code !== 0) {
    const output = (result.stdout + result.stderr).trim().split("\n").slice(0, 10).join("\n");
    if (!existsSync(main)) throw new Error(`tsc failed and ${main} does not exist:\n${output}`);
    console.warn(`bench: warning: tsc reported errors; benchmarking what it emitted:\n${output}`);
  }
}

/** One line per tool for the report, e.g. "skopeo version 1.9.3". */
export async function toolVersions(): Promise<Record<string, string>> {
  const probes: [string, string, string[]][] = [
    ["skopeo", "skopeo", ["--version"]],
    ["docker-registry", findDistribution() ?? "docker-registry", ["--version"]],
    ["curl", "curl", ["--version"]],
    ["wrk", "wrk", ["--version"]],
    ["node", process.execPath, ["--version"]],
  ];
  const out: Record<string, string> = {};
  for (const [name, command, args] of probes) {
    try {
      const result = await run(command, args, { timeoutMs: 10_000 });
      out[name] = (result.stdout || result.stderr).trim().split("\n")[0] ?? "";
    } catch {
      out[name] = "not installed";
    }
  }
  out.hey = findCommand("hey") ? "installed (hey prints no version)" : "not installed";
  return out;
}
