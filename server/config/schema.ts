import type { z } from "zod";
import { Failure, leaf, toText } from "./schema/scalars.js";
import { always, optional, section } from "./schema/structure.js";
import { logLevel, logSchema } from "./schema/log.js";
import { storageSchema } from "./schema/storage.js";
import { authSchema } from "./schema/auth.js";
import { httpSchema } from "./schema/http.js";
import { notificationsSchema } from "./schema/notifications.js";
import { redisSchema } from "./schema/redis.js";
import { healthSchema } from "./schema/health.js";
import { mirrorsSchema, proxySchema } from "./schema/proxy.js";
import { validationSchema } from "./schema/validation.js";
import { catalogSchema, compatibilitySchema, middlewareSchema, policySchema, reportingSchema } from "./schema/misc.js";
import { etcdSchema } from "./schema/etcd.js";
import { consoleSchema } from "./schema/console.js";
import { tokenServerSchema } from "./schema/tokenserver.js";
import { gcSchema } from "./schema/gc.js";

/**
 * distribution's `config.yml`, version 0.1, as one typed zod schema, plus Berth's own sections.
 *
 * Parsing rules (documented in README.md next to this file):
 * - Every section of distribution's reference is typed; unknown keys pass through untouched (and
 *   are reported as warnings by `validateConfigText`), so a file written for Docker's registry
 *   loads unchanged.
 * - Scalars are coerced the way distribution ends up reading them, which matters for values that
 *   come from `REGISTRY_*` environment variables: booleans accept true/false/yes/no/on/off/1/0
 *   (any case), numbers and sizes accept numeric strings, strings accept numbers and booleans
 *   (`secret: 12345`).
 * - Durations (`300s`, `24h0m0s`) become milliseconds; a bare number is nanoseconds, as in Go.
 * - An empty value (`key:` with nothing after it) counts as absent for optional keys, except for
 *   storage drivers and auth methods where `inmemory:` means "this driver, no parameters".
 * - `storage: inmemory` and `auth: silly` (a bare name) mean a driver/method without parameters.
 *
 * Berth's own keys (not part of distribution):
 * - `etcd`: where LAIN keeps cluster settings; Berth reads the token auth settings from `authkey`.
 *   `{ endpoints: [url...], prefix?, authkey = "/lain/config/auth/registry", username?, password?,
 *   dialtimeout? }`.
 * - `console`: the admin console served next to `/v2/`. `{ enabled = true, statedir, indexmaxage?,
 *   index: { backend = sqlite | mysql, dsn? }, allowedpaths? }`.
 * - `gc`: garbage collection. `{ grace = 10m, hold = 2m, schedule? }`, used by `berth garbage-collect`, the console
 *   and (`schedule`, a cron expression) `berth serve`'s scheduled runs.
 * - `tokenserver`: Berth's built-in docker token server. `{ enabled = false, issuer = "auth server",
 *   service?, users? (htpasswd), admins = [], groups?, key?, certificate?, keydir?, expiration = 5m,
 *   rules? }` (server/auth/README.md).
 */

// The schema is split by section under ./schema/ (one file each, so a feature edits only its own);
// this module is its public face: the top-level `configSchema` and everything callers import.
export { type SchemaNote, schemaNote } from "./schema/note.js";
export { absoluteUrl, bool, describeValue, duration, int, size, str, toBoolean, toText } from "./schema/scalars.js";
export { type LogLevel, logLevelAliases, logSchema } from "./schema/log.js";
export { knownStorageDrivers, storageOptionKeys, storageSchema } from "./schema/storage.js";
export { authSchema, knownAuthMethods } from "./schema/auth.js";
export { httpSchema, tlsVersions } from "./schema/http.js";
export { notificationsSchema } from "./schema/notifications.js";
export { redisSchema } from "./schema/redis.js";
export { healthSchema } from "./schema/health.js";
export { defaultProxyTtlMs, mirrorSchema, mirrorsSchema, proxySchema } from "./schema/proxy.js";
export { validationSchema } from "./schema/validation.js";
export { catalogSchema, compatibilitySchema, middlewareSchema, policySchema, reportingSchema } from "./schema/misc.js";
export { defaultEtcdAuthKey, etcdSchema } from "./schema/etcd.js";
export { consoleIndexSchema, consoleSchema, indexBackends } from "./schema/console.js";
export { tokenServerActions, tokenServerSchema } from "./schema/tokenserver.js";
export { defaultGcGraceMs, defaultGcHoldMs, gcSchema } from "./schema/gc.js";

const version = leaf('"0.1"', (value) => {
  const text = toText(value);
  if (text === "0.1") return "0.1" as const;
  return new Failure(`unsupported version ${JSON.stringify(text ?? value)}: Berth reads distribution's configuration version 0.1`);
});

export const configSchema = section({
  version,
  log: always(logSchema),
  /** Deprecated by distribution in favour of `log.level`; still accepted. */
  loglevel: optional(logLevel()),
  storage: storageSchema,
  auth: optional(authSchema),
  middleware: optional(middlewareSchema),
  reporting: optional(reportingSchema),
  http: always(httpSchema),
  notifications: optional(notificationsSchema),
  redis: optional(redisSchema),
  health: optional(healthSchema),
  proxy: optional(proxySchema),
  mirrors: optional(mirrorsSchema),
  compatibility: optional(compatibilitySchema),
  validation: optional(validationSchema),
  catalog: optional(catalogSchema),
  policy: optional(policySchema),
  etcd: optional(etcdSchema),
  console: always(consoleSchema),
  tokenserver: optional(tokenServerSchema),
  gc: always(gcSchema),
});

export type Config = z.output<typeof configSchema>;
export type StorageConfig = Config["storage"];
export type HttpConfig = Config["http"];
export type AuthConfig = NonNullable<Config["auth"]>;
export type EtcdConfig = NonNullable<Config["etcd"]>;
export type TokenServerConfig = NonNullable<Config["tokenserver"]>;
