import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { formatProblem, type Problem } from "./problems.js";
import { storageOptionKeys, type Config } from "./schema.js";
import { analyzeDocument, finish, validateConfigText, validateDocument, type ValidateOptions } from "./validate.js";

/** What Berth runs on when no config.yml is given: filesystem storage under ./data on :5000. */
export function defaultConfigDocument(): Record<string, unknown> {
  return {
    version: "0.1",
    log: { level: "info" },
    storage: { filesystem: { rootdirectory: "./data" }, delete: { enabled: true } },
    http: { addr: ":5000" },
  };
}

/**
 * An invalid configuration. `problems` holds one printable line per problem (with file, line
 * and column, or the `REGISTRY_*` variable); `details` the same problems structured.
 */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [message],
    readonly details: Problem[] = [],
    readonly warnings: Problem[] = [],
  ) {
    super(message);
    this.name = "ConfigError";
  }

  static from(details: Problem[], warnings: Problem[] = [], file?: string): ConfigError {
    const problems = details.map((problem) => formatProblem(problem, file));
    const subject = file ?? "configuration";
    const message = `invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"} in ${subject}):\n  ${problems.join("\n  ")}`;
    return new ConfigError(message, problems, details, warnings);
  }
}

export interface LoadedConfig {
  config: Config;
  /** Accepted but worth telling the operator (unknown keys, unimplemented features, deprecations). */
  warnings: Problem[];
  /** The same warnings, printable. */
  warningLines: string[];
}

export type LoadOptions = Omit<ValidateOptions, "file">;

/**
 * Reads `file` (or uses `defaultConfigDocument()`), applies `REGISTRY_*` overrides from the
 * environment and validates everything; throws a ConfigError listing every problem.
 */
export async function loadConfigWithWarnings(file?: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  let result;
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      const code = (error as { code?: string }).code;
      const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (error as Error).message;
      throw new ConfigError(`cannot read configuration file ${file}: ${reason}`);
    }
    result = await validateConfigText(text, { ...options, file });
  } else {
    result = await validateDocument(defaultConfigDocument(), options);
  }
  if (!result.ok || !result.config) throw ConfigError.from(result.problems, result.warnings, file);
  return { config: result.config, warnings: result.warnings, warningLines: result.warnings.map((w) => formatProblem(w, file)) };
}

/** `loadConfigWithWarnings` for callers that log nothing. */
export async function loadConfig(file?: string): Promise<Config> {
  return (await loadConfigWithWarnings(file)).config;
}

/**
 * Parses an in-memory document (no environment overrides, no file checks): the schema and the
 * cross-field rules. Throws a ConfigError listing every problem.
 */
export function parseConfig(document: unknown): Config {
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new ConfigError("invalid configuration: expected a mapping of configuration keys");
  }
  const result = finish(analyzeDocument(document as Record<string, unknown>, { env: {} }));
  if (!result.ok || !result.config) throw ConfigError.from(result.problems, result.warnings);
  return result.config;
}

export function storageDriverNames(config: Config): string[] {
  return Object.keys(config.storage).filter(
    (key) => !storageOptionKeys.has(key) && (config.storage as Record<string, unknown>)[key] !== undefined,
  );
}

/**
 * The configured driver's name and parameters. A relative filesystem root (the embedded default
 * says `./data`) is resolved against the working directory here, once for every caller: serve,
 * the CLI commands, the dry run and the index's storage fingerprint all mean the same directory.
 */
export function storageDriver(config: Config): { name: string; params: Record<string, unknown> } {
  const names = storageDriverNames(config);
  const [name] = names;
  if (!name) throw new ConfigError("storage: no storage driver configured");
  if (names.length > 1) throw new ConfigError(`storage: exactly one storage driver may be configured, found ${names.join(", ")}`);
  const params = ((config.storage as Record<string, unknown>)[name] ?? {}) as Record<string, unknown>;
  if (name === "filesystem" && typeof params.rootdirectory === "string") {
    return { name, params: { ...params, rootdirectory: resolve(params.rootdirectory) } };
  }
  return { name, params };
}
