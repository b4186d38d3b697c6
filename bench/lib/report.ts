/** Figures, their comparison with the targets, and the two outputs: a table and a JSON file. */

export type Better = "higher" | "lower";

export type Target =
  /** Berth/distribution must be at least this (throughputs). */
  | { kind: "ratio-min"; value: number }
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
  samples: { berth: number[]; distribution: number[] };
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

export type Verdict = "pass" | "FAIL" | "n/a" | "";

export function verdict(r: Row): Verdict {
  if (!r.target) return "";
  if (r.target.kind === "berth-max") return r.berth === null ? "n/a" : r.berth <= r.target.value ? "pass" : "FAIL";
  if (r.target.kind === "berth-min") return r.berth === null ? "n/a" : r.berth >= r.target.value ? "pass" : "FAIL";
  const q = ratio(r);
  if (q === null) return "n/a";
  return (r.target.kind === "ratio-min" ? q >= r.target.value : q <= r.target.value) ? "pass" : "FAIL";
}

export function targetText(r: Row): string {
  if (!r.target) return "—";
  switch (r.target.kind) {
    case "ratio-min":
      return `≥ ${r.target.value}×`;
    case "ratio-max":
      return `≤ ${r.target.value}×`;
    case "berth-max":
      return `Berth ≤ ${r.target.value} ${r.unit}`;
    case "berth-min":
      return `Berth ≥ ${r.target.value} ${r.unit}`;
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

const headers = ["#", "measurement", "unit", "Berth", "distribution", "Berth/dist", "better", "target", "result"];

function cells(r: Row): string[] {
  return [
    r.section,
    r.metric,
    r.unit,
    formatValue(r.berth),
    formatValue(r.distribution),
    formatRatio(ratio(r)),
    r.better === "higher" ? "higher" : "lower",
    targetText(r),
    verdict(r),
  ];
}

/** A fixed-width table for the terminal. */
export function textTable(rows: Row[]): string {
  const body = rows.map(cells);
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((c) => (c[i] ?? "").length)));
  const numeric = new Set([3, 4, 5]);
  const line = (c: string[]): string =>
    c.map((text, i) => (numeric.has(i) ? text.padStart(widths[i]!) : text.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/** The same table in Markdown, for docs/benchmarks.md. */
export function markdownTable(rows: Row[]): string {
  const out = [`| ${headers.join(" | ")} |`, `| ${headers.map((_, i) => ([3, 4, 5].includes(i) ? "---:" : "---")).join(" | ")} |`];
  for (const r of rows) out.push(`| ${cells(r).join(" | ")} |`);
  return out.join("\n");
}
