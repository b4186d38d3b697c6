import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { storageDriver } from "../config/load.js";
import type { Config } from "../config/schema.js";
import type { IndexDatabaseSettings } from "./database.js";

/**
 * Where the index lives and when it is stale, from the configuration. With the default SQLite
 * backend the index is a local, per-instance cache (never on the storage driver: S3 cannot host
 * SQLite), in a local state directory: `console.statedir`, default `./data/berth-state`
 * (resolved against the working directory at start, like the default filesystem root `./data`;
 * distribution ignores everything outside `docker/registry/v2`). With `console.index.backend:
 * mysql` it is the database at `console.index.dsn`, shared by every instance configured so.
 */
export const indexFileName = "index.sqlite";
export const defaultIndexMaxAgeMs = 24 * 3600_000;

export interface IndexSettings {
  database: IndexDatabaseSettings;
  /** The storage's identity: an index built for other storage is rebuilt. */
  generation: string;
  maxAgeMs: number;
}

/** `console.index`, `console.statedir` and `console.indexmaxage`, and the storage section; `stateDir` (a CLI flag) wins for SQLite. */
export function indexSettings(config: Config, overrides: { stateDir?: string } = {}): IndexSettings {
  const { name, params } = storageDriver(config);
  const { backend, dsn } = config.console.index;
  const database: IndexDatabaseSettings =
    backend === "mysql" && dsn !== undefined
      ? { backend, dsn }
      : { backend: "sqlite", path: join(resolve(overrides.stateDir ?? config.console.statedir), indexFileName) };
  return { database, generation: storageGeneration(name, params), maxAgeMs: config.console.indexmaxage ?? defaultIndexMaxAgeMs };
}

/**
 * A short, secret-free fingerprint of the storage configuration (driver and parameters, a
 * relative filesystem root resolved as `serve` resolves it): the index's generation.
 */
export function storageGeneration(name: string, params: Record<string, unknown>): string {
  const hash = createHash("sha256").update(stableJson(params)).digest("hex").slice(0, 16);
  return `${name}:${hash}`;
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
