import { existsSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { get, text } from "./checks.js";
import type { KeyPath } from "./positions.js";
import type { RawProblem } from "./problems.js";
import type { Config } from "./schema.js";

/**
 * Keys naming one file or directory Berth reads or writes — implemented or not, so that wiring
 * one later cannot open a way around the console's confinement. Lists (`http.tls.clientcas`,
 * `health.file`) and `http.addr` as a unix socket are added by `namedPaths`.
 */
const pathKeys: KeyPath[] = [
  ["storage", "filesystem", "rootdirectory"],
  ["console", "statedir"],
  ["auth", "htpasswd", "path"],
  ["auth", "token", "rootcertbundle"],
  ["auth", "token", "jwks"],
  ["http", "tls", "certificate"],
  ["http", "tls", "key"],
  ["http", "tls", "letsencrypt", "cachefile"],
  ["tokenserver", "users"],
  ["tokenserver", "key"],
  ["tokenserver", "certificate"],
  ["tokenserver", "keydir"],
  ["compatibility", "schema1", "signingkeyfile"],
];

export interface NamedPath {
  key: KeyPath;
  /** The key without list indexes (`health.file.file`): paths are compared per group. */
  group: string;
  value: string;
}

/** Every path a configuration (a parsed `Config` or a raw document: the keys are the same) names. */
export function namedPaths(config: unknown): NamedPath[] {
  const found: NamedPath[] = [];
  const add = (key: KeyPath, group: string) => {
    const value = text(config, key);
    if (value !== undefined) found.push({ key, group, value });
  };
  for (const key of pathKeys) add(key, key.join("."));
  const clientcas = get(config, ["http", "tls", "clientcas"]);
  if (Array.isArray(clientcas)) clientcas.forEach((_, index) => add(["http", "tls", "clientcas", index], "http.tls.clientcas"));
  else add(["http", "tls", "clientcas"], "http.tls.clientcas");
  const checks = get(config, ["health", "file"]);
  if (Array.isArray(checks)) checks.forEach((_, index) => add(["health", "file", index, "file"], "health.file.file"));
  if (text(config, ["http", "net"])?.toLowerCase() === "unix") add(["http", "addr"], "http.addr (unix socket)");
  return found;
}

export interface PathPolicy {
  /** Directories the named paths must lie in (relative ones against the working directory). */
  allowed: readonly string[];
  /** Whether `allowed` is `console.allowedpaths` or the defaults (for the message). */
  configured: boolean;
  /** The running configuration: a path it already names under the same key was set by the operator and passes. */
  running: Config;
}

/**
 * What the console may point Berth at: `console.allowedpaths` of the running configuration, else
 * the directory of the config file Berth was started with, the filesystem storage root and
 * `console.statedir` — where Berth already reads and writes.
 */
export function consolePathPolicy(running: Config, file: string | undefined): PathPolicy {
  const configured = running.console.allowedpaths;
  const defaults = [
    ...(file !== undefined ? [dirname(resolve(file))] : []),
    ...(running.storage.filesystem ? [running.storage.filesystem.rootdirectory] : []),
    running.console.statedir,
  ];
  return { allowed: configured ?? defaults, configured: configured !== undefined, running };
}

/** `path` made absolute, with the symlinks of its existing part resolved: where the OS would go. */
async function resolveReal(path: string): Promise<string> {
  const missing: string[] = [];
  let current = resolve(path);
  for (;;) {
    try {
      return join(await realpath(current), ...missing);
    } catch {
      const parent = dirname(current);
      if (parent === current) return resolve(path);
      missing.unshift(basename(current));
      current = parent;
    }
  }
}

function isWithin(path: string, dir: string): boolean {
  const rest = relative(dir, path);
  return rest === "" || (rest !== ".." && !rest.startsWith(`..${sep}`) && !isAbsolute(rest));
}

/**
 * The console's rule for the paths a configuration names (`confined` is the parsed `Config` when
 * the schema accepted it, so defaults count, else the document): each must lie in an allowed
 * directory, symlinks resolved, unless the running configuration names the same path under the
 * same key. `console.allowedpaths` itself only changes in the file on disk, or the console could
 * widen its own bounds. Returns the problems and a copy of `doc` without the refused paths (null),
 * so that the file checks never read them.
 */
export async function confinePaths(
  doc: Record<string, unknown>,
  confined: unknown,
  policy: PathPolicy,
): Promise<{ problems: RawProblem[]; doc: Record<string, unknown> }> {
  const problems: RawProblem[] = [];
  const running = new Set(namedPaths(policy.running).map((named) => `${named.group}\u0000${named.value}`));
  const allowed = await Promise.all(policy.allowed.map(resolveReal));
  const shown = `${policy.configured ? "console.allowedpaths" : "by default the config file's directory, the storage root and console.statedir"}: ${policy.allowed.join(", ")}`;
  const checked = structuredClone(doc);
  for (const named of namedPaths(confined)) {
    if (running.has(`${named.group}\u0000${named.value}`)) continue;
    const real = await resolveReal(named.value);
    if (allowed.some((dir) => isWithin(real, dir))) continue;
    const defaulted = text(doc, named.key) === undefined ? " (the default)" : "";
    problems.push({
      path: named.key,
      message: `${JSON.stringify(named.value)}${defaulted} is outside the directories the console may point Berth at (${shown}); only the file on disk can name other paths`,
    });
    const parent = get(checked, named.key.slice(0, -1));
    const last = named.key[named.key.length - 1] as string | number;
    if (parent !== null && typeof parent === "object") (parent as Record<string | number, unknown>)[last] = null;
  }
  const raw = get(confined, ["console", "allowedpaths"]);
  const edited = typeof raw === "string" ? [raw] : (raw ?? undefined);
  if (JSON.stringify(edited) !== JSON.stringify(policy.running.console.allowedpaths)) {
    problems.push({
      path: ["console", "allowedpaths"],
      message: "can only be changed in the file on disk (then reload Berth): it bounds what the console may make Berth read and write",
    });
  }
  return { problems, doc: checked };
}

/**
 * Where distribution's images keep their configuration: 3.x's first (a file mounted there was
 * put there for a 3.x image, which reads nothing else), then 2.x's.
 */
export const distributionConfigPaths = ["/etc/distribution/config.yml", "/etc/docker/registry/config.yml"] as const;

/**
 * The configuration file a command without one reads: the file named on the command line, else
 * `REGISTRY_CONFIGURATION_PATH` (as distribution's `serve` reads it), else the first of
 * `candidates` that exists; undefined means Berth's embedded default (./data on :5000).
 */
export function resolveConfigFile(
  explicit: string | undefined,
  env: Record<string, string | undefined> = process.env,
  candidates: readonly string[] = distributionConfigPaths,
  exists: (path: string) => boolean = existsSync,
): string | undefined {
  if (explicit !== undefined) return explicit;
  const fromEnv = env.REGISTRY_CONFIGURATION_PATH;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return candidates.find((path) => exists(path));
}
