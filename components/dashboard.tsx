"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { ActivityList, useActivityFeed } from "./activity-feed";
import { formatAgo, formatBytes, formatCount, plural, repositoryHref } from "./format";
import { HealthCard } from "./health-card";
import { MirrorCards } from "./pull-through";
import { useTRPC } from "./trpc";
import { Bar, Card, Empty, ErrorBox, linkClass, Loading } from "./ui";

function Stat({ label, value, testId, hint }: { label: string; value: string; testId?: string; hint?: string }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-700 dark:bg-slate-900">
      <div className="text-xs font-medium uppercase tracking-wide text-slate-500 dark:text-slate-400">{label}</div>
      <div className="mt-1 text-2xl font-semibold tabular-nums" data-testid={testId}>
        {value}
      </div>
      {hint ? <div className="mt-0.5 text-xs text-slate-500 dark:text-slate-400">{hint}</div> : null}
    </div>
  );
}

export function Dashboard() {
  const trpc = useTRPC();
  const stats = useQuery({ ...trpc.images.stats.queryOptions(), refetchInterval: 15_000 });
  const feed = useActivityFeed(10);
  const data = stats.data;
  const largest = data?.largestRepositories.slice(0, 10) ?? [];
  const maxSize = Math.max(0, ...largest.map((repo) => repo.size));
  const saved = data && data.logicalBytes > 0 ? 1 - data.dedupBytes / data.logicalBytes : 0;

  return (
    <div className="space-y-6">
      <HealthCard />
      <ErrorBox error={stats.error} title="Statistics unavailable" />
      <div className="grid grid-cols-2 gap-4 md:grid-cols-4">
        <Stat label="Repositories" value={formatCount(data?.repositories)} testId="stat-repositories" />
        <Stat label="Tags" value={formatCount(data?.tags)} testId="stat-tags" />
        <Stat label="Manifests" value={formatCount(data?.manifests)} testId="stat-manifests" />
        <Stat label="Blobs" value={formatCount(data?.blobs)} testId="stat-blobs" hint="distinct configs and layers" />
      </div>
      <div className="grid gap-6 lg:grid-cols-5">
        <Card title="Storage used" className="lg:col-span-2">
          {!data ? (
            <Loading />
          ) : (
            <div className="space-y-4 text-sm">
              <div>
                <div className="flex justify-between">
                  <span>Logical (sum over tags)</span>
                  <span className="font-medium tabular-nums" data-testid="stat-logical">
                    {formatBytes(data.logicalBytes)}
                  </span>
                </div>
                <Bar value={data.logicalBytes} max={Math.max(data.logicalBytes, data.dedupBytes)} className="bg-slate-400 dark:bg-slate-500" />
              </div>
              <div>
                <div className="flex justify-between">
                  <span>Deduplicated (distinct blobs)</span>
                  <span className="font-medium tabular-nums" data-testid="stat-dedup">
                    {formatBytes(data.dedupBytes)}
                  </span>
                </div>
                <Bar value={data.dedupBytes} max={Math.max(data.logicalBytes, data.dedupBytes)} />
              </div>
              <p className="text-slate-500 dark:text-slate-400">
                Shared layers save {formatBytes(Math.max(0, data.logicalBytes - data.dedupBytes))} ({Math.round(saved * 100)}%). Index{" "}
                {data.index.rebuilding ? "rebuilding…" : data.index.builtAt ? `built ${formatAgo(data.index.builtAt)}` : "not built yet"}
                {data.index.pending > 0 ? `, ${plural(data.index.pending, "update")} pending` : ""}.
              </p>
            </div>
          )}
        </Card>
        <Card title="Largest repositories" className="lg:col-span-3">
          {!data ? (
            <Loading />
          ) : largest.length === 0 ? (
            <Empty>No repositories yet. Push an image to get started.</Empty>
          ) : (
            <figure>
              <figcaption className="sr-only">Deduplicated size of the largest repositories</figcaption>
              <ul className="space-y-2 text-sm" data-testid="largest-repositories">
                {largest.map((repo) => (
                  <li key={repo.name} className="grid grid-cols-[minmax(0,11rem)_1fr_5rem] items-center gap-3">
                    <Link href={repositoryHref(repo.name)} className={`${linkClass} truncate`} title={repo.name}>
                      {repo.name}
                    </Link>
                    <Bar value={repo.size} max={maxSize} />
                    <span className="text-right tabular-nums text-slate-600 dark:text-slate-300">{formatBytes(repo.size)}</span>
                  </li>
                ))}
              </ul>
            </figure>
          )}
        </Card>
      </div>
      <MirrorCards />
      <Card
        title="Recent activity"
        actions={
          <Link href="/activity" className={`${linkClass} text-sm`}>
            All activity
          </Link>
        }
      >
        <ErrorBox error={feed.error} />
        {feed.isPending ? <Loading /> : feed.items.length === 0 ? <Empty>Nothing has happened yet.</Empty> : <ActivityList items={feed.items} compact />}
      </Card>
    </div>
  );
}
