/**
 * Locating external binaries, so tests that need skopeo or docker-registry can say exactly what is
 * missing instead of failing with ENOENT halfway through.
 */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

/** Absolute path of an executable found on PATH (or the path itself when given one), else null. */
export function findCommand(name: string, extraDirs: string[] = []): string | null {
  const candidates = isAbsolute(name)
    ? [name]
    : [...(process.env.PATH ?? "").split(delimiter), ...extraDirs].filter(Boolean).map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; keep looking.
    }
  }
  return null;
}

export function hasCommand(name: string): boolean {
  return findCommand(name) !== null;
}

/** A skip reason for `test(..., { skip })`, or false when every command is available. */
export function missingCommands(...names: string[]): string | false {
  const missing = names.filter((name) => !hasCommand(name));
  return missing.length === 0 ? false : `missing command(s) on PATH: ${missing.join(", ")}`;
}
