import { randomBytes } from "node:crypto";
import { isLocalDriver } from "../registry/storage/drivers.js";
import { storageDriver, storageDriverNames } from "./load.js";
import type { Problem } from "./problems.js";
import type { Config } from "./schema.js";

/** The part of a storage driver the dry run uses (structurally a StorageDriver). */
export interface ProbeDriver {
  putContent(path: string, content: Buffer | string): Promise<void>;
  getContent(path: string): Promise<Buffer>;
  delete(path: string): Promise<void>;
  stat(path: string): Promise<unknown>;
  list(path: string): Promise<string[]>;
}

export interface DryRunOptions {
  /** `createDriver` from server/registry/storage/factory.ts. */
  createDriver: (name: string, params: Record<string, unknown>) => ProbeDriver;
  /** For the etcd check; default the global fetch. */
  fetch?: typeof fetch;
  /** Per etcd endpoint; default `etcd.dialtimeout`, else 3 s. */
  etcdTimeoutMs?: number;
  /**
   * Also reach what is on the network: etcd, S3/OSS storage, the MySQL index. Off, the dry run
   * connects to nothing (see `unreachedServices`), so that validating a configuration cannot be
   * used to probe hosts and ports unless someone asks for exactly that.
   */
  connect?: boolean;
}

/** What a dry run without `connect` leaves out: the configured services on the network, by key. */
export function unreachedServices(config: Config): string[] {
  const unreached: string[] = [];
  const storage = storageDriverNames(config)[0];
  if (storage !== undefined && !isLocalDriver(storage)) unreached.push(`storage.${storage}`);
  if (config.etcd && config.etcd.endpoints.length > 0) unreached.push("etcd.endpoints");
  if (indexDsn(config) !== undefined) unreached.push("console.index.dsn");
  if (config.redis) unreached.push("redis");
  return unreached;
}

/** Where the probe object goes: below distribution's root, in a directory only Berth uses. */
export const probeDirectory = "/docker/registry/v2/_berth_probe";

/**
 * Checks that the configured services are usable without changing anything: opens the storage
 * driver and writes, reads back and deletes a probe object under `_berth_probe/` (removing the
 * directories it had to create); with `connect`, also a storage on the network, each
 * `etcd.endpoints`' `/version`, a MySQL index's database (a login) and Redis (a PING). Returns the problems found
 * (empty when everything answered).
 */
export async function dryRun(config: Config, options: DryRunOptions): Promise<Problem[]> {
  const unreached = options.connect ? [] : unreachedServices(config);
  const [storage, etcd, index, redis] = await Promise.all([
    unreached.some((key) => key.startsWith("storage.")) ? [] : probeStorage(config, options),
    unreached.includes("etcd.endpoints") ? [] : probeEtcd(config, options),
    unreached.includes("console.index.dsn") ? [] : probeIndex(config),
    unreached.includes("redis") ? [] : probeRedisSection(config),
  ]);
  return [...storage, ...etcd, ...index, ...redis];
}

/** With a `redis` section, connects and sends PING (nothing is written). */
async function probeRedisSection(config: Config): Promise<Problem[]> {
  if (!config.redis) return [];
  const { probeRedis } = await import("../registry/blob-cache/redis.js");
  const failure = await probeRedis(config.redis);
  const addr = config.redis.addr ?? config.redis.addrs?.[0] ?? "localhost:6379";
  return failure === undefined ? [] : [{ path: config.redis.addr ? "redis.addr" : "redis", message: `redis at ${addr} did not answer PING: ${failure}` }];
}

/** The MySQL index's DSN, when the console keeps its index there. */
function indexDsn(config: Config): string | undefined {
  const { backend, dsn } = config.console.index;
  return backend === "mysql" && config.console.enabled !== false ? dsn : undefined;
}

/** With `console.index.backend: mysql`, logs in to the DSN's database and reads nothing else (no table is created). */
async function probeIndex(config: Config): Promise<Problem[]> {
  const dsn = indexDsn(config);
  if (dsn === undefined) return [];
  const { probeMysql } = await import("../index/mysql.js");
  try {
    await probeMysql(dsn);
    return [];
  } catch (error) {
    // mysql2's messages name the user and host, never the password.
    return [{ path: "console.index.dsn", message: `cannot use the index database: ${describeError(error)}` }];
  }
}

