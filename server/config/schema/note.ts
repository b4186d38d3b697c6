import type { z } from "zod";

// Introspection notes: the env override mapper and the unknown-key check walk the schema.

export interface SchemaNote {
  /**
   * A map in distribution (`Parameters`): environment variables may create keys the schema does
   * not know, exactly as distribution does for storage drivers and auth methods.
   */
  open?: boolean;
  /** Unknown keys here are reported elsewhere (as problems), not as "unknown key" warnings. */
  skipUnknownKeyWarnings?: boolean;
  /** A bare string `x` stands for `{ x: {} }` (`storage: inmemory`). */
  scalarAsKey?: boolean;
  /** distribution matches env names against Go field names; these differ from the YAML keys. */
  envAliases?: Record<string, string>;
  /** A duration leaf: parsed to milliseconds, printed back as a Go duration. */
  duration?: boolean;
}

const notes = new WeakMap<object, SchemaNote>();

export function note<T extends z.ZodType>(schema: T, value: SchemaNote): T {
  notes.set(schema, value);
  return schema;
}

export function schemaNote(schema: unknown): SchemaNote | undefined {
  return typeof schema === "object" && schema !== null ? notes.get(schema) : undefined;
}
