/** A line diff of two texts in unified format, for the console's "diff against running". */
export interface DiffResult {
  /** `diff -u` text; "" when nothing changed. */
  unified: string;
  added: number;
  removed: number;
}

type DiffOp = { kind: " " | "-" | "+"; text: string; a: number; b: number };

/** Line operations turning `a` into `b` (longest common subsequence; trims the common ends first). */
function diffLines(a: string[], b: string[]): DiffOp[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const aMid = a.slice(head, a.length - tail);
  const bMid = b.slice(head, b.length - tail);
  const ops: DiffOp[] = [];
  for (let i = 0; i < head; i++) ops.push({ kind: " ", text: a[i] ?? "", a: i, b: i });
  const n = aMid.length;
  const m = bMid.length;
  if (n * m > 16_000_000) {
    // Too large for the table: everything in the middle changed.
    aMid.forEach((text, i) => ops.push({ kind: "-", text, a: head + i, b: head }));
    bMid.forEach((text, j) => ops.push({ kind: "+", text, a: head + n, b: head + j }));
  } else {
    // lcs[i][j] = LCS length of aMid[i..] and bMid[j..]
    const width = m + 1;
    const lcs = new Uint32Array((n + 1) * width);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * width + j] = aMid[i] === bMid[j] ? (lcs[(i + 1) * width + j + 1] ?? 0) + 1 : Math.max(lcs[(i + 1) * width + j] ?? 0, lcs[i * width + j + 1] ?? 0);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && aMid[i] === bMid[j]) {
        ops.push({ kind: " ", text: aMid[i] ?? "", a: head + i, b: head + j });
        i++;
        j++;
      } else if (i < n && (j === m || (lcs[(i + 1) * width + j] ?? 0) >= (lcs[i * width + j + 1] ?? 0))) {
        ops.push({ kind: "-", text: aMid[i] ?? "", a: head + i, b: head + j });
        i++;
      } else {
        ops.push({ kind: "+", text: bMid[j] ?? "", a: head + i, b: head + j });
        j++;
      }
    }
  }
  for (let k = 0; k < tail; k++) ops.push({ kind: " ", text: a[a.length - tail + k] ?? "", a: a.length - tail + k, b: b.length - tail + k });
  return ops;
}

/** A `diff -u` of two texts with `context` lines around each change. */
export function unifiedDiff(before: string, after: string, names: { from: string; to: string }, context = 3): DiffResult {
  const split = (text: string) => (text === "" ? [] : text.replace(/\n$/, "").split("\n"));
  const ops = diffLines(split(before), split(after));
  const changed = ops.map((op, index) => (op.kind === " " ? -1 : index)).filter((index) => index >= 0);
  if (changed.length === 0) return { unified: "", added: 0, removed: 0 };
  const lines = [`--- ${names.from}`, `+++ ${names.to}`];
  let k = 0;
  while (k < changed.length) {
    const first = changed[k] ?? 0;
    let last = first;
    while (k + 1 < changed.length && (changed[k + 1] ?? 0) - last <= 2 * context + 1) last = changed[++k] ?? last;
    k++;
    const start = Math.max(0, first - context);
    const end = Math.min(ops.length - 1, last + context);
    const hunk = ops.slice(start, end + 1);
    const aCount = hunk.filter((op) => op.kind !== "+").length;
    const bCount = hunk.filter((op) => op.kind !== "-").length;
    const aStart = (hunk[0]?.a ?? 0) + (aCount > 0 ? 1 : 0);
    const bStart = (hunk[0]?.b ?? 0) + (bCount > 0 ? 1 : 0);
    lines.push(`@@ -${aStart},${aCount} +${bStart},${bCount} @@`);
    for (const op of hunk) lines.push(op.kind + op.text);
  }
  return {
    unified: lines.join("\n") + "\n",
    added: ops.filter((op) => op.kind === "+").length,
    removed: ops.filter((op) => op.kind === "-").length,
  };
}
