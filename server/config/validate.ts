import { load, YAMLException } from "js-yaml";
import { checkFiles, crossCheck, normalizeDocument, unknownKeyWarnings } from "./checks.js";
import { applyEnvOverrides, yamlSchema, type EnvSource } from "./env.js";
import { unimplementedReason } from "../registry/storage/drivers.js";
import { unimplementedKeys } from "./features.js";
import { unsupportedKeys } from "./unsupported.js";
import { confinePaths, type PathPolicy } from "./paths.js";
import { formatPath, PositionMap, type KeyPath } from "./positions.js";
import type { Problem, RawProblem, ValidationResult } from "./problems.js";
import { configSchema, storageOptionKeys, type Config } from "./schema.js";
import { isMapping } from "./shape.js";

export type { Problem, ValidationResult } from "./problems.js";

export interface ValidateOptions {
  /** The file's name, for messages (the text is not read from it). */
  file?: string;
  /** Variables for `REGISTRY_*` overrides; default `process.env`. Pass `{}` for none. */
  env?: Record<string, string | undefined>;
  /** Read the files the config names (certificates, keys, htpasswd); default true. */
  checkFiles?: boolean;
  /** Storage drivers Berth can open, for the "not implemented" warnings (default: filesystem, inmemory). */
  drivers?: readonly string[];
  /**
   * The console's confinement (`consolePathPolicy`): paths outside the allowed directories are
   * problems, and their files are not read. Absent: any path (the operator's own file).
   */
  paths?: PathPolicy;
}

/**
 * Validates a config.yml text: YAML syntax, environment overrides, the schema, cross-field rules
 * and (unless `checkFiles: false`) the files it names. Every problem is listed, each with its key
 * path and, when it can be pointed at, the line and column in the file — or the `REGISTRY_*`
 * variable the value came from.
 */
export async function validateConfigText(text: string, options: ValidateOptions = {}): Promise<ValidationResult> {
  let doc: unknown;
  try {
    if (text.replace(/#.*$/gm, "").trim() === "") throw new EmptyDocument();
    doc = load(text, { schema: yamlSchema, filename: options.file });
  } catch (error) {
    return { ok: false, problems: [yamlProblem(error)], warnings: [] };
  }
  if (!isMapping(doc)) {
    return {
      ok: false,
      problems: [{ path: "", message: `expected a YAML mapping of configuration keys (version, storage, http, ...), got ${Array.isArray(doc) ? "a list" : "a single value"}`, line: 1, column: 1, source: "file" }],
      warnings: [],
    };
  }
  return validateDocument(doc, { ...options, positions: new PositionMap(text) });
}

class EmptyDocument extends Error {}

function yamlProblem(error: unknown): Problem {
  if (error instanceof EmptyDocument) {
    return { path: "", message: "the file is empty: expected at least `version: 0.1` and a `storage` section", line: 1, column: 1, source: "file" };
  }
  if (error instanceof YAMLException) {
    const mark = error.mark;
    return {
      path: "",
      message: `YAML syntax error: ${error.reason}`,
      ...(mark ? { line: mark.line + 1, column: mark.column + 1 } : {}),
      source: "file",
    };
  }
  return { path: "", message: `cannot parse YAML: ${(error as Error).message}`, source: "file" };
}

export interface DocumentOptions extends ValidateOptions {
  /** Where the document's keys are written, when it came from a file. */
  positions?: PositionMap;
}

/** `validateConfigText` for an already-loaded document (e.g. `defaultConfigDocument()`). */
export async function validateDocument(doc: Record<string, unknown>, options: DocumentOptions = {}): Promise<ValidationResult> {
  const analysis = analyzeDocument(doc, options);
  let readable = analysis.doc;
  if (options.paths) {
    const confined = await confinePaths(analysis.doc, analysis.config ?? analysis.doc, options.paths);
    analysis.problems.push(...confined.problems.map(analysis.locate));
    readable = confined.doc;
  }
  if (options.checkFiles !== false) {
    const files = await checkFiles(readable);
    analysis.problems.push(...files.problems.map(analysis.locate));
    analysis.warnings.push(...files.warnings.map(analysis.locate));
  }
  return finish(analysis);
}

export interface Analysis {
  /** The document after env overrides and normalization. */
  doc: Record<string, unknown>;
  config?: Config;
  problems: Problem[];
  warnings: Problem[];
  locate: (raw: RawProblem) => Problem;
}

/** Everything but the file checks, synchronously (what `parseConfig` uses). */
export function analyzeDocument(input: Record<string, unknown>, options: DocumentOptions = {}): Analysis {
  const env = applyEnvOverrides(input, options.env ?? process.env);
  const locate = locator(env.sources, options.positions);
  const problems: Problem[] = [];
  const warnings: Problem[] = env.warnings.map((message) => {
    const name = message.slice(0, message.indexOf(":"));
    return { path: "", message, source: "env" as const, env: name };
  });

  const normalized = normalizeDocument(env.doc);
  warnings.push(...normalized.warnings.map(locate));
  const cross = crossCheck(normalized.doc);
  problems.push(...cross.problems.map(locate));
  warnings.push(...cross.warnings.map(locate));

  const parsed = configSchema.safeParse(normalized.doc);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map((p) => (typeof p === "number" ? p : String(p)));
      problems.push(locate({ path, message: issue.message }));
    }
  }
  warnings.push(...unknownKeyWarnings(normalized.doc).map(locate));
  const config = parsed.success ? parsed.data : undefined;
  if (config) {
    for (const key of unimplementedKeys(config, { drivers: options.drivers })) {
      const path = key.split(".");
      warnings.push(
        locate({
          path,
          message:
            unsupportedKeys.get(key) ??
            (path[0] === "storage" && path.length === 2 && !storageOptionKeys.has(path[1] ?? "")
              ? `the ${path[1]} storage driver is accepted but not implemented by Berth yet: \`berth serve\` cannot start with it${because(path[1])}`
              : "accepted but not implemented by Berth yet: it has no effect"),
          at: "key",
        }),
      );
    }
  }
  return { doc: normalized.doc, config, problems, warnings, locate };
}

