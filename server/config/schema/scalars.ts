import { z } from "zod";
import { note } from "./note.js";
import { parseDuration, parseSize } from "../units.js";

// Scalars: leaves that coerce the raw YAML (or REGISTRY_* environment) value the way distribution reads it.
export class Failure {
  constructor(readonly message: string) {}
}

export function describeValue(value: unknown): string {
  if (value === null) return "an empty value";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "string":
      return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
    case "number":
      return `the number ${value}`;
    case "boolean":
      return `the boolean ${value}`;
    case "object":
      return "a mapping";
    default:
      return typeof value;
  }
}

/** A leaf: `convert` turns the raw YAML value into T or explains why it cannot. */
export function leaf<T>(what: string, convert: (value: unknown) => T | Failure) {
  return z.unknown().transform((value, ctx): T => {
    const result =
      value === undefined
        ? new Failure("is required")
        : value === null
          ? new Failure(`is empty; expected ${what}`)
          : convert(value);
    if (result instanceof Failure) {
      ctx.issues.push({ code: "custom", message: result.message, input: value });
      return z.NEVER;
    }
    return result;
  });
}

const boolWords = new Map<string, boolean>([
  ["true", true],
  ["t", true],
  ["yes", true],
  ["y", true],
  ["on", true],
  ["1", true],
  ["false", false],
  ["f", false],
  ["no", false],
  ["n", false],
  ["off", false],
  ["0", false],
]);

export function toBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") return boolWords.get(value.trim().toLowerCase());
  return undefined;
}

export const bool = () =>
  leaf("a boolean (true or false)", (value) => toBoolean(value) ?? new Failure(`expected a boolean (true or false), got ${describeValue(value)}`));

export function toText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

export const str = () =>
  leaf("a string", (value) => toText(value) ?? new Failure(`expected a string, got ${describeValue(value)}`));

export const nonEmptyStr = () =>
  leaf("a string", (value) => {
    const text = toText(value);
    if (text === undefined) return new Failure(`expected a string, got ${describeValue(value)}`);
    return text === "" ? new Failure("must not be empty") : text;
  });

export interface Range {
  min?: number;
  max?: number;
}

function checkRange(n: number, range: Range, unit = ""): number | Failure {
  if (range.min !== undefined && n < range.min) return new Failure(`must be at least ${range.min}${unit} (got ${n}${unit})`);
  if (range.max !== undefined && n > range.max) return new Failure(`must be at most ${range.max}${unit} (got ${n}${unit})`);
  return n;
}

export const int = (range: Range = {}) =>
  leaf("a whole number", (value) => {
    const n = typeof value === "number" ? value : typeof value === "string" && /^\s*[-+]?\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n)) return new Failure(`expected a whole number, got ${describeValue(value)}`);
    return checkRange(n, range);
  });

/** Bytes: a number, a numeric string, or a number with a unit (see `parseSize`). */
export const size = (range: Range = {}) =>
  leaf("a size in bytes", (value) => {
    if (typeof value !== "number" && typeof value !== "string") {
      return new Failure(`expected a size in bytes, got ${describeValue(value)}`);
    }
    try {
      return checkRange(parseSize(value), range, " bytes");
    } catch (error) {
      return new Failure((error as Error).message);
    }
  });

/** Milliseconds, from a Go duration string; a bare number is nanoseconds (Go's time.Duration). */
export const duration = (range: Range = { min: 0 }) =>
  note(leaf('a duration such as "300s" or "24h0m0s"', (value) => {
    let ms: number;
    if (typeof value === "number") ms = value / 1e6;
    else if (typeof value === "string") {
      try {
        ms = parseDuration(value);
      } catch (error) {
        return new Failure((error as Error).message);
      }
    } else return new Failure(`expected a duration such as "300s" or "24h0m0s", got ${describeValue(value)}`);
    if (range.min !== undefined && ms < range.min) return new Failure(`must not be negative (got ${JSON.stringify(value)})`);
    return ms;
  }), { duration: true });

/** One of `values`, case-insensitive; `aliases` map other accepted spellings onto them. */
export function oneOf<const T extends string>(values: readonly T[], aliases: Record<string, T> = {}) {
  const list = values.join(", ");
  return leaf(`one of ${list}`, (value): T | Failure => {
    const text = toText(value);
    const key = text?.trim().toLowerCase();
    const found = values.find((v) => v.toLowerCase() === key) ?? (key !== undefined && Object.hasOwn(aliases, key) ? aliases[key] : undefined);
    return found ?? new Failure(`expected one of ${list}, got ${describeValue(value)}`);
  });
}

/** An absolute URL (`https://registry.example.com`). */
export const absoluteUrl = (protocols: readonly string[] = ["http:", "https:"]) =>
  leaf("an absolute URL", (value) => {
    const text = toText(value);
    if (text === undefined) return new Failure(`expected an absolute URL, got ${describeValue(value)}`);
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return new Failure(`must be an absolute URL such as "https://registry.example.com" (got ${JSON.stringify(text)})`);
    }
    if (!protocols.includes(url.protocol)) {
      return new Failure(`must be an ${protocols.map((p) => p.slice(0, -1)).join(" or ")} URL (got ${JSON.stringify(text)})`);
    }
    return text;
  });

/** A list of strings; a single string is accepted as a one-item list. */
export const strList = () =>
  z.preprocess((value) => (typeof value === "string" ? [value] : value), z.array(str(), { error: (iss) => `expected a list of strings, got ${describeValue(iss.input)}` }));

/** HTTP headers as distribution writes them: `Name: [value, ...]` (a single string is accepted). */
export const headers = () =>
  note(
    z.record(
      z.string(),
      z.preprocess((value) => (typeof value === "string" ? [value] : value), z.array(str(), { error: (iss) => `expected a list of header values, got ${describeValue(iss.input)}` })),
      { error: (iss) => `expected a mapping of header names to lists of values, got ${describeValue(iss.input)}` },
    ),
    { open: true },
  );

export const anyMap = () =>
  note(z.record(z.string(), z.unknown(), { error: (iss) => `expected a mapping, got ${describeValue(iss.input)}` }), { open: true });
