import { EVENT_ID, SCALAR_STYLE, getScalarValue, load, type ScalarEvent } from "js-yaml";
import { yamlSchema } from "./env.js";
import { formatPath, walkYaml, type KeyPath } from "./positions.js";
import type { Problem } from "./problems.js";
import { redactConfig, REDACTED } from "./redact.js";

/*
 * config.yml as text for the console's editor: its secrets replaced by placeholders
 * (`"[redacted:storage.s3.secretkey]"`) with comments and formatting kept, and the real values
 * put back server-side where the edited text still holds an untouched placeholder.
 */
/** A scalar value of the document, with where its text is. */
interface ScalarAt {
  path: KeyPath;
  event: ScalarEvent;
  /** Source range of the whole written value (quotes, block header included). */
  start: number;
  end: number;
}

/** Every scalar value (not keys) of the first document, with its key path; [] when the text does not parse. */
function scalarsOf(text: string): ScalarAt[] {
  const out: ScalarAt[] = [];
  walkYaml(text, (event, path) => {
    if (event.type !== EVENT_ID.SCALAR) return;
    const range = scalarRange(text, event);
    if (range) out.push({ path, event, ...range });
  });
  return out;
}

/** The source range of a scalar's written value, or undefined for an empty (absent) value. */
function scalarRange(text: string, event: ScalarEvent): { start: number; end: number } | undefined {
  if (event.valueStart < 0) return undefined;
  switch (event.style) {
    case SCALAR_STYLE.SINGLE_QUOTED:
    case SCALAR_STYLE.DOUBLE_QUOTED:
      return { start: event.valueStart - 1, end: event.valueEnd + 1 };
    case SCALAR_STYLE.LITERAL_BLOCK:
    case SCALAR_STYLE.FOLDED_BLOCK: {
      // The content starts on the line after the `|`/`>` header: point at the header.
      const headerEnd = text.lastIndexOf("\n", event.valueStart - 1);
      const lineStart = text.lastIndexOf("\n", headerEnd - 1) + 1;
      const header = text.slice(lineStart, headerEnd);
      const match = /[|>][0-9+-]*\s*(#.*)?$/.exec(header);
      if (!match) return undefined;
      // Keep the final line break outside the range: the placeholder stays on the key's line.
      const end = text[event.valueEnd - 1] === "\n" ? event.valueEnd - 1 : event.valueEnd;
      return { start: lineStart + match.index, end };
    }
    default:
      if (event.valueEnd <= event.valueStart) return undefined;
      return { start: event.valueStart, end: event.valueEnd };
  }
}

function valueAt(doc: unknown, path: KeyPath): unknown {
  let value = doc;
  for (const part of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string | number, unknown>)[part];
  }
  return value;
}

function loadDocument(text: string): unknown {
  try {
    return load(text, { schema: yamlSchema });
  } catch {
    return undefined;
  }
}

/** The scalars `redactConfig` hides (the same rules as `berth config print` and the logs). */
function secretScalars(text: string): ScalarAt[] {
  const doc = loadDocument(text);
  if (doc === null || typeof doc !== "object") return [];
  const redacted = redactConfig(doc as Record<string, unknown>);
  return scalarsOf(text).filter(
    (scalar) => valueAt(redacted, scalar.path) === REDACTED && valueAt(doc, scalar.path) !== REDACTED,
  );
}

const placeholderPattern = /^\[redacted:(.+?)(, changed)?\]$/;

function placeholder(label: string, changed = false): string {
  // JSON strings are YAML double-quoted scalars.
  return JSON.stringify(`[redacted:${label}${changed ? ", changed" : ""}]`);
}

export interface RedactedText {
  text: string;
  /** Placeholder label (`storage.s3.secretkey`) → the original source of the value and its decoded text. */
  secrets: Map<string, { source: string; value: string }>;
}

/**
 * The file text with every secret value replaced by `"[redacted:<path>]"`, comments and
 * formatting kept. With `compare`, secrets whose value differs from the one under the same label
 * there are marked `, changed` (for diffs).
 */
