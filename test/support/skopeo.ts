/**
 * Thin wrappers over the real `skopeo` binary, used as an independent client to push and pull
 * images against registries under test. Arguments go straight to execFile, never through a shell.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findCommand, requireCommands } from "./commands.js";

/** `user:password`, as skopeo's --creds flags take it, or the two parts. */
export type Credentials = string | { username: string; password: string };

export interface SkopeoRunOptions {
  /** Kill skopeo after this long. Default 5 minutes, enough for GiB-sized layers on loopback. */
  timeoutMs?: number;
  /** Extra environment on top of the isolated one built here. */
  env?: Record<string, string>;
}

export interface SkopeoResult {
  stdout: string;
  stderr: string;
}

export class SkopeoError extends Error {
  constructor(
    readonly args: string[],
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(`skopeo ${args.join(" ")} failed (${exitCode === null ? "killed" : `exit ${exitCode}`}): ${stderr.trim() || "(no stderr)"}`, options);
    this.name = "SkopeoError";
  }
}

let isolatedDir: string | undefined;

/**
 * skopeo reads and may write credentials under $HOME, $XDG_RUNTIME_DIR or /run/containers; pointing
 * all of them at a private temp dir keeps tests independent of the machine's logins and of
 * whether those places are writable.
 */
function isolatedEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  if (isolatedDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "berth-skopeo-"));
    isolatedDir = dir;
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return {
    ...process.env,
    HOME: isolatedDir,
    XDG_RUNTIME_DIR: isolatedDir,
    XDG_CONFIG_HOME: join(isolatedDir, ".config"),
    REGISTRY_AUTH_FILE: join(isolatedDir, "auth.json"),
    ...extra,
  };
}

/** Runs `skopeo --insecure-policy ARGS...`; the policy flag spares us an /etc/containers/policy.json. */
export function skopeo(args: string[], options: SkopeoRunOptions = {}): Promise<SkopeoResult> {
  requireCommands("skopeo");
  const binary = findCommand("skopeo")!;
  const fullArgs = ["--insecure-policy", ...args];
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      fullArgs,
      {
        env: isolatedEnv(options.env),
        timeout: options.timeoutMs ?? 5 * 60_000,
        killSignal: "SIGKILL",
        maxBuffer: 64 * 1024 * 1024,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        if (error) {
          const code = typeof error.code === "number" ? error.code : null;
          const detail = stderr || (error.killed ? `killed after ${options.timeoutMs ?? 300_000} ms` : error.message);
          reject(new SkopeoError(fullArgs, code, stdout, detail, { cause: error }));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

function credsValue(creds: Credentials): string {
  return typeof creds === "string" ? creds : `${creds.username}:${creds.password}`;
}

function isDocker(ref: string): boolean {
  return ref.startsWith("docker://");
}

export interface SkopeoCopyOptions extends SkopeoRunOptions {
  /** Copy every image of an index/manifest list instead of the one matching this machine. */
  all?: boolean;
  /** Manifest type to write; omitted, skopeo keeps the source's type (and digests). */
  format?: "v2s2" | "oci";
  srcCreds?: Credentials;
  destCreds?: Credentials;
  /** Fail rather than convert when the destination cannot store the manifest unchanged. */
  preserveDigests?: boolean;
  extraArgs?: string[];
}

export function skopeoCopy(src: string, dest: string, options: SkopeoCopyOptions = {}): Promise<SkopeoResult> {
  const args = ["copy", "--quiet"];
  if (isDocker(src)) args.push("--src-tls-verify=false");
  if (isDocker(dest)) args.push("--dest-tls-verify=false");
  if (options.all) args.push("--all");
  if (options.format) args.push("--format", options.format);
  if (options.preserveDigests) args.push("--preserve-digests");
  if (options.srcCreds !== undefined) args.push("--src-creds", credsValue(options.srcCreds));
  if (options.destCreds !== undefined) args.push("--dest-creds", credsValue(options.destCreds));
  args.push(...(options.extraArgs ?? []), src, dest);
  return skopeo(args, options);
}

export interface SkopeoRefOptions extends SkopeoRunOptions {
  creds?: Credentials;
  extraArgs?: string[];
}

export interface SkopeoInspectOptions extends SkopeoRefOptions {
  /** The manifest (or with `config`, the config blob) byte for byte, as stored. */
  raw?: boolean;
  /** The image config instead of the manifest. */
  config?: boolean;
  /** Which child of an index to resolve when not `raw`. */
  overrideOs?: string;
  overrideArch?: string;
  overrideVariant?: string;
}

/** What `skopeo inspect` prints without --raw/--config (fields vary slightly by transport). */
export interface SkopeoInspectOutput {
  Name?: string;
  Digest: string;
  RepoTags?: string[];
  Created?: string;
  DockerVersion?: string;
  Labels?: Record<string, string> | null;
  Architecture: string;
  Os: string;
  Variant?: string;
  Layers: string[];
  LayersData?: { MIMEType: string; Digest: string; Size: number; Annotations: Record<string, string> | null }[];
  Env?: string[];
}

function refArgs(ref: string, options: SkopeoRefOptions): string[] {
  const args: string[] = [];
  if (isDocker(ref)) args.push("--tls-verify=false");
  if (options.creds !== undefined) args.push("--creds", credsValue(options.creds));
  return args;
}

/** Raw text (exact bytes, so its sha256 is the manifest digest); do not re-serialise it. */
export function skopeoInspect(ref: string, options: SkopeoInspectOptions & { raw: true }): Promise<string>;
/** The parsed image config. */
export function skopeoInspect(ref: string, options: SkopeoInspectOptions & { config: true; raw?: false }): Promise<Record<string, unknown>>;
export function skopeoInspect(ref: string, options?: SkopeoInspectOptions & { raw?: false; config?: false }): Promise<SkopeoInspectOutput>;
export async function skopeoInspect(ref: string, options: SkopeoInspectOptions = {}): Promise<unknown> {
  const args = ["inspect", ...refArgs(ref, options)];
  if (options.raw) args.push("--raw");
  if (options.config) args.push("--config");
  const overrides: [string, string | undefined][] = [
    ["--override-os", options.overrideOs],
    ["--override-arch", options.overrideArch],
    ["--override-variant", options.overrideVariant],
  ];
  for (const [flag, value] of overrides) if (value !== undefined) args.unshift(flag, value);
  args.push(...(options.extraArgs ?? []), ref);
  const { stdout } = await skopeo(args, options);
  return options.raw ? stdout : (JSON.parse(stdout) as unknown);
}

/** Tags of a repository; `ref` is `docker://host/repo` without a tag. */
export async function skopeoListTags(ref: string, options: SkopeoRefOptions = {}): Promise<string[]> {
  const { stdout } = await skopeo(["list-tags", ...refArgs(ref, options), ...(options.extraArgs ?? []), ref], options);
  return (JSON.parse(stdout) as { Tags: string[] | null }).Tags ?? [];
}

/** Deletes the manifest `ref` resolves to (by tag or digest); the registry must allow deletes. */
export async function skopeoDelete(ref: string, options: SkopeoRefOptions = {}): Promise<void> {
  await skopeo(["delete", ...refArgs(ref, options), ...(options.extraArgs ?? []), ref], options);
}
