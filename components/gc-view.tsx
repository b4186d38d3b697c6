"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import type { GcRunRecord } from "@/server/gc/history";
import { formatAgo, formatBytes, formatCount, formatDuration, formatPeriod, formatTime, plural, shortDigest } from "./format";
import { useCan, useMaintenance } from "./hooks";
import { useTRPC } from "./trpc";
import { Badge, Button, Card, cx, Dialog, Empty, ErrorBox, Facts, inputClass, Loading, NeedsRole, rowClass, tableClass, tableScrollClass, tdClass, thClass } from "./ui";

/** The longest grace period the API takes (30 days), in minutes. */
const maxGraceMinutes = 30 * 24 * 60;

const phases = [
  { id: "waiting-for-writes", label: "Read-only, waiting for writes" },
  { id: "mark", label: "Mark" },
  { id: "sweep", label: "Sweep" },
] as const;

/** Garbage collection: dry run or run, live progress, the report, and the history of runs. */
export function GcView() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [deleteUntagged, setDeleteUntagged] = useState(false);
  // Online unless asked: deleting untagged manifests always holds the registry read-only.
  const [holdReadOnly, setHoldReadOnly] = useState(false);
  const readOnlyRun = holdReadOnly || deleteUntagged;
  // The grace period typed in the form, in minutes; null until edited: the configured `gc.grace`.
  const [graceInput, setGraceInput] = useState<string | null>(null);
  // Refetched so the schedule's next run moves on once a slot has passed.
  const settings = useQuery({ ...trpc.maintenance.gcSettings.queryOptions(), refetchInterval: 60_000 });
  const [confirming, setConfirming] = useState(false);
  const canRun = useCan("maintainer");
  const [selected, setSelected] = useState<string | null>(null);
  // Set when a run was started from here: the history is polled until that run is in it.
  const [awaiting, setAwaiting] = useState<{ after: string | null } | null>(null);
  const { running, gc, readOnly } = useMaintenance({ fast: awaiting !== null });
  const history = useQuery({ ...trpc.maintenance.gcHistory.queryOptions({ limit: 20 }), refetchInterval: running || awaiting ? 1_000 : 15_000 });
  const latestId = history.data?.[0]?.id ?? null;
  const start = useMutation(
    trpc.maintenance.runGc.mutationOptions({
      onMutate: () => setAwaiting({ after: latestId }),
      onSuccess: () => {
        setConfirming(false);
        setSelected(null);
        void queryClient.invalidateQueries({ queryKey: trpc.maintenance.pathKey() });
      },
      onError: () => setAwaiting(null),
    }),
  );
  useEffect(() => {
    if (awaiting && !running && latestId !== awaiting.after) setAwaiting(null);
  }, [awaiting, running, latestId]);
  useEffect(() => {
    // A run that never shows up in the history (it could not take the lock...) stops the wait.
    if (!awaiting || running) return;
    const timer = setTimeout(() => setAwaiting(null), 30_000);
    return () => clearTimeout(timer);
  }, [awaiting, running]);

  // When a run ends, fetch the history (its report) and everything it may have changed.
  const wasRunning = useRef(false);
  useEffect(() => {
    if (wasRunning.current && !running) {
      void queryClient.invalidateQueries({ queryKey: trpc.maintenance.pathKey() });
      void queryClient.invalidateQueries({ queryKey: trpc.images.pathKey() });
    }
    wasRunning.current = running !== null;
  }, [running, queryClient, trpc]);

  const runs = history.data ?? [];
  const shown = runs.find((run) => run.id === selected) ?? runs[0];
  const busy = running !== null || start.isPending || awaiting !== null;
  const configReadOnly = readOnly?.source === "config";
  const configuredGraceMs = settings.data?.graceMs;
  const schedule = settings.data?.schedule;
  const graceText = graceInput ?? (configuredGraceMs === undefined ? "" : String(configuredGraceMs / 60_000));
  const graceMinutes = Number(graceText);
  const graceValid = graceText.trim() !== "" && Number.isFinite(graceMinutes) && graceMinutes >= 0 && graceMinutes <= maxGraceMinutes;
  const graceMs = Math.round(graceMinutes * 60_000);

  return (
    <div className="space-y-6">
      <Card title="Run">
        <div className="space-y-4 text-sm">
          <p className="text-slate-600 dark:text-slate-300">
            Deletes the blobs (layers, configs) that no manifest references any more, after deletes and cleanups. A run is online: every instance sharing this
            storage keeps taking pushes and serving pulls, and whatever they use meanwhile is kept. A dry run only reports what it would delete.
          </p>
          {settings.data ? (
            <p className="text-slate-500 dark:text-slate-400" data-testid="gc-schedule">
              {schedule ? (
                <>
                  Scheduled (gc.schedule <code>{schedule.expression}</code>): next run {formatTime(schedule.nextRun)} ({formatAgo(schedule.nextRun)}), online, on one of
                  the instances sharing this storage.
                </>
              ) : (
                "Not scheduled: runs start only from here or berth garbage-collect (gc.schedule sets a cron schedule)."
              )}
            </p>
          ) : null}
          <label className="block">
            <span className="font-medium">Grace period</span>
            <span className="mt-1 flex items-center gap-2">
              <input
                type="number"
                min={0}
                max={maxGraceMinutes}
                step="any"
                value={graceText}
                onChange={(event) => setGraceInput(event.target.value)}
                className={cx(inputClass, "w-28")}
                disabled={busy || settings.isPending}
                aria-invalid={!graceValid}
                data-testid="gc-grace"
              />
              <span>minutes</span>
            </span>
            <span className="mt-1 block text-slate-500 dark:text-slate-400" data-testid="gc-grace-help">
              Unreferenced blobs modified less than this long ago are kept: a push uploads its blobs before the manifest that uses them.
              {configuredGraceMs !== undefined ? ` Configured (gc.grace): ${formatPeriod(configuredGraceMs)}.` : ""}
            </span>
          </label>
          {graceText.trim() !== "" && !graceValid ? <p className="text-red-700 dark:text-red-300">The grace period is a number of minutes from 0 to {formatCount(maxGraceMinutes)}.</p> : null}
          <ErrorBox error={settings.error} title="Cannot read the configured grace period" />
          <label className="flex items-start gap-2">
            <input type="checkbox" checked={deleteUntagged} onChange={(event) => setDeleteUntagged(event.target.checked)} className="mt-1" disabled={busy} data-testid="gc-delete-untagged" />
            <span>
              <span className="font-medium">Also delete untagged manifests</span>
              <span className="block text-slate-500 dark:text-slate-400">Manifests no tag reaches (children of tagged indexes and referrers of kept manifests stay).</span>
            </span>
          </label>
          <label className="flex items-start gap-2">
            <input
              type="checkbox"
              checked={readOnlyRun}
              onChange={(event) => setHoldReadOnly(event.target.checked)}
              className="mt-1"
              disabled={busy || deleteUntagged}
              data-testid="gc-read-only"
            />
            <span>
              <span className="font-medium">Hold the registry read-only</span>
              <span className="block text-slate-500 dark:text-slate-400">
                Pushes and deletes are refused until the run ends, as Docker&apos;s registry needs; always so when untagged manifests are deleted.
              </span>
            </span>
          </label>
          {canRun ? (
            <div className="flex flex-wrap gap-2">
              <Button onClick={() => start.mutate({ dryRun: true, deleteUntagged, graceMs })} disabled={busy || !graceValid} data-testid="gc-dry-run">
                Dry run
              </Button>
              <Button variant="danger" onClick={() => setConfirming(true)} disabled={busy || configReadOnly || !graceValid} data-testid="gc-run">
                Run garbage collection…
              </Button>
            </div>
          ) : (
            <NeedsRole role="maintainer" what="Running a garbage collection" />
          )}
          {configReadOnly ? <p className="text-amber-700 dark:text-amber-300">The configuration sets the registry read-only; a real run is not possible.</p> : null}
          <ErrorBox error={start.error} title="Could not start" />
        </div>
      </Card>

      {running ? (
        <Card title={running.dryRun ? "Dry run in progress" : "Garbage collection in progress"}>
          <div className="space-y-4 text-sm" data-testid="gc-progress" aria-live="polite">
            <ol className="flex flex-wrap items-center gap-2">
              {phases
                .filter((phase) => (!running.dryRun && running.mode === "read-only") || phase.id !== "waiting-for-writes")
                .map((phase, index, list) => {
                  const current = list.findIndex((p) => p.id === running.phase);
                  const state = index < current ? "done" : index === current ? "active" : "todo";
                  return (
                    <li key={phase.id} className="flex items-center gap-2">
                      <span
                        className={cx(
                          "rounded-full px-2.5 py-0.5 text-xs font-medium",
                          state === "active" ? "bg-sky-600 text-white" : state === "done" ? "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200" : "bg-slate-100 text-slate-500 dark:bg-slate-800",
                        )}
                        aria-current={state === "active" ? "step" : undefined}
                      >
                        {phase.label}
                      </span>
                      {index < list.length - 1 ? <span aria-hidden="true" className="text-slate-400">→</span> : null}
                    </li>
                  );
                })}
            </ol>
            <div>
              <div className="mb-1 flex justify-between text-xs text-slate-500 dark:text-slate-400">
                <span data-testid="gc-phase">
                  {running.phase === "waiting-for-writes" ? "waiting for writes in progress" : running.phase}
                  {running.progress ? ` · ${formatCount(running.progress.done)} / ${formatCount(running.progress.total)}` : ""}
                </span>
                <span>
                  started by {running.owner} {formatAgo(running.since)} on {running.holder}
                </span>
              </div>
              <div
                className="h-3 overflow-hidden rounded bg-slate-100 dark:bg-slate-800"
                role="progressbar"
                aria-label="Garbage collection progress"
                aria-valuemin={0}
                aria-valuemax={running.progress?.total ?? 0}
                aria-valuenow={running.progress?.done ?? 0}
              >
                <div
                  className={cx("h-full bg-sky-600 transition-all", !running.progress && "animate-pulse")}
                  style={{ width: running.progress && running.progress.total > 0 ? `${(running.progress.done / running.progress.total) * 100}%` : "100%" }}
                />
              </div>
            </div>
          </div>
        </Card>
      ) : null}
      <ErrorBox error={gc.error} title="Cannot read the garbage collection status" />

      <Card title={shown && selected ? `Report of the run from ${formatTime(shown.startedAt)}` : "Report of the last run"}>
        {history.isPending ? <Loading /> : shown ? <Report run={shown} /> : history.isError ? null : <Empty>No garbage collection has run on this storage yet.</Empty>}
      </Card>

      <Card title="History">
        <ErrorBox error={history.error} />
        {history.isPending ? (
          <Loading />
        ) : history.isError ? null : runs.length === 0 ? (
          <Empty>No runs yet.</Empty>
        ) : (
          <div className={tableScrollClass}>
            <table className={tableClass} data-testid="gc-history">
              <thead>
                <tr>
                  <th scope="col" className={thClass}>
                    Started
                  </th>
                  <th scope="col" className={thClass}>
                    By
                  </th>
                  <th scope="col" className={thClass}>
                    Kind
                  </th>
                  <th scope="col" className={thClass}>
                    Status
                  </th>
                  <th scope="col" className={`${thClass} text-right`}>
                    Manifests
                  </th>
                  <th scope="col" className={`${thClass} text-right`}>
                    Blobs
                  </th>
                  <th scope="col" className={`${thClass} text-right`}>
                    Freed
                  </th>
                  <th scope="col" className={`${thClass} text-right`}>
                    Took
                  </th>
                  <th scope="col" className={thClass}>
                    <span className="sr-only">Report</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {runs.map((run) => (
                  <tr key={run.id} className={cx(rowClass, shown?.id === run.id && "bg-sky-50 dark:bg-sky-950/30")}>
                    <td className={tdClass} title={formatTime(run.startedAt)}>
                      {formatAgo(run.startedAt)}
                    </td>
                    <td className={tdClass}>{run.user}</td>
                    <td className={tdClass}>
                      {run.dryRun ? <Badge tone="info">dry run</Badge> : <Badge>run</Badge>} {run.deleteUntagged ? <Badge tone="warn">untagged</Badge> : null}
                    </td>
                    <td className={tdClass}>
                      <Badge tone={run.status === "succeeded" ? "good" : "bad"}>{run.status}</Badge>
                    </td>
                    <td className={`${tdClass} text-right tabular-nums`}>{run.report ? formatCount(run.report.manifestsDeleted.length) : "—"}</td>
                    <td className={`${tdClass} text-right tabular-nums`}>{run.report ? formatCount(run.report.blobsDeleted.length) : "—"}</td>
                    <td className={`${tdClass} text-right tabular-nums`}>{run.report ? formatBytes(run.report.bytesFreed) : "—"}</td>
                    <td className={`${tdClass} text-right tabular-nums`}>{formatDuration(Date.parse(run.finishedAt) - Date.parse(run.startedAt))}</td>
                    <td className={tdClass}>
                      <Button size="sm" variant="ghost" onClick={() => setSelected(run.id)} aria-label={`Show the report of the run from ${formatTime(run.startedAt)}`}>
                        Report
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>

      <Dialog
        open={confirming}
        onClose={() => setConfirming(false)}
        title="Run garbage collection?"
        footer={
          <>
            <Button onClick={() => setConfirming(false)}>Cancel</Button>
            <Button
              variant="danger"
              onClick={() => start.mutate({ dryRun: false, deleteUntagged, graceMs, readOnly: readOnlyRun })}
              disabled={start.isPending || !graceValid}
              data-testid="gc-confirm"
            >
              {start.isPending ? "Starting…" : "Run now"}
            </Button>
          </>
        }
      >
        <div className="space-y-2">
          {readOnlyRun ? (
            <p>
              The registry becomes <strong>read-only</strong> while the collection runs: pushes and deletes are refused (pulls keep working). Writes already in
              progress are waited for.
            </p>
          ) : (
            <p>
              The collection runs <strong>online</strong>: pushes and pulls go on, and blobs they use meanwhile are kept. It waits for pushes already under way
              (gc.hold) before deleting.
            </p>
          )}
          {deleteUntagged ? <p className="font-medium text-red-700 dark:text-red-300">Untagged manifests are deleted too.</p> : null}
          <p>Grace period: {formatPeriod(graceMs)}; unreferenced blobs modified since are kept.</p>
          {graceMs === 0 ? (
            <p className="text-amber-700 dark:text-amber-300">Without a grace period, the blobs of a push that has not sent its manifest yet are deleted too; that push then fails.</p>
          ) : null}
          <p>A dry run first shows what would be deleted without changing anything.</p>
        </div>
      </Dialog>
    </div>
  );
}

function Report({ run }: { run: GcRunRecord }) {
  const report = run.report;
  return (
    <div className="space-y-4 text-sm" data-testid="gc-report">
      <div className="flex flex-wrap items-center gap-2">
        <Badge tone={run.status === "succeeded" ? "good" : "bad"}>{run.status}</Badge>
        {run.dryRun ? <Badge tone="info">dry run: nothing was deleted</Badge> : null}
        <span className="text-slate-500 dark:text-slate-400">
          by {run.user}, {formatTime(run.startedAt)} → {formatTime(run.finishedAt)}
        </span>
      </div>
      {run.error ? <ErrorBox error={{ message: run.error }} title="Failed" /> : null}
      {report ? (
        <>
          <Facts
            items={[
              [run.dryRun ? "Would free" : "Freed", <strong key="f" data-testid="gc-bytes-freed">{formatBytes(report.bytesFreed)}</strong>],
              [run.dryRun ? "Blobs to delete" : "Blobs deleted", `${formatCount(report.blobsDeleted.length)} of ${formatCount(report.blobs)}`],
              [run.dryRun ? "Manifests to delete" : "Manifests deleted", formatCount(report.manifestsDeleted.length)],
              ["Duration", formatDuration(report.durationMs)],
              ["Repositories scanned", formatCount(report.repositories)],
              ["Manifests seen", formatCount(report.manifests)],
              ["Blobs kept (referenced)", formatCount(report.blobsMarked)],
              ["Grace period", <span key="g" data-testid="gc-grace-used">{formatPeriod(report.graceMs)}</span>],
              ["Kept (grace period)", <span key="k" data-testid="gc-kept-grace">{keptInGrace(report)}</span>],
              ...(report.kept && (report.kept.protected.blobs > 0 || report.kept.protected.manifests > 0)
                ? [["Kept (still in use)", `${plural(report.kept.protected.blobs, "blob")} · ${formatBytes(report.kept.protected.bytes)}, ${plural(report.kept.protected.manifests, "manifest")}`] as [string, string]]
                : []),
              ["Links removed", `${formatCount(report.linksDeleted.tagHistory)} tag history, ${plural(report.linksDeleted.referrers, "referrer")}, ${plural(report.linksDeleted.layers, "layer link")}`],
            ]}
          />
          {report.manifestsDeleted.length > 0 ? (
            <details>
              <summary className="cursor-pointer">{plural(report.manifestsDeleted.length, "manifest")}</summary>
              <ul className="mt-1 max-h-60 overflow-auto font-mono text-xs">
                {report.manifestsDeleted.map((manifest) => (
                  <li key={`${manifest.repository}@${manifest.digest}`}>
                    {manifest.repository}@{shortDigest(manifest.digest)}
                  </li>
                ))}
              </ul>
            </details>
          ) : null}
          {report.blobsDeleted.length > 0 ? (
            <details>
              <summary className="cursor-pointer">{plural(report.blobsDeleted.length, "blob")}</summary>
              <ul className="mt-1 max-h-60 overflow-auto font-mono text-xs">
                {report.blobsDeleted.map((blob) => (
                  <li key={blob.digest}>
                    {shortDigest(blob.digest)} · {formatBytes(blob.size)}
                  </li>
                ))}
              </ul>
            </details>
          ) : null}
          {report.warnings.length > 0 ? (
            <div>
              <h3 className="font-medium text-amber-700 dark:text-amber-300">Warnings</h3>
              <ul className="list-disc pl-5">
                {report.warnings.map((warning, index) => (
                  <li key={index}>{warning}</li>
                ))}
              </ul>
            </div>
          ) : null}
        </>
      ) : null}
    </div>
  );
}

/** What the grace period kept; runs recorded before reports had `kept` only counted blobs. */
function keptInGrace(report: NonNullable<GcRunRecord["report"]>): string {
  if (!report.kept) return plural(report.blobsInGrace, "blob");
  const { blobs, bytes, manifests } = report.kept.inGrace;
  return `${plural(blobs, "blob")} · ${formatBytes(bytes)}${manifests > 0 ? `, ${plural(manifests, "untagged manifest")}` : ""}`;
}
