"use client";

import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "./trpc";

export function HealthCard() {
  const trpc = useTRPC();
  const health = useQuery({ ...trpc.system.health.queryOptions(), refetchInterval: 10_000 });

  return (
    <section className="rounded-lg border border-slate-200 bg-white p-5 shadow-sm" aria-labelledby="health-title">
      <h2 id="health-title" className="text-sm font-medium uppercase tracking-wide text-slate-500">
        Registry health
      </h2>
      {health.isPending ? (
        <p className="mt-3 text-slate-500">Checking…</p>
      ) : health.isError ? (
        <p className="mt-3 text-red-700" data-testid="health-status">
          Unreachable: {health.error.message}
        </p>
      ) : (
        <dl className="mt-3 grid grid-cols-2 gap-x-6 gap-y-2 text-sm sm:grid-cols-4">
          <div>
            <dt className="text-slate-500">Status</dt>
            <dd
              data-testid="health-status"
              className={health.data.status === "ok" ? "font-semibold text-emerald-700" : "font-semibold text-amber-700"}
            >
              {health.data.status}
            </dd>
          </div>
          <div>
            <dt className="text-slate-500">Storage</dt>
            <dd data-testid="health-storage">
              {health.data.storage.driver}
              {health.data.storage.ok ? "" : ` (${health.data.storage.error ?? "failing"})`}
            </dd>
          </div>
          <div>
            <dt className="text-slate-500">Version</dt>
            <dd>{health.data.version}</dd>
          </div>
          <div>
            <dt className="text-slate-500">Uptime</dt>
            <dd>{health.data.uptimeSeconds}s</dd>
          </div>
        </dl>
      )}
    </section>
  );
}
