"use client";

import { useState } from "react";
import { ActivityList, useActivityFeed, type ActivityKind } from "./activity-feed";
import { Card, cx, Empty, ErrorBox, inputClass, Loading } from "./ui";

const filters: { id: ActivityKind | "all"; label: string }[] = [
  { id: "all", label: "Everything" },
  { id: "push", label: "Pushes" },
  { id: "delete", label: "Deletes" },
  { id: "gc", label: "Garbage collection" },
  { id: "config", label: "Configuration" },
  { id: "auth", label: "Auth" },
];

/** Who did what, newest first. */
export function ActivityView() {
  const [limit, setLimit] = useState(50);
  const [kind, setKind] = useState<ActivityKind | "all">("all");
  const [search, setSearch] = useState("");
  const feed = useActivityFeed(limit);
  const needle = search.trim().toLowerCase();
  const items = feed.items.filter((item) => (kind === "all" || item.kind === kind) && (!needle || `${item.user ?? ""} ${item.text}`.toLowerCase().includes(needle)));
  return (
    <Card>
      <div className="mb-4 flex flex-wrap items-center gap-2">
        <div role="group" aria-label="Show" className="flex flex-wrap gap-1">
          {filters.map((filter) => (
            <button
              key={filter.id}
              type="button"
              aria-pressed={kind === filter.id}
              onClick={() => setKind(filter.id)}
              className={cx(
                "rounded-full border px-3 py-1 text-sm focus-visible:outline-2 focus-visible:outline-sky-500",
                kind === filter.id ? "border-sky-600 bg-sky-600 text-white" : "border-slate-300 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800",
              )}
            >
              {filter.label}
            </button>
          ))}
        </div>
        <input type="search" className={`${inputClass} ml-auto min-w-56`} placeholder="Filter by user, repository…" aria-label="Filter activity" value={search} onChange={(e) => setSearch(e.target.value)} />
      </div>
      <ErrorBox error={feed.error} />
      {feed.isPending ? <Loading /> : items.length === 0 ? <Empty>Nothing to show.</Empty> : <ActivityList items={items} />}
      {feed.items.length >= limit ? (
        <button type="button" className="mt-3 text-sm text-sky-700 hover:underline dark:text-sky-400" onClick={() => setLimit((value) => Math.min(1000, value + 100))}>
          Show older
        </button>
      ) : null}
      <p className="mt-4 text-xs text-slate-500 dark:text-slate-400">
        Pushes and deletes come from registry events (any client); garbage collection runs, configuration applies and auth switches record the console user.
      </p>
    </Card>
  );
}
