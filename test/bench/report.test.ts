/**
 * The bench's reporting: medians with their spread, the ratio of medians, verdicts against
 * issue 23's targets (p99 included) and the SVG chart drawn from the same rows.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chartSvg } from "../../bench/lib/chart.js";
import { formatFigure, ratio, roundRatios, row, textTable, verdict } from "../../bench/lib/report.js";
import { applyTargets } from "../../bench/lib/targets.js";

const manifestRow = (p99: { berth: number[]; distribution: number[] }) =>
  row({
    section: "9",
    metric: "S3 manifest GET by tag, 64 conns, radosgw default",
    unit: "req/s",
    better: "higher",
    samples: { berth: [5000, 6000, 9000, 5500, 6500], distribution: [1000, 1100, 1200, 900, 1150] },
    p99,
  });

describe("bench report", () => {
  it("compares medians, not best runs, and shows each side's min–max", () => {
    const r = row({ section: "2", metric: "raw blob GET, 256 MiB", unit: "MB/s", better: "higher", samples: { berth: [100, 300, 120, 110, 130], distribution: [100, 100, 90, 95, 105] } });
    assert.equal(r.berth, 120);
    assert.equal(r.distribution, 100);
    assert.equal(ratio(r), 1.2);
    assert.equal(formatFigure(r.berth, r.samples.berth), "120 [100–300]");
    assert.deepEqual(roundRatios(r).map((q) => Number(q.toFixed(3))), [1, 3, 1.333, 1.158, 1.238]);
    const [targeted] = applyTargets([r]);
    assert.equal(verdict(targeted!), "met");
    assert.match(textTable([targeted!]), /120 \[100–300\].*1\.20×.*≥ 1\.2×\s+met/);
  });

  it("misses a throughput target met on ratio when Berth's p99 is above distribution's", () => {
    const [fast] = applyTargets([manifestRow({ berth: [10, 12, 11, 9, 10], distribution: [40, 50, 45, 44, 41] })]);
    const [slowTail] = applyTargets([manifestRow({ berth: [60, 70, 65, 66, 61], distribution: [40, 50, 45, 44, 41] })]);
    assert.equal(Number(ratio(fast!)!.toFixed(2)), 5.45);
    assert.equal(verdict(fast!), "met");
    assert.equal(verdict(slowTail!), "MISSED");
    assert.match(textTable([slowTail!]), /65\.0 \/ 44\.0.*p99 ≤ dist\s+MISSED/);
  });

  it("draws one bar per row measured on both registries, with whiskers and a target tick", () => {
    const rows = applyTargets([
      manifestRow({ berth: [10], distribution: [40] }),
      row({ section: "6", metric: "RSS (VmRSS) idle after start, with console", unit: "MiB", better: "lower", samples: { berth: [70, 72], distribution: [] } }),
      row({ section: "4", metric: "blob HEAD, 64 conns", unit: "req/s", better: "higher", samples: { berth: [2000, 2500], distribution: [1000, 1000] } }),
    ]);
    const svg = chartSvg(rows, "title <&>", "npm run bench");
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.ok(svg.trimEnd().endsWith("</svg>"));
    assert.ok(svg.includes("title &#60;&#38;&#62;"));
    assert.equal((svg.match(/<rect [^>]*fill="#(2e7d32|c62828|78909c)"/g) ?? []).length, 2);
    assert.ok(svg.includes("9. S3 manifest GET by tag") && svg.includes("4. blob HEAD") && !svg.includes("with console"));
    // A whisker (a line and two caps) per bar: both rows have several rounds.
    assert.equal((svg.match(/stroke="#222"/g) ?? []).length, 6);
    // Two target ticks (5× and 3×), drawn thick.
    assert.equal((svg.match(/stroke-width="3"/g) ?? []).length, 2);
  });
});