export function redactText(text: string, compare?: Map<string, { value: string }>): RedactedText {
  const secrets = new Map<string, { source: string; value: string }>();
  let out = "";
  let at = 0;
  for (const scalar of secretScalars(text).sort((a, b) => a.start - b.start)) {
    if (scalar.start < at) continue;
    const label = formatPath(scalar.path);
    const value = getScalarValue(text, scalar.event);
    secrets.set(label, { source: text.slice(scalar.start, scalar.end), value });
    const changed = compare !== undefined && compare.get(label)?.value !== value;
    out += text.slice(at, scalar.start) + placeholder(label, changed);
    at = scalar.end;
  }
  return { text: out + text.slice(at), secrets };
}

interface Replacement {
  /** Range in the edited text. */
  start: number;
  end: number;
  text: string;
}

export interface RestoredText {
  text: string;
  /** Placeholders that cannot be put back (unknown, or moved to a key that is not secret). */
  problems: Problem[];
  /** Maps a line of the restored text back to the line of the edited text. */
  lineOf(restoredLine: number): number;
  /** Replaces restored secret values in a message by their placeholders. */
  scrub(message: string): string;
}

const lineCount = (text: string): number => {
  let count = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) count++;
  return count;
};

/**
 * Puts the secrets of `currentText` (the file on disk) back where the edited text still holds
 * their placeholders. A placeholder is only restored at a key that is itself secret, so a secret
 * can never be moved to where the editor would show it.
 */
export function restoreText(edited: string, currentText: string): RestoredText {
  const { secrets } = redactText(currentText);
  const problems: Problem[] = [];
  const replacements: Replacement[] = [];
  const scalars = scalarsOf(edited);
  const withPlaceholders = scalars.filter((scalar) => placeholderPattern.test(getScalarValue(edited, scalar.event)));
  const editedDoc = withPlaceholders.length > 0 ? loadDocument(edited) : undefined;
  const redactedEdited = editedDoc !== null && typeof editedDoc === "object" ? redactConfig(editedDoc as Record<string, unknown>) : undefined;
  const position = (offset: number) => {
    const before = edited.slice(0, offset);
    return { line: lineCount(before) + 1, column: offset - before.lastIndexOf("\n") };
  };
  for (const scalar of withPlaceholders) {
    const match = placeholderPattern.exec(getScalarValue(edited, scalar.event));
    const label = match?.[1] ?? "";
    const secret = secrets.get(label);
    const path = formatPath(scalar.path);
    if (!secret) {
      problems.push({ path, message: `${placeholder(label)} is not a secret of the current file: type the value`, ...position(scalar.start), source: "file" });
    } else if (valueAt(redactedEdited, scalar.path) !== REDACTED) {
      problems.push({ path, message: `the secret of ${label} can only be kept at a secret key; ${path} is not one: type the value`, ...position(scalar.start), source: "file" });
    } else {
      replacements.push({ start: scalar.start, end: scalar.end, text: secret.source });
    }
  }
  replacements.sort((a, b) => a.start - b.start);
  let text = "";
  let at = 0;
  const spans: { editedLine: number; editedLines: number; restoredLines: number }[] = [];
  for (const replacement of replacements) {
    text += edited.slice(at, replacement.start);
    spans.push({
      editedLine: lineCount(edited.slice(0, replacement.start)) + 1,
      editedLines: lineCount(edited.slice(replacement.start, replacement.end)),
      restoredLines: lineCount(replacement.text),
    });
    text += replacement.text;
    at = replacement.end;
  }
  text += edited.slice(at);
  const values = [...secrets.entries()].filter(([, secret]) => secret.value.length >= 4).sort((a, b) => b[1].value.length - a[1].value.length);
  return {
    text,
    problems,
    lineOf(restoredLine) {
      let delta = 0;
      for (const span of spans) {
        const restoredStart = span.editedLine + delta;
        if (restoredLine < restoredStart) break;
        if (restoredLine <= restoredStart + span.restoredLines) return span.editedLine + Math.min(restoredLine - restoredStart, span.editedLines);
        delta += span.restoredLines - span.editedLines;
      }
      return restoredLine - delta;
    },
    scrub(message) {
      let out = message;
      for (const [label, secret] of values) out = out.split(secret.value).join(`[redacted:${label}]`);
      return out;
    },
  };
}
