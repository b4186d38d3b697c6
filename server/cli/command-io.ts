import { ConfigError, loadConfigWithWarnings } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { knownDrivers } from "../registry/storage/factory.js";

/** Where a command writes; tests pass their own to capture it. */
export interface CommandIO {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIO: CommandIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/**
 * The configuration a command runs on (file + REGISTRY_* overrides, validated); an invalid one
 * is reported on `io.err` with every problem, and undefined returned (exit status 1).
 */
export async function loadCommandConfig(file: string | undefined, io: CommandIO): Promise<Config | undefined> {
  try {
    return (await loadConfigWithWarnings(file, { drivers: knownDrivers() })).config;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`${error.message}\n`);
      return undefined;
    }
    throw error;
  }
}
