import type { Config } from "../config/schema.js";
import type { StorageDriver } from "../registry/storage/driver.js";
import { FileChecker, HttpChecker, StorageDriverChecker, TcpChecker, type Checker } from "./checkers.js";
import type { ScheduledCheck } from "./monitor.js";

/** distribution's interval for a check configured without one. */
export const defaultCheckIntervalMs = 10_000;

interface Timing {
  interval?: number;
  threshold?: number;
  timeout?: number;
}

/**
 * The checks of the `health` section, named as distribution registers them
 * (`storagedriver_<driver>`, the file path, the URI, the address). File checks have no
 * threshold in distribution: the first failure counts. A name given twice (distribution refuses
 * to start) gets a `#2` suffix.
 */
export function scheduledChecks(health: Config["health"], driver: StorageDriver): ScheduledCheck[] {
  const checks: ScheduledCheck[] = [];
  const names = new Set<string>();
  const add = (checker: Checker, timing: Timing, threshold = timing.threshold ?? 0) => {
    const intervalMs = timing.interval && timing.interval > 0 ? timing.interval : defaultCheckIntervalMs;
    let named = checker;
    for (let n = 2; names.has(named.name); n++) named = { kind: checker.kind, name: `${checker.name}#${n}`, check: (ms) => checker.check(ms) };
    names.add(named.name);
    checks.push({ checker: named, intervalMs, threshold, timeoutMs: timing.timeout && timing.timeout > 0 ? timing.timeout : intervalMs });
  };
  if (health?.storagedriver?.enabled) add(new StorageDriverChecker(driver), health.storagedriver);
  for (const file of health?.file ?? []) add(new FileChecker(file.file), file, 0);
  for (const http of health?.http ?? []) add(new HttpChecker(http), http);
  for (const tcp of health?.tcp ?? []) add(new TcpChecker(tcp.addr), tcp);
  return checks;
}
