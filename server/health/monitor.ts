import type { Logger } from "../log.js";
import type { Checker, CheckKind } from "./checkers.js";

export interface ScheduledCheck {
  checker: Checker;
  intervalMs: number;
  /** Consecutive failures before the check counts as failing; 0 or 1: the first failure. */
  threshold: number;
  /** Bound on one run (distribution's `timeout`; the interval when none is configured). */
  timeoutMs: number;
}

/** One check's state, as /debug/health and the console show it. */
export interface CheckState {
  name: string;
  kind: CheckKind;
  /** Failing: the last run failed, `threshold` runs in a row. */
  ok: boolean;
  /** The last run's error, also while it is below the threshold. */
  error?: string;
  consecutiveFailures: number;
  threshold: number;
  intervalMs: number;
  /** When the last run finished (ISO 8601); absent until the first interval has passed. */
  checkedAt?: string;
}

interface Entry {
  scheduled: ScheduledCheck;
  error?: string;
  failures: number;
  checkedAt?: Date;
  running: boolean;
  timer?: NodeJS.Timeout;
}

/**
 * Runs the configured checks periodically, as distribution polls them: the first run one
 * interval after start (healthy until then), a run skipped while the previous one is still
 * going, a check failing once its consecutive failures reach its threshold and healthy again
 * after one success. A check that throws anything is a failure, never a crash.
 */
export class HealthMonitor {
  private readonly entries: Entry[];

  constructor(
    checks: ScheduledCheck[],
    private readonly logger?: Logger,
  ) {
    this.entries = checks.map((scheduled) => ({ scheduled, failures: 0, running: false }));
  }

  start(): void {
    for (const entry of this.entries) {
      if (entry.timer) continue;
      entry.timer = setInterval(() => void this.run(entry), entry.scheduled.intervalMs);
      entry.timer.unref();
    }
  }

  stop(): void {
    for (const entry of this.entries) {
      clearInterval(entry.timer);
      entry.timer = undefined;
    }
  }

  /** Runs every check once now (the console's "check now", tests). */
  async runAll(): Promise<void> {
    await Promise.all(this.entries.map((entry) => this.run(entry)));
  }

  get size(): number {
    return this.entries.length;
  }

  /** distribution's /debug/health body: each failing check's name and error; empty when healthy. */
  failing(): Record<string, string> {
    const found: Record<string, string> = {};
    for (const entry of this.entries) if (isFailing(entry)) found[entry.scheduled.checker.name] = entry.error ?? "failing";
    return found;
  }

  states(): CheckState[] {
    return this.entries.map((entry) => {
      const { checker, threshold, intervalMs } = entry.scheduled;
      return {
        name: checker.name,
        kind: checker.kind,
        ok: !isFailing(entry),
        ...(entry.error !== undefined ? { error: entry.error } : {}),
        consecutiveFailures: entry.failures,
        threshold,
        intervalMs,
        ...(entry.checkedAt ? { checkedAt: entry.checkedAt.toISOString() } : {}),
      };
    });
  }

  private async run(entry: Entry): Promise<void> {
    if (entry.running) return;
    entry.running = true;
    const { checker, timeoutMs } = entry.scheduled;
    try {
      await checker.check(timeoutMs);
      if (entry.error !== undefined) this.logger?.info("health check passes again", { check: checker.name });
      entry.error = undefined;
      entry.failures = 0;
    } catch (error) {
      entry.error = error instanceof Error ? error.message : String(error);
      entry.failures += 1;
      if (entry.failures === Math.max(entry.scheduled.threshold, 1)) {
        this.logger?.error("health check failing", { check: checker.name, kind: checker.kind, error: entry.error, failures: entry.failures });
      }
    } finally {
      entry.checkedAt = new Date();
      entry.running = false;
    }
  }
}

function isFailing(entry: Entry): boolean {
  return entry.error !== undefined && entry.failures >= Math.max(entry.scheduled.threshold, 1);
}
