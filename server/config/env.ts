import { CORE_SCHEMA, load, mergeTag } from "js-yaml";
import { configSchema } from "./schema.js";
import { formatPath, type KeyPath } from "./positions.js";
import { isMapping, shapeOf, type Shape } from "./shape.js";

/** The YAML flavour for config files and env values: YAML 1.2 core plus `<<` merge keys (go-yaml has them). */
export const yamlSchema = CORE_SCHEMA.withTags(mergeTag);

export const envPrefix = "REGISTRY_";

/** One applied override: which variable set which key path. */
export interface EnvSource {
  name: string;
  path: KeyPath;
}

export interface EnvOverrideResult {
  /** A copy of the document with the overrides applied (the input is not modified). */
  doc: Record<string, unknown>;
  /** Names of the variables applied, in the order they were applied. */
  applied: string[];
  /** Variables that matched nothing known, or whose value had to be taken as a plain string. */
  warnings: string[];
  /** Key path each applied variable set, for pointing problems at "from REGISTRY_X". */
  sources: EnvSource[];
}

/**
 * distribution's environment overrides: `REGISTRY_` + the upper-cased key path joined by `_`
 * (`REGISTRY_STORAGE_S3_BUCKET` → `storage.s3.bucket`). The value is parsed as YAML, so
 * `REGISTRY_STORAGE='{s3: {bucket: b}}'` replaces a whole subtree and `REGISTRY_HTTP_ADDR=:5001`
 * stays a string. Variables are applied sorted by name, so parents come before children
 * (`REGISTRY_STORAGE` before `REGISTRY_STORAGE_S3_BUCKET`).
 *
 * Names are matched by walking the schema together with the document: known keys first (and
 * the Go field names distribution also matches, such as `TRUSTKEY` for `signingkeyfile`), then
 * keys already in the document (case-insensitively, which also reaches keys with underscores).
 * Where distribution's configuration is a map (storage drivers and their parameters, auth
 * methods, `log.fields`, headers) an unmatched name creates a lower-cased key, as distribution
 * does; in a fixed section an unmatched name is reported as a warning and ignored. List items
 * are addressed by index (`REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL`); the next free index appends.
 */
