/**
 * Durations and sizes as distribution writes them in config.yml.
 *
 * Durations use Go's `time.ParseDuration` syntax ("300s", "1h30m", "24h0m0s", "1.5h", "500ms") and
 * come out in milliseconds (possibly fractional for ns/us). Sizes are byte counts; besides plain
 * numbers Berth also accepts a unit suffix ("5MiB", "5m", "10MB"), always with binary multiples
 * like Docker's own size parser (1 KB = 1024 bytes).
 */

const durationUnitsMs = new Map<string, number>([
  ["ns", 1e-6],
  ["us", 1e-3],
  ["\u00b5s", 1e-3], // micro sign
  ["\u03bcs", 1e-3], // Greek mu
  ["ms", 1],
  ["s", 1_000],
  ["m", 60_000],
  ["h", 3_600_000],
]);

const durationTerm = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/;

/** Parses a Go duration ("300s", "1h", "24h0m0s", "-1.5h") into milliseconds; throws on bad input. */
export function parseDuration(text: string): number {
  const source = text.trim();
  let rest = source;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    sign = rest.startsWith("-") ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw new Error(`invalid duration ${JSON.stringify(text)}: empty`);
  if (/^\d+(?:\.\d*)?$/.test(rest)) {
    throw new Error(`invalid duration ${JSON.stringify(text)}: missing unit (write e.g. "${rest}s"; units: ns, us, ms, s, m, h)`);
  }
  let total = 0;
  while (rest !== "") {
    const match = durationTerm.exec(rest);
    if (!match) {
      throw new Error(
        `invalid duration ${JSON.stringify(text)}: expected numbers with units such as "300s", "1h30m" or "24h0m0s" (units: ns, us, ms, s, m, h)`,
      );
    }
    total += Number(match[1]) * (durationUnitsMs.get(match[2] ?? "") ?? Number.NaN);
    rest = rest.slice(match[0].length);
  }
  return sign * total;
}

const sizeUnits = new Map<string, number>([
  ["", 1],
  ["b", 1],
  ["k", 1024],
  ["m", 1024 ** 2],
  ["g", 1024 ** 3],
  ["t", 1024 ** 4],
  ["p", 1024 ** 5],
]);

/**
 * Parses a byte size: a non-negative whole number (5242880), a numeric string ("5242880"), or a
 * number with a binary unit ("5MiB", "5MB", "5m", "1.5g"). Throws on anything else.
 */
export function parseSize(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new Error(`invalid size ${value}: expected a whole, non-negative number of bytes`);
    }
    return value;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$/i.exec(value);
  if (!match) {
    throw new Error(`invalid size ${JSON.stringify(value)}: expected bytes (5242880) or a number with a unit (5MiB, 5MB, 5m)`);
  }
  const unit = (match[2] ?? "").toLowerCase();
  if (unit === "" && (match[3] ?? "").toLowerCase() === "ib") {
    throw new Error(`invalid size ${JSON.stringify(value)}: unknown unit`);
  }
  const bytes = Number(match[1]) * (sizeUnits.get(unit) ?? Number.NaN);
  if (!Number.isSafeInteger(bytes)) {
    throw new Error(`invalid size ${JSON.stringify(value)}: not a whole number of bytes`);
  }
  return bytes;
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Milliseconds back to a Go duration string that `parseDuration` reads: 86400000 → "24h", 90000 → "1m30s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new Error(`cannot format duration ${ms}`);
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(ms);
  if (rest < 1) return `${sign}${Math.round(rest * 1e6)}ns`;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = Math.round((rest - seconds * 1000) * 1000) / 1000;
  let out = sign;
  if (hours) out += `${hours}h`;
  if (minutes) out += `${minutes}m`;
  if (seconds) out += `${seconds}s`;
  if (millis) out += `${millis}ms`;
  return out;
}
