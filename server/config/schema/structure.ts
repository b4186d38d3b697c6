import { z } from "zod";
import { note, type SchemaNote } from "./note.js";
import { describeValue } from "./scalars.js";

// Structure helpers: sections, and what absent or empty (`key:`) values mean.
export function section<S extends z.core.$ZodLooseShape>(shape: S, options: SchemaNote = {}) {
  return note(z.looseObject(shape, { error: (iss) => `expected a mapping, got ${describeValue(iss.input)}` }), options);
}

/** Absent or empty (`key:`) → undefined. */
export function optional<S extends z.ZodType>(schema: S) {
  return z.preprocess((value) => (value === null ? undefined : value), schema.optional());
}

/** Absent → undefined; empty (`s3:`) → `{}` so the section's own required keys are reported. */
export function optionalParams<S extends z.ZodType>(schema: S) {
  return z.preprocess((value) => (value === null ? {} : value), schema.optional());
}

/** Absent or empty → the section with all its defaults. */
export function always<S extends z.ZodType>(schema: S) {
  return z.preprocess((value) => value ?? {}, schema);
}

export function withDefault<S extends z.ZodType>(schema: S, value: z.output<S>) {
  return z.preprocess((v) => (v === null ? undefined : v), schema.default(value as never));
}

/** `name` → `{ name: {} }` (a driver or auth method written without parameters). */
export function scalarAsKey(value: unknown): unknown {
  if (typeof value === "string" && value.trim() !== "") return { [value.trim()]: {} };
  return value ?? {};
}
