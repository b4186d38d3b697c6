/**
 * Figures, their comparison with the targets, and the two outputs: a table and a JSON file.
 * A figure is the median of its rounds' samples, shown with their min–max; a comparison is
 * the ratio of the two medians (not of the best runs).
 */
import type { Samples } from "./rounds.js";

export type Better = "higher" | "lower";

export type Target =
  /**
   * Berth/distribution must be at least this (throughputs); with `p99`, Berth's median p99
   * latency must also be at most distribution's.
   */
  | { kind: "ratio-min"; value: number; p99?: "at-most-distribution" }
  /** Berth/distribution must be at most this (latencies). */
  | { kind: "ratio-max"; value: number }
  /** Berth's own value must be at most this, in the row's unit. */
  | { kind: "berth-max"; value: number }
  /** Berth's own value must be at least this, in the row's unit. */
  | { kind: "berth-min"; value: number };

export interface Row {
  section: string;
  metric: string;
  unit: string;
  better: Better;
  /** The figure compared: a median of `samples` unless the row says otherwise. */
  berth: number | null;
  distribution: number | null;
  samples: Samples;
  /** p99 latency per round, ms (load runs of many small requests). */
  p99?: Samples;
  target?: Target;
  note?: string;
  /** Extra measurements kept in the JSON only (latency percentiles, status counts...). */
  details?: Record<string, unknown>;
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function row(fields: Omit<Row, "berth" | "distribution"> & { berth?: number | null; distribution?: number | null }): Row {
  return {
    ...fields,
    berth: fields.berth !== undefined ? fields.berth : median(fields.samples.berth),
    distribution: fields.distribution !== undefined ? fields.distribution : median(fields.samples.distribution),
  };
}

export function ratio(r: Row): number | null {
  if (r.berth === null || r.distribution === null || r.distribution === 0) return null;
  return r.berth / r.distribution;
}

/** Min and max of a side's samples, or undefined when it has none. */
export function spread(values: number[]): [number, number] | undefined {
  return values.length === 0 ? undefined : [Math.min(...values), Math.max(...values)];
}

/**
 * Berth/distribution per round, for the rounds where both sides have a sample: the
 * interleaved rounds pair up, so their spread is the spread of the comparison itself.
 */
export function roundRatios(r: Row): number[] {
  const { berth, distribution } = r.samples;
  const out: number[] = [];
  for (let i = 0; i < Math.min(berth.length, distribution.length); i++) if (distribution[i]! !== 0) out.push(berth[i]! / distribution[i]!);
  return out;
}

export function p99Medians(r: Row): { berth: number | null; distribution: number | null } | undefined {
  return r.p99 && { berth: median(r.p99.berth), distribution: median(r.p99.distribution) };
}

export type Verdict = "met" | "MISSED" | "n/a" | "";

export function verdict(r: Row): Verdict {
  const t = r.target;
  if (!t) return "";
  const check = (ok: boolean | null): Verdict => (ok === null ? "n/a" : ok ? "met" : "MISSED");
  if (t.kind === "berth-max") return check(r.berth === null ? null : r.berth <= t.value);
  if (t.kind === "berth-min") return check(r.berth === null ? null : r.berth >= t.value);
  const q = ratio(r);
  if (q === null) return "n/a";
  if (t.kind === "ratio-max") return check(q <= t.value);
  if (t.p99) {
    const p = p99Medians(r);
    if (!p || p.berth === null || p.distribution === null) return "n/a";
    return check(q >= t.value && p.berth <= p.distribution);
  }
  return check(q >= t.value);
}

const round3 = (value: number): number => Number(value.toFixed(3));
const unitSuffix = (unit: string): string => (unit === "×" ? "×" : ` ${unit}`);

export function targetText(r: Row): string {
  if (!r.target) return "—";
  switch (r.target.kind) {
    case "ratio-min":
      return `≥ ${round3(r.target.value)}×${r.target.p99 ? ", p99 ≤ dist" : ""}`;
    case "ratio-max":
      return `≤ ${round3(r.target.value)}×`;
    case "berth-max":
      return `Berth ≤ ${r.target.value}${unitSuffix(r.unit)}`;
    case "berth-min":
      return `Berth ≥ ${r.target.value}${unitSuffix(r.unit)}`;
  }
}

export function formatValue(value: number | null): string {
  if (value === null) return "—";
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

export function formatRatio(q: number | null): string {
  if (q === null) return "—";
  return q >= 10 ? `${q.toFixed(0)}×` : q >= 0.995 ? `${q.toFixed(2)}×` : `${q.toFixed(3)}×`;
}

/** `median [min–max]` of one side; just the median when there is a single sample. */
export function formatFigure(value: number | null, values: number[]): string {
  const range = spread(values);
  if (value === null || !range || values.length < 2) return formatValue(value);
  return `${formatValue(value)} [${formatValue(range[0])}–${formatValue(range[1])}]`;
}

function p99Text(r: Row): string {
  const p = p99Medians(r);
  if (!p) return "";
  return `${formatValue(p.berth)} / ${formatValue(p.distribution)}`;
}

const headers = ["#", "measurement", "unit", "Berth", "distribution", "ratio of medians", "p99 ms B / d", "better", "target", "result"];
const numericColumns = new Set([3, 4, 5, 6]);

function cells(r: Row): string[] {
  const rounds = Math.max(r.samples.berth.length, r.samples.distribution.length);
  return [
    r.section,
    r.metric,
    `${r.unit}${rounds > 1 ? ` (${rounds})` : ""}`,
    formatFigure(r.berth, r.samples.berth),
    formatFigure(r.distribution, r.samples.distribution),
    formatRatio(ratio(r)),
    p99Text(r),
    r.better === "higher" ? "higher" : "lower",
    targetText(r),
    verdict(r),
  ];
}

/** A fixed-width table for the terminal. */
export function textTable(rows: Row[]): string {
  const body = rows.map(cells);
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((c) => (c[i] ?? "").length)));
  const line = (c: string[]): string =>
    c.map((text, i) => (numericColumns.has(i) ? text.padStart(widths[i]!) : text.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/** The same table in Markdown, for docs/benchmarks.md. */
export function markdownTable(rows: Row[]): string {
  const out = [`| ${headers.join(" | ")} |`, `| ${headers.map((_, i) => (numericColumns.has(i) ? "---:" : "---")).join(" | ")} |`];
  for (const r of rows) out.push(`| ${cells(r).join(" | ")} |`);
  return out.join("\n");
}
