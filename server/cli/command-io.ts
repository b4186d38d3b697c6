import { parseArgs, type ParseArgsConfig } from "node:util";
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

type ParsedArgs<T extends ParseArgsConfig> = ReturnType<typeof parseArgs<T>>;

/**
 * A command's options and positionals, or the exit status it ends with instead: 2 for arguments
 * parseArgs refuses (the error and `usage` on io.err), 0 for `--help` (`usage` on io.out; the
 * command defines the option).
 */
export function parseCommandArgs<const T extends ParseArgsConfig>(command: string, usage: string, config: T, io: CommandIO): ParsedArgs<T> | number {
  let parsed: ParsedArgs<T>;
  try {
    parsed = parseArgs(config);
  } catch (error) {
    io.err(`${command}: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if ((parsed.values as { help?: unknown }).help === true) {
    io.out(usage);
    return 0;
  }
  return parsed;
}
