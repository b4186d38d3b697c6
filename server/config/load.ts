import { readFile } from "node:fs/promises";
import { load as loadYaml } from "js-yaml";
import { configSchema, storageOptionKeys, type Config } from "./schema.js";

/** What Berth runs on when no config.yml is given: filesystem storage under ./data on :5000. */
export function defaultConfigDocument(): Record<string, unknown> {
  return {
    version: "0.1",
    log: { level: "info" },
    storage: { filesystem: { rootdirectory: "./data" }, delete: { enabled: true } },
    http: { addr: ":5000" },
  };
}

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [message],
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

export async function loadConfig(file?: string): Promise<Config> {
  const document = file ? parseYaml(await readFile(file, "utf8"), file) : defaultConfigDocument();
  return parseConfig(document);
}

function parseYaml(text: string, file: string): unknown {
  try {
    return loadYaml(text);
  } catch (error) {
    throw new ConfigError(`${file}: ${(error as Error).message}`);
  }
}

export function parseConfig(document: unknown): Config {
  const result = configSchema.safeParse(document);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`, problems);
  }
  const drivers = storageDriverNames(result.data);
  if (drivers.length !== 1) {
    const found = drivers.length === 0 ? "none" : drivers.join(", ");
    throw new ConfigError(`storage: exactly one storage driver must be configured (found ${found})`);
  }
  return result.data;
}

export function storageDriverNames(config: Config): string[] {
  return Object.keys(config.storage).filter((key) => !storageOptionKeys.has(key));
}

/** The configured driver's name and parameters. */
export function storageDriver(config: Config): { name: string; params: Record<string, unknown> } {
  const [name] = storageDriverNames(config);
  if (!name) throw new ConfigError("storage: no storage driver configured");
  const params = (config.storage as Record<string, unknown>)[name];
  return { name, params: (params ?? {}) as Record<string, unknown> };
}
