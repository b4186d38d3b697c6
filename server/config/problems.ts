import type { KeyPath } from "./positions.js";

/** One thing wrong with (or worth knowing about) a configuration. */
export interface Problem {
  /** Key path, e.g. `storage.s3.bucket` or `notifications.endpoints[0].url`; "" for the whole file. */
  path: string;
  message: string;
  /** 1-based line in the file, when the problem can be pointed at. */
  line?: number;
  /** 1-based column in the file. */
  column?: number;
  /** Whether the offending value came from the file or from a `REGISTRY_*` variable. */
  source?: "file" | "env";
  /** The environment variable the value came from (its name is also in `message`). */
  env?: string;
}

export interface ValidationResult {
  /** No problems (warnings allowed). */
  ok: boolean;
  /** The parsed configuration, when the schema accepted the document (even if checks failed). */
  config?: import("./schema.js").Config;
  problems: Problem[];
  warnings: Problem[];
}

/** A problem before it is located in the file or attributed to an env var. */
export interface RawProblem {
  path: KeyPath;
  message: string;
  /** Point at the key rather than at its value (unknown keys, whole sections). */
  at?: "key" | "value";
}

/** "config.yml:12:5: storage.s3.chunksize: must be at least ... (from REGISTRY_STORAGE_S3_CHUNKSIZE)". */
export function formatProblem(problem: Problem, file?: string): string {
  const where =
    problem.source === "file" && file !== undefined
      ? `${file}${problem.line !== undefined ? `:${problem.line}:${problem.column ?? 1}` : ""}: `
      : problem.source === "file" && problem.line !== undefined
        ? `line ${problem.line}, column ${problem.column ?? 1}: `
        : "";
  return `${where}${problem.path ? `${problem.path}: ` : ""}${problem.message}`;
}
