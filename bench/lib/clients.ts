/** Wrappers over the HTTP load tools and curl, parsing what they print; single requests by fetch. */
import { runChecked } from "./proc.js";
import type { Server } from "./servers.js";

export interface LoadResult {
  requestsPerSecond: number;
  /** 99th percentile latency, ms; undefined when the tool did not print it. */
  p99Ms: number | undefined;
  /** Requests answered with a status other than 2xx (wrk also counts 3xx as fine). */
  badResponses: number;
  errors: string;
  latency: Record<string, string>;
  raw: string;
}

/** A latency as wrk prints it ("850.00us", "12.34ms", "1.20s"), in ms. */
function latencyMs(text: string | undefined): number | undefined {
  const match = text === undefined ? null : /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) return undefined;
  const scale = { us: 1e-3, ms: 1, s: 1e3, m: 60e3 }[match[2] as "us" | "ms" | "s" | "m"];
  return Number(match[1]) * scale;
}

function number(pattern: RegExp, text: string, what: string): number {
  const match = pattern.exec(text);
  if (!match) throw new Error(`could not read ${what} from:\n${text.trim().slice(0, 2000)}`);
  return Number(match[1]);
}

/** `wrk -c CONNECTIONS -t 2 -d SECONDS --latency` with extra headers. */
export async function wrk(url: string, options: { connections: number; threads: number; seconds: number; headers?: string[] }): Promise<LoadResult> {
  const args = ["-c", String(options.connections), "-t", String(options.threads), "-d", `${options.seconds}s`, "--timeout", "10s", "--latency"];
  for (const header of options.headers ?? []) args.push("-H", header);
  args.push(url);
  const { stdout } = await runChecked("wrk", args, { timeoutMs: (options.seconds + 60) * 1000 });
  const latency: Record<string, string> = {};
  for (const p of ["50%", "90%", "99%"]) {
    const match = new RegExp(`^\\s*${p}\\s+(\\S+)`, "m").exec(stdout);
    if (match) latency[`p${p.slice(0, -1)}`] = match[1]!;
  }
  const errors = /Socket errors:.*$/m.exec(stdout)?.[0] ?? "";
  return {
    requestsPerSecond: number(/^Requests\/sec:\s+([\d.]+)/m, stdout, "Requests/sec"),
    p99Ms: latencyMs(latency.p99),
    badResponses: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0),
    errors,
    latency,
    raw: stdout,
  };
}

/** `hey -m METHOD -c CONNECTIONS -z SECONDS` (wrk cannot send HEAD). */
export async function hey(url: string, options: { method: string; connections: number; seconds: number }): Promise<LoadResult> {
  const args = ["-m", options.method, "-c", String(options.connections), "-z", `${options.seconds}s`, "-t", "10", url];
  const { stdout } = await runChecked("hey", args, { timeoutMs: (options.seconds + 60) * 1000 });
  const statuses = [...stdout.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)];
  const bad = statuses.filter((m) => !m[1]!.startsWith("2")).reduce((sum, m) => sum + Number(m[2]), 0);
  const latency: Record<string, string> = {};
  for (const p of ["50", "90", "99"]) {
    const match = new RegExp(`^\\s*${p}%? in ([\\d.]+) secs`, "m").exec(stdout);
    if (match) latency[`p${p}`] = `${(Number(match[1]) * 1000).toFixed(2)}ms`;
  }
  const errorSection = /Error distribution:[\s\S]*$/.exec(stdout)?.[0] ?? "";
  return {
    requestsPerSecond: number(/Requests\/sec:\s+([\d.]+)/, stdout, "Requests/sec"),
    p99Ms: latencyMs(latency.p99),
    badResponses: bad,
    errors: errorSection.trim(),
    latency,
    raw: stdout,
  };
}

export interface DownloadResult {
  status: number;
  seconds: number;
  bytes: number;
}

/** GET into /dev/null with curl; curl's own timer (connect to last byte). */
export async function curlDownload(url: string, timeoutMs: number): Promise<DownloadResult> {
  const { stdout } = await runChecked(
    "curl",
    ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_download}", url],
    { timeoutMs },
  );
  const [status, seconds, bytes] = stdout.trim().split(" ").map(Number);
  return { status: status ?? 0, seconds: seconds ?? NaN, bytes: bytes ?? 0 };
}

const REQUEST_TIMEOUT = 60_000;

/** An answer with another status than the one expected; `body` is the server's (cut) answer. */
export class StatusError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(message);
  }
}

/**
 * One request by fetch, whose global dispatcher keeps connections alive per origin, so the
 * figure is the registries' work and not a TCP handshake per request. A status other than
 * `expected` throws a StatusError with the server's answer.
 */
export async function send(server: Server, method: string, url: URL, expected: number, body?: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(url, { method, body, headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT) });
  if (res.status !== expected) {
    const text = (await res.text()).slice(0, 300);
    throw new StatusError(`${server.kind} (${server.url}): ${method} ${url.pathname} answered ${res.status}, expected ${expected}: ${text}`, res.status, text);
  }
  return res;
}

/**
 * The next request's URL: the Location the last answer gave (distribution's is absolute,
 * Berth's may be relative), moved onto `target` — the signed state in its query is what
 * lets another instance sharing the http.secret continue the upload.
 */
export function nextUrl(res: Response, from: Server, target: Server): URL {
  const location = res.headers.get("location");
  if (!location) throw new Error(`${from.kind}: ${res.status} answer without a Location`);
  const url = new URL(location, from.url);
  return new URL(`${url.pathname}${url.search}`, target.url);
}
