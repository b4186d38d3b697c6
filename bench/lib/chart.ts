/**
 * The comparison as an SVG bar chart (docs/bench-chart.svg): one bar per figure measured on
 * both registries, its length Berth's advantage (the ratio of medians, inverted where lower is
 * better, so right of 1× always means Berth is ahead), whiskers over the per-round ratios' min–max,
 * and the target as a tick. Log scale, since the figures range from a few percent to a hundredfold.
 */
import { ratio, roundRatios, spread, verdict, type Row } from "./report.js";

const WIDTH = 960;
const LABEL_WIDTH = 420;
const PLOT_LEFT = LABEL_WIDTH + 10;
const PLOT_RIGHT = WIDTH - 70;
const ROW_HEIGHT = 22;
const TOP = 92;
const BOTTOM = 40;

const colours = { met: "#2e7d32", MISSED: "#c62828", none: "#78909c" };

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Berth's advantage: the ratio where higher is better, its inverse where lower is. */
function advantage(r: Row, q: number): number {
  return r.better === "higher" ? q : 1 / q;
}

function targetAdvantage(r: Row): number | undefined {
  const t = r.target;
  if (!t || (t.kind !== "ratio-min" && t.kind !== "ratio-max")) return undefined;
  return r.better === "higher" ? t.value : 1 / t.value;
}

interface Bar {
  label: string;
  value: number;
  whisker?: [number, number];
  target?: number;
  colour: string;
}

function bars(rows: Row[]): Bar[] {
  const out: Bar[] = [];
  for (const r of rows) {
    const q = ratio(r);
    if (q === null || q <= 0) continue;
    const perRound = roundRatios(r).filter((x) => x > 0).map((x) => advantage(r, x));
    const v = verdict(r);
    out.push({
      label: `${r.section}. ${r.metric}`,
      value: advantage(r, q),
      whisker: perRound.length > 1 ? spread(perRound) : undefined,
      target: targetAdvantage(r),
      colour: v === "met" ? colours.met : v === "MISSED" ? colours.MISSED : colours.none,
    });
  }
  return out;
}

/** The chart for `rows`; `title` names the run (date, rounds), `command` what was run. */
export function chartSvg(rows: Row[], title: string, command: string): string {
  const data = bars(rows);
  const values = data.flatMap((b) => [b.value, ...(b.whisker ?? []), ...(b.target ? [b.target] : [])]);
  const lo = Math.floor(Math.log10(Math.min(1, ...values)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(1, ...values))));
  const x = (v: number): number => PLOT_LEFT + ((Math.log10(v) - lo) / (hi - lo)) * (PLOT_RIGHT - PLOT_LEFT);
  const height = TOP + data.length * ROW_HEIGHT + BOTTOM;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="10" y="38" fill="#555" font-family="monospace" font-size="11">${escapeXml(command)}</text>`,
    `<text x="10" y="56" fill="#555">Bar: Berth's advantage over distribution, the ratio of medians (inverted where lower is better; log scale, right of 1× = Berth ahead).</text>`,
    `<text x="10" y="72" fill="#555">Whiskers: min–max of the per-round ratios. Black tick: the issue-23 target. Green: target met, red: missed, grey: no target.</text>`,
  ];
  for (let p = lo; p <= hi; p++) {
    const px = x(10 ** p).toFixed(1);
    out.push(`<line x1="${px}" y1="${TOP - 6}" x2="${px}" y2="${height - BOTTOM}" stroke="${p === 0 ? "#000" : "#ddd"}"/>`);
    out.push(`<text x="${px}" y="${height - BOTTOM + 16}" text-anchor="middle">${10 ** p >= 1 ? 10 ** p : Number((10 ** p).toFixed(-p))}×</text>`);
  }
  data.forEach((b, i) => {
    const y = TOP + i * ROW_HEIGHT;
    const mid = y + ROW_HEIGHT / 2;
    const one = x(1);
    const end = x(b.value);
    out.push(`<text x="${LABEL_WIDTH}" y="${mid + 4}" text-anchor="end">${escapeXml(b.label)}</text>`);
    out.push(`<rect x="${Math.min(one, end).toFixed(1)}" y="${y + 4}" width="${Math.abs(end - one).toFixed(1)}" height="${ROW_HEIGHT - 8}" fill="${b.colour}"/>`);
    if (b.whisker) {
      const [a, c] = b.whisker.map((v) => x(v).toFixed(1));
      out.push(`<line x1="${a}" y1="${mid}" x2="${c}" y2="${mid}" stroke="#222"/>`);
      for (const w of [a, c]) out.push(`<line x1="${w}" y1="${mid - 4}" x2="${w}" y2="${mid + 4}" stroke="#222"/>`);
    }
    if (b.target) {
      const t = x(b.target).toFixed(1);
      out.push(`<line x1="${t}" y1="${y + 1}" x2="${t}" y2="${y + ROW_HEIGHT - 1}" stroke="#000" stroke-width="3"/>`);
    }
    const text = b.value >= 10 ? b.value.toFixed(0) : b.value.toFixed(2);
    out.push(`<text x="${PLOT_RIGHT + 6}" y="${mid + 4}">${text}×</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
