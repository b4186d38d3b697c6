import type { IKeyValue } from "etcd3";

/** A runtime read-only flag, as held in memory and, with etcd, as the JSON value of the shared key. */
export interface ReadOnlyFlag {
  /** Identifies this flag, for clearing exactly it (`set(false, { id })`). */
  id: string;
  owner: string;
  reason: string;
  /** ISO time the flag was set. */
  since: string;
  /** ISO time the flag lapses by itself; null when it lasts until cleared (or its holder dies). */
  expiresAt: string | null;
  /** For a flag kept alive by its holder: how long it outlives a holder that stopped renewing it. */
  leaseTtlMs?: number;
  /** The instance that set it (`host:pid`). */
  holder?: string;
  /** Only clearable by its id (or with `force`): a garbage collection holds it. */
  protected?: boolean;
  /** The flag this one replaced; clearing this one by id puts that one back. */
  previous?: ReadOnlyFlag;
}

/** A flag read from etcd; anything that is not Berth's JSON still means read-only (an SA's `put`). */
export function parseFlag(value: IKeyValue["value"]): ReadOnlyFlag | null {
  const text = value.toString("utf8").trim();
  if (text === "" || text === "false" || text === "0") return null;
  try {
    const parsed = JSON.parse(text) as Partial<ReadOnlyFlag>;
    if (parsed && typeof parsed === "object" && typeof parsed.id === "string") {
      return {
        ...parsed,
        id: parsed.id,
        owner: typeof parsed.owner === "string" ? parsed.owner : "unknown",
        reason: typeof parsed.reason === "string" ? parsed.reason : "",
        since: typeof parsed.since === "string" ? parsed.since : "",
        expiresAt: typeof parsed.expiresAt === "string" ? parsed.expiresAt : null,
      };
    }
  } catch {
    // Not JSON: fall through.
  }
  return { id: `raw:${text}`, owner: "etcd", reason: text.slice(0, 200), since: "", expiresAt: null };
}

/** The flag unless it has lapsed (an expired flag whose lease etcd has not reaped yet). */
export function live(flag: ReadOnlyFlag | null): ReadOnlyFlag | null {
  if (!flag) return null;
  if (flag.expiresAt && Date.parse(flag.expiresAt) <= Date.now()) return null;
  return flag;
}

/** For messages: who set the flag, why, and when. */
export function describe(flag: ReadOnlyFlag): string {
  return `${flag.owner} (${flag.reason}) since ${flag.since}`;
}
