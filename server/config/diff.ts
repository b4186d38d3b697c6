import { FILE_HEADERS_ONLY, formatPatch, structuredPatch, type StructuredPatch } from "diff";

/** A line diff of two texts in unified format, for the console's "diff against running". */
export interface DiffResult {
  /** `diff -u` text; "" when nothing changed. */
  unified: string;
  added: number;
  removed: number;
}

/** Inputs reach 1 MB: past this, two very different files are shown as replaced outright. */
const diffTimeoutMs = 2_000;

/** A `diff -u` of two texts with `context` lines around each change. */
export function unifiedDiff(before: string, after: string, names: { from: string; to: string }, context = 3): DiffResult {
  // A missing final newline is not a change worth a "\ No newline at end of file" line here.
  const a = linesOf(before);
  const b = linesOf(after);
  const patch =
    structuredPatch(names.from, names.to, a.join(""), b.join(""), undefined, undefined, { context, timeout: diffTimeoutMs }) ??
    replacedOutright(names, a, b);
  if (patch.hunks.length === 0) return { unified: "", added: 0, removed: 0 };
  const lines = patch.hunks.flatMap((hunk) => hunk.lines);
  return {
    unified: formatPatch(patch, FILE_HEADERS_ONLY),
    added: lines.filter((line) => line.startsWith("+")).length,
    removed: lines.filter((line) => line.startsWith("-")).length,
  };
}

function linesOf(text: string): string[] {
  return text === "" ? [] : text.replace(/\n?$/, "\n").split(/(?<=\n)/);
}

function replacedOutright(names: { from: string; to: string }, a: string[], b: string[]): StructuredPatch {
  const strip = (line: string) => line.slice(0, -1);
  return {
    oldFileName: names.from,
    newFileName: names.to,
    oldHeader: undefined,
    newHeader: undefined,
    hunks: [
      {
        oldStart: a.length > 0 ? 1 : 0,
        oldLines: a.length,
        newStart: b.length > 0 ? 1 : 0,
        newLines: b.length,
        lines: [...a.map((line) => `-${strip(line)}`), ...b.map((line) => `+${strip(line)}`)],
      },
    ],
  };
}
