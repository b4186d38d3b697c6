"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import type { ReactNode } from "react";
import { formatAgo, formatBytes, formatTime, imageHref, plural, repositoryHref, shortDigest } from "./format";
import { useTRPC } from "./trpc";
import { Badge, cx, linkClass } from "./ui";

export type ActivityKind = "push" | "delete" | "gc" | "config" | "auth" | "console";

export interface ActivityItem {
  key: string;
  time: number;
  kind: ActivityKind;
  /** Who did it, when known (registry events carry no user). */
  user: string | null;
  what: ReactNode;
  /** Plain text of `what`, for filtering. */
  text: string;
}

const kindTone = { push: "good", delete: "bad", gc: "warn", config: "info", auth: "info", console: "neutral" } as const;
const kindLabel: Record<ActivityKind, string> = { push: "push", delete: "delete", gc: "GC", config: "config", auth: "auth", console: "console" };

/**
 * Everything the console knows happened, newest first: registry events from the metadata index
 * (pushes, tag and manifest deletes), garbage-collection runs (with who started them), and the
 * console's own log (configuration applies, auth toggles).
 */
export function useActivityFeed(limit: number) {
  const trpc = useTRPC();
  const events = useQuery({ ...trpc.images.activity.queryOptions({ limit }), refetchInterval: 10_000 });
  const consoleLog = useQuery({ ...trpc.config.activity.queryOptions({ limit }), refetchInterval: 10_000 });
  const gc = useQuery({ ...trpc.maintenance.gcHistory.queryOptions({ limit: Math.min(100, limit) }), refetchInterval: 10_000 });

  const items: ActivityItem[] = [];
  for (const row of events.data ?? []) {
    const ref = row.tag ?? row.digest ?? "";
    const target = (
      <>
        <Link href={repositoryHref(row.repository)} className={linkClass}>
          {row.repository}
        </Link>
        {row.tag ? <span className="font-mono">:{row.tag}</span> : null}
        {row.digest && !row.tag ? <span className="font-mono text-xs"> @{shortDigest(row.digest)}</span> : null}
      </>
    );
    if (row.type === "push") {
      items.push({
        key: `e${row.id}`,
        time: row.time,
        kind: "push",
        user: null,
        what: (
          <>
            pushed {row.digest ? <Link href={imageHref(row.repository, row.digest)} className={linkClass}>{shortDigest(row.digest)}</Link> : null} to{" "}
            <Link href={repositoryHref(row.repository)} className={linkClass}>
              {row.repository}
            </Link>
            {row.tag ? <span className="font-mono">:{row.tag}</span> : null}
            {row.size !== null ? <span className="text-slate-500 dark:text-slate-400"> ({formatBytes(row.size)} manifest)</span> : null}
          </>
        ),
        text: `push ${row.repository} ${ref}`,
      });
    } else {
      items.push({
        key: `e${row.id}`,
        time: row.time,
        kind: "delete",
        user: null,
        what: (
          <>
            {row.type === "tag-delete" ? "deleted tag" : "deleted manifest"} {target}
            {row.type === "manifest-delete" && row.digest && row.tag ? <span className="font-mono text-xs"> @{shortDigest(row.digest)}</span> : null}
          </>
        ),
        text: `delete ${row.type} ${row.repository} ${ref}`,
      });
    }
  }
  for (const run of gc.data ?? []) {
    const report = run.report;
    const summary = report
      ? `${plural(report.manifestsDeleted.length, "manifest")}, ${plural(report.blobsDeleted.length, "blob")}, ${formatBytes(report.bytesFreed)} ${run.dryRun ? "would be freed" : "freed"}`
      : (run.error ?? "");
    items.push({
      key: `g${run.id}`,
      time: Date.parse(run.finishedAt),
      kind: "gc",
      user: run.user,
      what: (
        <>
          {run.dryRun ? "ran a garbage collection dry run" : "ran garbage collection"}
          {run.deleteUntagged ? " (delete untagged)" : ""}:{" "}
          <Badge tone={run.status === "succeeded" ? "good" : "bad"}>{run.status}</Badge> <span className="text-slate-600 dark:text-slate-300">{summary}</span>
        </>
      ),
      text: `gc ${run.status} ${summary}`,
    });
  }
  for (const record of consoleLog.data ?? []) {
    const [area] = record.action.split(".");
    const kind: ActivityKind =
      area === "config" ? "config" : area === "auth" ? "auth" : area === "gc" ? "gc" : area === "manifest" || area === "tag" || area === "cleanup" ? "delete" : "console";
    items.push({ key: `c${record.id}`, time: Date.parse(record.time), kind, user: record.user, what: record.summary, text: `${record.action} ${record.summary}` });
  }
  items.sort((a, b) => b.time - a.time);
  const error = events.error ?? consoleLog.error ?? gc.error;
  // Empty only once every source has answered: one fast empty answer is not "nothing happened".
  return { items: items.slice(0, limit), isPending: events.isPending || consoleLog.isPending || gc.isPending, error };
}

export function ActivityList({ items, compact = false }: { items: ActivityItem[]; compact?: boolean }) {
  return (
    <ol className="divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="activity-list">
      {items.map((item) => (
        <li key={item.key} className={cx("flex items-baseline gap-3", compact ? "py-1.5" : "py-2.5")}>
          <time dateTime={new Date(item.time).toISOString()} title={formatTime(item.time)} className="w-20 shrink-0 text-xs text-slate-500 dark:text-slate-400">
            {formatAgo(item.time)}
          </time>
          <Badge tone={kindTone[item.kind]} className="w-16 shrink-0 justify-center">
            {kindLabel[item.kind]}
          </Badge>
          <span className="min-w-0 flex-1 break-words">
            <span className="font-medium">{item.user ?? <span className="text-slate-400 dark:text-slate-500">registry</span>}</span> {item.what}
          </span>
        </li>
      ))}
    </ol>
  );
}
