import { dump } from "js-yaml";
import { configSchema, type Config } from "./schema.js";
import { isMapping, shapeOf } from "./shape.js";
import { formatDuration } from "./units.js";

export const REDACTED = "[redacted]";

/** Keys whose string value is a secret wherever they appear. */
const secretKey = /secret|password|passwd|token|credential|accesskey|apikey|licensekey|accountkey|privatekey/i;

/**
 * Secrets by position, for keys whose name does not say so: the access key ids of s3/oss (which
 * are half of a credential), Authorization-like headers. Paths use "*" for any key or index.
 */
const secretPaths: string[][] = [
  ["storage", "s3", "accesskey"],
  ["storage", "s3", "secretkey"],
  ["storage", "oss", "accesskeyid"],
  ["storage", "oss", "accesskeysecret"],
  ["storage", "azure", "accountkey"],
  ["storage", "swift", "password"],
  ["storage", "swift", "secretkey"],
  ["http", "secret"],
  ["redis", "password"],
  ["proxy", "password"],
  ["etcd", "password"],
  // A DSN carries the database password.
  ["console", "index", "dsn"],
];

const secretHeader = /^(authorization|proxy-authorization|cookie|x-api-key|x-auth-token)$/i;

function matches(pattern: string[], path: (string | number)[]): boolean {
  return pattern.length === path.length && pattern.every((part, i) => part === "*" || part === String(path[i]));
}

/**
 * A copy of the configuration with every secret replaced by "[redacted]": storage credentials,
 * `http.secret`, redis/proxy/etcd passwords, Authorization-like headers of notification endpoints
 * and health checks, and any string under a key that looks secret (secret, password, token,
 * credential, ...). For `berth config print` and logs.
 */
export function redactConfig(config: Config | Record<string, unknown>): Record<string, unknown> {
  const walk = (value: unknown, path: (string | number)[]): unknown => {
    if (Array.isArray(value)) return value.map((item, index) => walk(item, [...path, index]));
    if (isMapping(value)) {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) out[key] = walk(child, [...path, key]);
      return out;
    }
    if (value === undefined || value === null || path.length === 0) return value;
    const key = String(path[path.length - 1]);
    const parent = path[path.length - 2];
    const grandparent = path[path.length - 3];
    const isSecret =
      secretPaths.some((pattern) => matches(pattern, path)) ||
      ((typeof value === "string" || typeof value === "number") && secretKey.test(key)) ||
      // headers: { Authorization: ["Bearer ..."] } — the values are list items below the header name
      (parent !== undefined && typeof parent === "string" && secretHeader.test(parent) && grandparent === "headers") ||
      (key !== "" && secretHeader.test(key) && parent === "headers");
    return isSecret ? REDACTED : value;
  };
  return walk(config, []) as Record<string, unknown>;
}

/**
 * The parsed configuration as a config.yml document again: durations (milliseconds in `Config`)
 * go back to Go duration strings, so the output loads to the same configuration.
 */
export function toDocument(config: Config | Record<string, unknown>): Record<string, unknown> {
  const walk = (value: unknown, schema: unknown): unknown => {
    const shape = schema === undefined ? undefined : shapeOf(schema);
    if (Array.isArray(value)) return value.map((item) => walk(item, shape?.kind === "array" ? shape.element : undefined));
    if (isMapping(value)) {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) {
        if (child === undefined) continue;
        const childSchema = shape?.kind === "object" ? shape.keys.get(key) : shape?.kind === "record" ? shape.value : undefined;
        out[key] = walk(child, childSchema);
      }
      return out;
    }
    if (shape?.kind === "leaf" && shape.note.duration && typeof value === "number") return formatDuration(value);
    return value;
  };
  return walk(config, configSchema) as Record<string, unknown>;
}

/** The configuration as YAML, secrets redacted, durations as Go durations (`berth config print`). */
export function printConfig(config: Config | Record<string, unknown>): string {
  return dump(redactConfig(toDocument(config)), { noRefs: true, lineWidth: -1, skipInvalid: true });
}