function describeError(error: unknown): string {
  const err = error as { code?: string; message?: string; cause?: unknown };
  const cause = err?.cause as { code?: string; message?: string } | undefined;
  const message = err?.message ?? String(error);
  if (cause?.message && !message.includes(cause.message)) return `${message}: ${cause.message}`;
  return message;
}

async function probeStorage(config: Config, options: DryRunOptions): Promise<Problem[]> {
  let name: string;
  let params: Record<string, unknown>;
  try {
    ({ name, params } = storageDriver(config));
  } catch (error) {
    return [{ path: "storage", message: describeError(error) }];
  }
  const path = `storage.${name}`;
  const where = name === "filesystem" ? ` under ${String(params.rootdirectory ?? "/var/lib/registry")}` : "";

  let driver: ProbeDriver;
  try {
    driver = options.createDriver(name, params);
  } catch (error) {
    return [{ path, message: `cannot open the ${name} storage driver: ${describeError(error)}` }];
  }

  // Directories that do not exist yet are created by the write; note them to remove them after.
  const ancestors = ["/docker", "/docker/registry", "/docker/registry/v2", probeDirectory];
  const created: string[] = [];
  for (const dir of ancestors) {
    try {
      await driver.stat(dir);
    } catch (error) {
      if ((error as { kind?: string }).kind !== "not-found") {
        return [{ path, message: `cannot inspect the storage${where}: ${describeError(error)}` }];
      }
      created.push(dir);
    }
  }

  const probe = `${probeDirectory}/${randomBytes(12).toString("hex")}`;
  const content = `berth dry run ${new Date().toISOString()} ${randomBytes(8).toString("hex")}\n`;
  const problems: Problem[] = [];
  let written = false;
  try {
    await driver.putContent(probe, content);
    written = true;
    const back = await driver.getContent(probe);
    if (back.toString("utf8") !== content) {
      problems.push({ path, message: `the storage${where} returned different content for the probe object ${probe} than was written` });
    }
  } catch (error) {
    problems.push({ path, message: `cannot ${written ? "read back" : "write"} the probe object ${probe}${where}: ${describeError(error)}` });
  }

  try {
    if (written) await driver.delete(probe);
  } catch (error) {
    problems.push({ path, message: `cannot delete the probe object ${probe}${where}: ${describeError(error)}` });
  }
  // Remove what the probe created, deepest first, and only while it is empty.
  for (const dir of created.reverse()) {
    try {
      if ((await driver.list(dir)).length > 0) break;
      await driver.delete(dir);
    } catch {
      break;
    }
  }
  return problems;
}

async function probeEtcd(config: Config, options: DryRunOptions): Promise<Problem[]> {
  const etcd = config.etcd;
  if (!etcd || etcd.endpoints.length === 0) return [];
  const doFetch = options.fetch ?? fetch;
  const timeout = options.etcdTimeoutMs ?? etcd.dialtimeout ?? 3000;
  const results = await Promise.all(
    etcd.endpoints.map(async (endpoint, index): Promise<Problem | undefined> => {
      const url = `${endpoint.replace(/\/+$/, "")}/version`;
      const path = `etcd.endpoints[${index}]`;
      try {
        const response = await doFetch(url, { signal: AbortSignal.timeout(timeout), redirect: "manual" });
        const body = await response.text();
        if (!response.ok) return { path, message: `etcd at ${endpoint} answered ${url} with HTTP ${response.status}` };
        let version: unknown;
        try {
          version = (JSON.parse(body) as { etcdserver?: unknown }).etcdserver;
        } catch {
          version = undefined;
        }
        if (typeof version !== "string") return { path, message: `${url} answered, but not like etcd (no "etcdserver" version in the reply)` };
        return undefined;
      } catch (error) {
        const name = (error as { name?: string }).name;
        const reason = name === "TimeoutError" || name === "AbortError" ? `no answer within ${timeout} ms` : describeError(error);
        return { path, message: `cannot reach etcd at ${endpoint}: ${reason}` };
      }
    }),
  );
  return results.filter((p): p is Problem => p !== undefined);
}
