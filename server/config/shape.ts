import { schemaNote, type SchemaNote } from "./schema.js";

/**
 * The structure of a zod schema as the env mapper and the unknown-key check need it: which keys
 * a mapping has, whether it is open (a map in distribution), and what lists and maps contain.
 * Wrappers (optional, default, preprocess pipes, transforms) are looked through.
 */
export type Shape =
  | { kind: "object"; keys: Map<string, unknown>; note: SchemaNote }
  | { kind: "record"; value: unknown; note: SchemaNote }
  | { kind: "array"; element: unknown }
  | { kind: "leaf"; note: SchemaNote };

interface Def {
  type: string;
  innerType?: unknown;
  in?: unknown;
  out?: unknown;
  shape?: Record<string, unknown>;
  valueType?: unknown;
  element?: unknown;
  getter?: () => unknown;
}

function defOf(schema: unknown): Def | undefined {
  return (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}

export function shapeOf(schema: unknown): Shape {
  let current = schema;
  let note: SchemaNote = {};
  for (let depth = 0; depth < 32; depth++) {
    note = { ...schemaNote(current), ...note };
    const def = defOf(current);
    if (!def) return { kind: "leaf", note };
    switch (def.type) {
      case "optional":
      case "nullable":
      case "default":
      case "prefault":
      case "catch":
      case "readonly":
      case "nonoptional":
        current = def.innerType;
        continue;
      case "lazy":
        current = def.getter?.();
        continue;
      case "pipe":
        // z.preprocess(fn, schema) is pipe(transform, schema); x.transform(fn) is pipe(x, transform).
        current = defOf(def.in)?.type === "transform" ? def.out : def.in;
        continue;
      case "object":
        return { kind: "object", keys: new Map(Object.entries(def.shape ?? {})), note };
      case "record":
        return { kind: "record", value: def.valueType, note };
      case "array":
        return { kind: "array", element: def.element };
      default:
        return { kind: "leaf", note };
    }
  }
  return { kind: "leaf", note };
}

/** Is `value` a plain mapping (as YAML loads one)? */
export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
