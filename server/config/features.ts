import { implementedStorageDriverNames, knownStorageDriverNames } from "../registry/storage/drivers.js";
import { configSchema, storageOptionKeys, type Config } from "./schema.js";
import { isMapping, shapeOf } from "./shape.js";

/**
 * Key paths Berth acts on today. A configured key outside this set is accepted but reported by
 * `unimplementedKeys`, so a distribution config never silently loses a setting. Whoever wires a
 * feature adds its path here (a path covers everything below it).
 */
export const implementedKeys: ReadonlySet<string> = new Set([
  "version",
  "loglevel",
  "log.level",
  "log.formatter",
  "log.fields",
  "log.hooks",
  "storage.filesystem",
  "storage.inmemory",
  "storage.delete",
  "storage.redirect",
  "storage.maintenance.readonly",
  "storage.maintenance.uploadpurging",
  "storage.tag.concurrencylimit",
  "storage.cache.blobdescriptor",
  "storage.cache.blobdescriptorsize",
  "storage.cache.layerinfo",
  "redis.addr",
  // One address is used; several (a Redis Cluster) get their own warning from checks.ts.
  "redis.addrs",
  // Pool sizes and idle times: ioredis sends every command over one connection per instance
  // (pipelined), so there is no pool for them to size; they are read and have nothing to change.
  "redis.pool",
  "redis.poolsize",
  "redis.maxidleconns",
  "redis.minidleconns",
  "redis.maxactiveconns",
  "redis.connmaxidletime",
  "redis.connmaxlifetime",
  "redis.username",
  "redis.password",
  "redis.db",
  "redis.dialtimeout",
  "redis.readtimeout",
  "redis.writetimeout",
  "redis.tls",
  "http.draintimeout",
  "http.http2",
  "http.addr",
  "http.net",
  "http.secret",
  "http.prefix",
  "http.host",
  "http.relativeurls",
  "http.clientaddressheader",
  "http.headers",
  "http.tls.certificate",
  "http.tls.key",
  "http.tls.clientcas",
  "http.tls.minimumtls",
  "http.debug.addr",
  "http.debug.prometheus",
  "log.accesslog",
  "notifications",
  "auth.silly",
  "auth.htpasswd",
  "auth.token",
  "etcd",
  "console",
  "tokenserver",
  "gc",
  "proxy",
  "mirrors",
  "validation",
  "health",
]);

/** Storage drivers `createDriver` can build today (server/registry/storage/drivers.ts lists them). */
export const implementedStorageDrivers: readonly string[] = implementedStorageDriverNames;

export interface UnimplementedOptions {
  /** Storage drivers available (default: `implementedStorageDrivers`; pass `knownDrivers()`). */
  drivers?: readonly string[];
  /** Override the implemented key paths (default: `implementedKeys`). */
  implemented?: ReadonlySet<string>;
}

/**
 * Asks nothing of Berth: absent, `false`, empty, or a section switched off (`enabled: false`,
 * `disabled: true`) or holding only such values (`notifications: {endpoints: []}`).
 */
function inactive(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  if (!isMapping(value)) return false;
  if (value.enabled === false || value.disabled === true) return true;
  return Object.values(value).every(inactive);
}

/**
 * Configured keys Berth does not implement yet, as dotted paths (the shallowest unimplemented
 * key of each subtree: "auth.token", "notifications", "storage.s3"). Keys the schema does not
 * know are left out (they are reported as unknown keys), and so are sections switched off
 * (`enabled: false`, `disabled: true`) and `http.net: tcp` (only `unix`, `tcp4`, `tcp6` are
 * unimplemented). A storage driver Berth cannot open is always listed.
 */
export function unimplementedKeys(config: Config, options: UnimplementedOptions = {}): string[] {
  const implemented = new Set(options.implemented ?? implementedKeys);
  const drivers = options.drivers ?? implementedStorageDrivers;
  for (const driver of drivers) implemented.add(`storage.${driver}`);
  const found: string[] = [];
  const walk = (value: unknown, schema: unknown, path: string) => {
    const shape = shapeOf(schema);
    if (!isMapping(value) || shape.kind !== "object") return;
    for (const [key, child] of Object.entries(value)) {
      const childPath = path === "" ? key : `${path}.${key}`;
      if (path === "storage" && !storageOptionKeys.has(key)) {
        // The driver itself: never "switched off", whatever its parameters say.
        if (!implemented.has(childPath) && knownStorageDriverNames.includes(key)) found.push(childPath);
        continue;
      }
      const childSchema = shape.keys.get(key);
      if (childSchema === undefined || (childPath !== "storage" && inactive(child))) continue;
      if (implemented.has(childPath)) {
        if (childPath === "http.net" && child !== "tcp") found.push(childPath);
        continue;
      }
      const prefix = `${childPath}.`;
      // auth lists methods: name the method ("auth.token"), not the section.
      if (childPath === "auth" || [...implemented].some((p) => p.startsWith(prefix))) walk(child, childSchema, childPath);
      else found.push(childPath);
    }
  };
  walk(config, configSchema, "");
  return found;
}
