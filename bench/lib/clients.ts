/** Wrappers over the HTTP load tools and curl, parsing what they print. */
import { runChecked } from "./proc.js";

export interface LoadResult {
  requestsPerSecond: number;
  /** Requests answered with a status other than 2xx (wrk also counts 3xx as fine). */
  badResponses: number;
  errors: string;
  latency: Record<string, string>;
  raw: string;
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
