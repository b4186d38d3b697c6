"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { Rule } from "./cleanup-rules";
import { formatAgo, formatTime, plural } from "./format";
import { useCan } from "./hooks";
import { useTRPC } from "./trpc";
import { Badge, Button, Card, Dialog, Empty, ErrorBox, inputClass, Loading, NeedsRole, rowClass, tableClass, tableScrollClass, tdClass, thClass } from "./ui";

function describeRule(rule: Rule): string {
  const keeps = [
    rule.keepLast !== undefined ? `keep last ${rule.keepLast}` : null,
    rule.keepTags !== undefined ? `keep /${rule.keepTags}/` : null,
    rule.olderThanDays !== undefined ? `keep if younger than ${rule.olderThanDays} d` : null,
  ].filter(Boolean);
  return `${rule.repository}: ${keeps.join(", ")}`;
}

/**
 * Saved cleanup policies: the editor's rules saved under a name (saving an existing name updates
 * that policy), with garbage collection after and an optional schedule; run now, load into the
 * editor, delete.
 */
export function CleanupPolicies({ rules, rulesValid, onLoad }: { rules: Rule[]; rulesValid: boolean; onLoad: (rules: Rule[]) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const policies = useQuery(trpc.maintenance.policies.queryOptions());
  const [name, setName] = useState("");
  const [gc, setGc] = useState(true);
  const [deleteUntagged, setDeleteUntagged] = useState(false);
  const [everyHours, setEveryHours] = useState("");
  const [runningId, setRunningId] = useState<string | null>(null);
  const [removingId, setRemovingId] = useState<string | null>(null);
  const canChange = useCan("maintainer");
  const refresh = () => void queryClient.invalidateQueries({ queryKey: trpc.maintenance.policies.queryKey() });
  const save = useMutation(trpc.maintenance.savePolicy.mutationOptions({ onSuccess: refresh }));
  const run = useMutation(
    trpc.maintenance.runPolicy.mutationOptions({
      onSuccess: () => {
        setRunningId(null);
        void queryClient.invalidateQueries({ queryKey: trpc.repositories.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.images.pathKey() });
      },
      // A failed run is recorded on the policy too.
      onSettled: refresh,
    }),
  );
  const remove = useMutation(
    trpc.maintenance.deletePolicy.mutationOptions({
      onSuccess: () => {
        setRemovingId(null);
        refresh();
      },
    }),
  );

  const hours = everyHours.trim() === "" ? undefined : Number(everyHours);
  const hoursError = hours !== undefined && !(Number.isFinite(hours) && hours >= 1) ? "“Run every” must be at least 1 hour" : null;
  const existing = policies.data?.find((policy) => policy.name === name.trim());
  const running = policies.data?.find((policy) => policy.id === runningId);
  const removing = policies.data?.find((policy) => policy.id === removingId);

  return (
    <Card title="Saved policies">
      <ErrorBox error={policies.error} title="Cannot load the policies" />
      {policies.isPending ? (
        <Loading />
      ) : policies.data && policies.data.length > 0 ? (
        <div className={`${tableScrollClass} mb-4`}>
          <table className={tableClass} data-testid="cleanup-policies">
            <thead>
              <tr>
                {["Name", "Rules", "Then", "Schedule", "Last run", ""].map((heading) => (
                  <th key={heading} scope="col" className={thClass}>
                    {heading}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {policies.data.map((policy) => (
                <tr key={policy.id} className={rowClass} data-testid="cleanup-policy" data-name={policy.name}>
                  <td className={`${tdClass} font-medium`}>{policy.name}</td>
                  <td className={`${tdClass} font-mono text-xs`}>
                    {policy.rules.map((rule, index) => (
                      <div key={index}>{describeRule(rule)}</div>
                    ))}
                  </td>
                  <td className={`${tdClass} whitespace-nowrap`}>{policy.gc ? (policy.deleteUntagged ? "GC, untagged too" : "GC") : "no GC"}</td>
                  <td className={`${tdClass} whitespace-nowrap`}>{policy.everyHours ? `every ${plural(policy.everyHours, "hour")}` : "by hand"}</td>
                  <td className={tdClass} data-testid="policy-last-run">
                    {policy.running ? (
                      <div title={formatTime(policy.running.since)}>
                        <Badge tone="warn">running</Badge> since {formatAgo(policy.running.since)}, by {policy.running.by}
                      </div>
                    ) : null}
                    {policy.lastRun ? (
                      <span title={`${formatTime(policy.lastRun.at)} by ${policy.lastRun.by}`}>
                        <Badge tone={policy.lastRun.ok ? "good" : "bad"}>{policy.lastRun.ok ? "ok" : "failed"}</Badge> {formatAgo(policy.lastRun.at)}: {policy.lastRun.summary}
                      </span>
                    ) : (
                      "never"
                    )}
                  </td>
                  <td className={`${tdClass} whitespace-nowrap text-right`}>
                    <Button size="sm" variant="ghost" onClick={() => onLoad(policy.rules)} aria-label={`Load ${policy.name} into the editor`}>
                      Load
                    </Button>
                    {canChange ? (
                      <>
                        <Button
                          size="sm"
                          aria-label={`Run ${policy.name}`}
                          onClick={() => {
                            run.reset();
                            setRunningId(policy.id);
                          }}
                        >
                          Run now…
                        </Button>
                        <Button
                          size="sm"
                          variant="ghost"
                          aria-label={`Delete ${policy.name}`}
                          onClick={() => {
                            remove.reset();
                            setRemovingId(policy.id);
                          }}
                        >
                          Delete…
                        </Button>
                      </>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : policies.isError ? null : (
        <Empty>No saved policies. Save the rules above to run them again, or on a schedule.</Empty>
      )}

      {run.data ? (
        <p role="status" data-testid="policy-result" className="mb-4 text-sm font-medium text-emerald-700 dark:text-emerald-400">
          Policy run: {plural(run.data.applied.deleted.length, "manifest")} deleted, {plural(run.data.applied.untagged.length, "tag")} removed
          {run.data.gc ? `; garbage collection ${run.data.gc.status}` : ""}.
        </p>
      ) : null}

      {canChange ? (
        <form
          className="flex flex-wrap items-end gap-3"
          onSubmit={(event) => {
            event.preventDefault();
            if (!rulesValid || hoursError || name.trim() === "") return;
            save.mutate({ id: existing?.id, policy: { name: name.trim(), rules, gc, deleteUntagged: gc && deleteUntagged, everyHours: hours } });
          }}
        >
          <label className="text-sm">
            <span className="block text-slate-600 dark:text-slate-300">Policy name</span>
            <input className={inputClass} value={name} maxLength={100} onChange={(e) => setName(e.target.value)} aria-label="Policy name" />
          </label>
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" checked={gc} onChange={(e) => setGc(e.target.checked)} /> Collect garbage after
          </label>
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" checked={deleteUntagged} disabled={!gc} onChange={(e) => setDeleteUntagged(e.target.checked)} /> also untagged manifests
          </label>
          <label className="text-sm">
            <span className="block text-slate-600 dark:text-slate-300">Run every (hours)</span>
            <input className={`${inputClass} w-28`} inputMode="numeric" value={everyHours} onChange={(e) => setEveryHours(e.target.value)} placeholder="by hand" aria-label="Run every hours" />
          </label>
          <Button type="submit" variant="primary" disabled={!rulesValid || hoursError !== null || name.trim() === "" || save.isPending} data-testid="save-policy">
            {existing ? "Update policy" : "Save rules as policy"}
          </Button>
        </form>
      ) : (
        <NeedsRole role="maintainer" what="Saving a policy" />
      )}
      {hoursError ? (
        <p role="alert" className="mt-2 text-sm text-red-700 dark:text-red-300">
          {hoursError}
        </p>
      ) : null}
      <div className="mt-2">
        <ErrorBox error={save.error} title="Cannot save the policy" />
      </div>

      <Dialog
        open={running !== undefined}
        onClose={() => (run.isPending ? undefined : setRunningId(null))}
        title={`Run “${running?.name ?? ""}” now?`}
        footer={
          <>
            <Button onClick={() => setRunningId(null)} disabled={run.isPending}>
              Cancel
            </Button>
            <Button variant="danger" onClick={() => running && run.mutate({ id: running.id })} disabled={run.isPending} data-testid="confirm-run-policy">
              {run.isPending ? "Running…" : "Run"}
            </Button>
          </>
        }
      >
        <p>
          This deletes what the policy’s rules delete now, without a preview{running?.gc ? ", then runs garbage collection with the registry read-only" : ""}. Load it into the
          editor and preview first to see what goes.
        </p>
        <ErrorBox error={run.error} title="The policy run failed" />
      </Dialog>

      <Dialog
        open={removing !== undefined}
        onClose={() => (remove.isPending ? undefined : setRemovingId(null))}
        title={`Delete the policy “${removing?.name ?? ""}”?`}
        footer={
          <>
            <Button onClick={() => setRemovingId(null)} disabled={remove.isPending}>
              Cancel
            </Button>
            <Button variant="danger" onClick={() => removing && remove.mutate({ id: removing.id })} disabled={remove.isPending} data-testid="confirm-delete-policy">
              Delete policy
            </Button>
          </>
        }
      >
        <p>Only the saved policy goes; nothing in the registry is deleted.</p>
        <ErrorBox error={remove.error} title="Cannot delete the policy" />
      </Dialog>
    </Card>
  );
}
