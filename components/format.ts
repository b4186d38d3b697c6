/** Formatting shared by the console pages (pure functions: safe on the server and in the browser). */

const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 1536 → "1.5 KiB"; binary units, as registries and `docker images` count. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "—";
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return value.toLocaleString("en-US");
}

/** `sha256:0123456789ab…` → `sha256:0123456789ab` (12 hex digits, like docker). */
export function shortDigest(digest: string | null | undefined, length = 12): string {
  if (!digest) return "—";
  const colon = digest.indexOf(":");
  return colon < 0 ? digest.slice(0, length) : `${digest.slice(0, colon + 1)}${digest.slice(colon + 1, colon + 1 + length)}`;
}

export function toTime(value: number | string | Date | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const time = value instanceof Date ? value.getTime() : typeof value === "number" ? value : Date.parse(value);
  return Number.isFinite(time) ? time : null;
}

/** "2024-05-01 12:00:03" in the browser's time zone. */
export function formatTime(value: number | string | Date | null | undefined): string {
  const time = toTime(value);
  if (time === null) return "—";
  const date = new Date(time);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** "3 min ago", "in 2 h", "5 d ago". */
export function formatAgo(value: number | string | Date | null | undefined, now = Date.now()): string {
  const time = toTime(value);
  if (time === null) return "—";
  const seconds = Math.round((now - time) / 1000);
  const abs = Math.abs(seconds);
  const text =
    abs < 45 ? `${abs} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 86_400 ? `${Math.round(abs / 3600)} h` : abs < 86_400 * 60 ? `${Math.round(abs / 86_400)} d` : abs < 86_400 * 730 ? `${Math.round(abs / (86_400 * 30))} mo` : `${Math.round(abs / (86_400 * 365))} y`;
  if (abs < 5) return "just now";
  return seconds >= 0 ? `${text} ago` : `in ${text}`;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** A grace period, as the GC form and reports state it: "none", "10 min", "1 h 30 min". */
export function formatPeriod(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (ms > 0 && minutes === 0) return formatDuration(ms);
  if (minutes === 0) return "none";
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return `${rest} min`;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

export function formatPlatform(platform: { os: string; architecture: string; variant?: string } | null | undefined): string {
  if (!platform) return "unknown";
  return `${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ""}`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${formatCount(count)} ${count === 1 ? one : many}`;
}

/** Path of a repository page: names keep their slashes (`/repositories/library/nginx`). */
export function repositoryHref(name: string): string {
  return `/repositories/${name.split("/").map(encodeURIComponent).join("/")}`;
}

/** Path of an image page; `-` cannot be a component of a repository name, so it separates the reference. */
export function imageHref(repository: string, reference: string): string {
  return `${repositoryHref(repository)}/-/manifests/${encodeURIComponent(reference)}`;
}

/** What `docker pull` needs: `host/name:tag` or `host/name@digest`. */
export function pullReference(host: string, repository: string, reference: string): string {
  return `${host}/${repository}${reference.includes(":") ? "@" : ":"}${reference}`;
}