/** Why a storage driver is not implemented, when drivers.ts says. */
function because(driver: string | undefined): string {
  const reason = driver === undefined ? undefined : unimplementedReason(driver);
  return reason === undefined ? "" : ` (${reason})`;
}

export function finish(analysis: Analysis): ValidationResult {
  const order = (a: Problem, b: Problem) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0);
  const problems = dedupe(analysis.problems).sort(order);
  const warnings = dedupe(analysis.warnings).sort(order);
  return { ok: problems.length === 0, config: analysis.config, problems, warnings };
}

function dedupe(list: Problem[]): Problem[] {
  const seen = new Set<string>();
  return list.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function isPrefix(prefix: KeyPath, path: KeyPath): boolean {
  return prefix.length <= path.length && prefix.every((part, i) => String(part) === String(path[i]));
}

/** Attributes a raw problem to the env var that set its value, or locates it in the file. */
function locator(sources: EnvSource[], positions: PositionMap | undefined): (raw: RawProblem) => Problem {
  return (raw) => {
    const path = formatPath(raw.path);
    let from: EnvSource | undefined;
    for (const source of sources) {
      if (isPrefix(source.path, raw.path) && (!from || source.path.length >= from.path.length)) from = source;
    }
    if (from) return { path, message: `${raw.message} (from ${from.name})`, source: "env", env: from.name };
    // Variables that set keys below this path had a hand in it too.
    const below = sources.filter((source) => raw.path.length > 0 && isPrefix(raw.path, source.path)).map((source) => source.name);
    const message = below.length > 0 ? `${raw.message} (${below.join(", ")} set keys here)` : raw.message;
    if (!positions) return { path, message, ...(below.length > 0 ? { source: "env" as const, env: below[0] } : {}) };
    const at = positions.locate(raw.path, raw.at ?? "value");
    return { path, message, ...(at ? { line: at.line, column: at.column } : {}), source: "file" };
  };
}
