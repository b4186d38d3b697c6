"use client";

import { useQuery } from "@tanstack/react-query";
import { formatAgo } from "./format";
import { HealthChecks } from "./health-checks";
import { useTRPC } from "./trpc";
import { Badge, Card } from "./ui";

function uptime(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

export function HealthCard() {
  const trpc = useTRPC();
  const health = useQuery({ ...trpc.system.health.queryOptions(), refetchInterval: 10_000 });

  return (
    <Card title={<span id="health-title">Registry health</span>}>
      {health.isPending ? (
        <p className="text-slate-500 dark:text-slate-400">Checking…</p>
      ) : health.isError ? (
        <p className="text-red-700 dark:text-red-300" data-testid="health-status">
          Unreachable: {health.error.message}
        </p>
      ) : (
        <dl className="grid grid-cols-2 gap-x-6 gap-y-3 text-sm sm:grid-cols-5">
          <div>
            <dt className="text-slate-500 dark:text-slate-400">Status</dt>
            <dd
              data-testid="health-status"
              className={
                health.data.status === "ok"
                  ? "font-semibold text-emerald-700 dark:text-emerald-400"
                  : "font-semibold text-amber-700 dark:text-amber-400"
              }
            >
              {health.data.status}
            </dd>
          </div>
          <div>
            <dt className="text-slate-500 dark:text-slate-400">Storage</dt>
            <dd data-testid="health-storage">
              {health.data.storage.driver}
              {health.data.storage.ok ? "" : ` (${health.data.storage.error ?? "failing"})`}
            </dd>
          </div>
          <div>
            <dt className="text-slate-500 dark:text-slate-400">Registry auth</dt>
            <dd data-testid="health-auth">
              {health.data.auth.mode}{" "}
              <Badge tone={health.data.auth.source === "etcd" ? "info" : "neutral"}>{health.data.auth.source === "etcd" ? "from etcd" : "config.yml"}</Badge>
              {health.data.auth.etcd && !health.data.auth.etcd.connected ? (
                <Badge tone="warn" className="ml-1">
                  etcd unreachable
                </Badge>
              ) : null}
            </dd>
          </div>
          <div>
            <dt className="text-slate-500 dark:text-slate-400">Version</dt>
            <dd>{health.data.version}</dd>
          </div>
          <div>
            <dt className="text-slate-500 dark:text-slate-400">Uptime</dt>
            <dd title={`started ${formatAgo(Date.now() - health.data.uptimeSeconds * 1000)}`}>{uptime(health.data.uptimeSeconds)}</dd>
          </div>
        </dl>
      )}
      {health.data ? <HealthChecks checks={health.data.checks} /> : null}
    </Card>
  );
}