export function applyEnvOverrides(
  doc: Record<string, unknown>,
  env: Record<string, string | undefined> = process.env,
): EnvOverrideResult {
  let root = structuredClone(doc);
  const applied: string[] = [];
  const warnings: string[] = [];
  const sources: EnvSource[] = [];
  const names = Object.keys(env)
    .filter((name) => name.startsWith(envPrefix) && env[name] !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  for (const name of names) {
    const segments = name.slice(envPrefix.length).split("_");
    if (segments.some((segment) => segment === "")) {
      warnings.push(`${name}: ignored: not of the form REGISTRY_SECTION_KEY (empty name part)`);
      continue;
    }
    // Names the file to read (resolveConfigFile), not a key in it.
    if (name === "REGISTRY_CONFIGURATION_PATH") continue;
    if (segments.length === 1 && segments[0]?.toUpperCase() === "VERSION") {
      warnings.push(`${name}: ignored: the configuration version cannot be overridden from the environment`);
      continue;
    }
    const { value, warning } = parseEnvValue(env[name] ?? "");
    // On a copy: a variable that turns out not to fit must not leave half-created sections behind.
    const attempt = structuredClone(root);
    const outcome = assign(attempt, configSchema, segments, [], value);
    if ("error" in outcome) {
      warnings.push(`${name}: ignored: ${outcome.error}`);
      continue;
    }
    root = attempt;
    if (warning) warnings.push(`${name}: ${warning}`);
    applied.push(name);
    sources.push({ name, path: outcome.path });
  }
  return { doc: root, applied, warnings, sources };
}

function parseEnvValue(text: string): { value: unknown; warning?: string } {
  if (text.trim() === "") return { value: null };
  try {
    return { value: load(text, { schema: yamlSchema }) };
  } catch (error) {
    const reason = (error as { reason?: string }).reason ?? (error as Error).message;
    return { value: text, warning: `value is not valid YAML (${reason}); used as a plain string` };
  }
}

type Outcome = { path: KeyPath } | { error: string };

/** Sets `value` at the key path named by `segments`, below `container` (described by `schema`). */
function assign(container: Record<string, unknown> | unknown[], schema: unknown, segments: string[], path: (string | number)[], value: unknown): Outcome {
  // Below a key the schema does not know (created from the environment), everything is a map.
  const shape: Shape = schema === undefined ? { kind: "record", value: undefined, note: { open: true } } : shapeOf(schema);
  const where = path.length === 0 ? "the top level" : formatPath(path);

  if (shape.kind === "array") {
    if (!Array.isArray(container)) return { error: `${where} is not a list` };
    const [first, ...rest] = segments;
    if (first === undefined || !/^\d+$/.test(first)) return { error: `${where} is a list: expected an index, got ${JSON.stringify(first)}` };
    const index = Number(first);
    if (index > container.length) return { error: `${where} has ${container.length} item(s): index ${index} would leave a gap` };
    return descend(container, index, shape.element, rest, [...path, index], value);
  }

  if (shape.kind === "object" || shape.kind === "record") {
    if (!isMapping(container)) return { error: `${where} is not a mapping` };
    const match = matchKey(container, shape, segments);
    if (!match) {
      if (shape.kind === "object" && !shape.note.open) {
        return { error: `matches no known key under ${where}` };
      }
      // A map in distribution: create the key. A map of plain values takes the rest of the name
      // as one key (REGISTRY_LOG_FIELDS_SERVICE_NAME → log.fields.service_name).
      const valueSchema = shape.kind === "record" ? shape.value : undefined;
      const leafMap = shape.kind === "record" && shapeOf(valueSchema).kind === "leaf";
      const key = (leafMap ? segments.join("_") : (segments[0] ?? "")).toLowerCase();
      const rest = leafMap ? [] : segments.slice(1);
      return descend(container, key, valueSchema, rest, [...path, key], value);
    }
    return descend(container, match.key, match.schema, segments.slice(match.used), [...path, match.key], value);
  }
  return { error: `${where} is a single value, not a mapping` };
}

function descend(
  container: Record<string, unknown> | unknown[],
  key: string | number,
  schema: unknown,
  rest: string[],
  path: (string | number)[],
  value: unknown,
): Outcome {
  const set = (v: unknown) => {
    if (Array.isArray(container)) container[key as number] = v;
    else container[key as string] = v;
  };
  const current = Array.isArray(container) ? container[key as number] : container[key as string];
  if (rest.length === 0) {
    set(value);
    return { path };
  }
  const shape = shapeOf(schema);
  let child = current;
  if (shape.kind === "array") {
    if (!Array.isArray(child)) set((child = []));
  } else if (shape.kind === "object" && shape.note.scalarAsKey && typeof child === "string" && child.trim() !== "") {
    set((child = { [child.trim()]: {} })); // `storage: inmemory` refined by REGISTRY_STORAGE_INMEMORY_X
  } else if (shape.kind === "object" || shape.kind === "record" || schema === undefined) {
    if (!isMapping(child)) set((child = {}));
  } else {
    return { error: `${formatPath(path)} is a single value, not a mapping` };
  }
  return assign(child as Record<string, unknown> | unknown[], schema, rest, path, value);
}

interface KeyMatch {
  key: string;
  schema: unknown;
  /** How many name segments the key consumed. */
  used: number;
}

/** The longest key (known to the schema or already in the document) the name segments start with. */
function matchKey(container: Record<string, unknown>, shape: Extract<Shape, { kind: "object" | "record" }>, segments: string[]): KeyMatch | undefined {
  const upper = segments.map((s) => s.toUpperCase());
  const consumes = (key: string): number => {
    const parts = key.toUpperCase().split("_");
    if (parts.length > upper.length) return 0;
    return parts.every((part, i) => part === upper[i]) ? parts.length : 0;
  };
  let best: KeyMatch | undefined;
  const consider = (key: string, schema: unknown) => {
    const used = consumes(key);
    if (used > 0 && (!best || used > best.used)) best = { key, schema, used };
  };
  if (shape.kind === "object") {
    for (const [key, schema] of shape.keys) consider(key, schema);
    for (const [alias, key] of Object.entries(shape.note.envAliases ?? {})) {
      if (upper[0] === alias && (!best || best.used < 1)) best = { key, schema: shape.keys.get(key), used: 1 };
    }
  }
  for (const key of Object.keys(container)) {
    const used = consumes(key);
    if (used > 0 && (!best || used > best.used)) {
      best = { key, schema: shape.kind === "object" ? shape.keys.get(key) : shape.value, used };
    }
  }
  return best;
}
