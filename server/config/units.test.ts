import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatDuration, parseDuration, parseSize } from "./units.js";

describe("parseDuration", () => {
  test("reads Go durations into milliseconds", () => {
    assert.equal(parseDuration("300s"), 300_000);
    assert.equal(parseDuration("1h"), 3_600_000);
    assert.equal(parseDuration("24h0m0s"), 86_400_000);
    assert.equal(parseDuration("168h"), 604_800_000);
    assert.equal(parseDuration("1h30m"), 5_400_000);
    assert.equal(parseDuration("1.5h"), 5_400_000);
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("1m30s"), 90_000);
    assert.equal(parseDuration("250us"), 0.25);
    assert.equal(parseDuration("250\u00b5s"), 0.25);
    assert.equal(parseDuration("1000000ns"), 1);
    assert.equal(parseDuration("-1h"), -3_600_000);
    assert.equal(parseDuration("0"), 0);
    assert.equal(parseDuration(" 10s "), 10_000);
  });

  test("rejects what Go rejects, saying why", () => {
    assert.throws(() => parseDuration(""), /empty/);
    assert.throws(() => parseDuration("5"), /missing unit/);
    assert.throws(() => parseDuration("abc"), /invalid duration "abc"/);
    assert.throws(() => parseDuration("1d"), /invalid duration/);
    assert.throws(() => parseDuration("1h x"), /invalid duration/);
    assert.throws(() => parseDuration("h"), /invalid duration/);
  });
});

describe("parseSize", () => {
  test("reads byte counts, numeric strings and binary units", () => {
    assert.equal(parseSize(5242880), 5242880);
    assert.equal(parseSize("5242880"), 5242880);
    assert.equal(parseSize("5MiB"), 5242880);
    assert.equal(parseSize("5MB"), 5242880);
    assert.equal(parseSize("5m"), 5242880);
    assert.equal(parseSize("1.5k"), 1536);
    assert.equal(parseSize("2 GiB"), 2 * 1024 ** 3);
    assert.equal(parseSize("10b"), 10);
  });

  test("rejects garbage, negatives and fractions of a byte", () => {
    assert.throws(() => parseSize("optional size valye"), /invalid size/);
    assert.throws(() => parseSize(-1), /non-negative/);
    assert.throws(() => parseSize(1.5), /whole/);
    assert.throws(() => parseSize("1.3b"), /whole number of bytes/);
    assert.throws(() => parseSize("5xb"), /invalid size/);
  });
});

describe("formatDuration", () => {
  test("writes durations parseDuration reads back", () => {
    for (const text of ["24h", "1h30m", "5m", "1m30s", "300ms", "1.5ms", "0s", "168h", "1h0m1s"]) {
      const ms = parseDuration(text);
      assert.equal(parseDuration(formatDuration(ms)), ms, text);
    }
    assert.equal(formatDuration(86_400_000), "24h");
    assert.equal(formatDuration(90_000), "1m30s");
    assert.equal(formatDuration(0.000_5), "500ns");
  });
});
