import { MiB } from "./s3-options.js";
import type { Committed } from "./s3-writer.js";

/** Commits remembered per instance, and how many of their bytes (kept for objects up to KEPT_BODY). */
const RECENT_COMMITS = 4096;
const RECENT_BYTES = 32 * MiB;
const KEPT_BODY = 1 * MiB;

/**
 * What this instance's writers committed lately, by key (oldest dropped first), small objects
 * with their bytes. Another instance may have written a key since: every use checks first.
 */
export class RecentCommits {
  private readonly entries = new Map<string, Committed>();
  private bytes = 0;

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get(key: string): Committed | undefined {
    return this.entries.get(key);
  }

  remember(key: string, committed: Committed): void {
    this.forget(key);
    const kept = committed.body && committed.body.length <= KEPT_BODY ? committed : { ...committed, body: undefined };
    this.entries.set(key, kept);
    this.bytes += kept.body?.length ?? 0;
    while (this.entries.size > RECENT_COMMITS || this.bytes > RECENT_BYTES) this.forget(this.entries.keys().next().value!);
  }

  /** Drops what is known of `key`, and returns it. */
  forget(key: string): Committed | undefined {
    const known = this.entries.get(key);
    if (known) {
      this.entries.delete(key);
      this.bytes -= known.body?.length ?? 0;
    }
    return known;
  }
}
