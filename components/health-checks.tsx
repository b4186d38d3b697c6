"use client";

import type { CheckState } from "@/server/health/monitor";
import { formatAgo } from "./format";
import { Badge } from "./ui";

function state(check: CheckState) {
  if (!check.checkedAt) return <Badge>not run yet</Badge>;
  if (!check.ok) return <Badge tone="bad">failing</Badge>;
  if (check.error !== undefined) {
    return <Badge tone="warn">{`failed ${check.consecutiveFailures} of ${Math.max(check.threshold, 1)}`}</Badge>;
  }
  return <Badge tone="good">ok</Badge>;
}

/** The `health` section's checks: while one is failing the registry API answers 503. */
export function HealthChecks({ checks }: { checks: CheckState[] }) {
  if (checks.length === 0) return null;
  return (
    <div className="mt-4 border-t border-slate-200 pt-3 dark:border-slate-700">
      <h3 className="mb-2 text-sm font-medium text-slate-600 dark:text-slate-300">Health checks</h3>
      <ul className="space-y-1 text-sm" data-testid="health-checks">
        {checks.map((check) => (
          <li key={check.name} className="flex flex-wrap items-baseline gap-x-2" data-testid="health-check">
            <span className="text-slate-500 dark:text-slate-400">{check.kind}</span>
            <span className="font-mono break-all">{check.name}</span>
            {state(check)}
            {check.error !== undefined ? <span className="text-red-700 dark:text-red-300">{check.error}</span> : null}
            <span className="text-xs text-slate-500 dark:text-slate-400">
              every {Math.round(check.intervalMs / 1000)}s{check.checkedAt ? `, checked ${formatAgo(check.checkedAt)}` : ""}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}
