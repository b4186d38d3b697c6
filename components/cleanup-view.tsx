"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { CleanupPolicies } from "./cleanup-policies";
import { draftOf, newRule, toRules, type Rule, type RuleDraft } from "./cleanup-rules";
import { formatAgo, formatBytes, formatPeriod, formatTime, imageHref, plural, repositoryHref } from "./format";
import { useCan } from "./hooks";
import { useTRPC } from "./trpc";
import { Badge, Button, Card, Dialog, Digest, Empty, ErrorBox, inputClass, linkClass, Loading, NeedsRole, rowClass, tableClass, tableScrollClass, tdClass, thClass } from "./ui";

/** Tag retention rules: edit, preview what they delete and keep, apply. */
export function CleanupView() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [drafts, setDrafts] = useState<RuleDraft[]>(() => [newRule()]);
  const [previewed, setPreviewed] = useState<Rule[] | null>(null);
  const [onlyDeletes, setOnlyDeletes] = useState(true);
  const [confirming, setConfirming] = useState(false);
  const canApply = useCan("maintainer");
  const { rules, errors } = toRules(drafts);
  const preview = useQuery({
    ...trpc.maintenance.previewCleanup.queryOptions({ rules: previewed ?? [{ repository: "**", keepLast: 0 }] }),
    enabled: previewed !== null,
    staleTime: 0,
  });
  const apply = useMutation(
    trpc.maintenance.applyCleanup.mutationOptions({
      onSuccess: () => {
        setConfirming(false);
        setPreviewed(null);
        void queryClient.invalidateQueries({ queryKey: trpc.repositories.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.images.pathKey() });
      },
    }),
  );
  const stale = previewed !== null && JSON.stringify(previewed) !== JSON.stringify(rules);
  const update = (id: number, change: Partial<RuleDraft>) => setDrafts((current) => current.map((draft) => (draft.id === id ? { ...draft, ...change } : draft)));
  const data = preview.data;
  const deletes = data?.rows.filter((row) => row.action === "delete") ?? [];
  const shown = (onlyDeletes ? deletes : (data?.rows ?? [])).slice(0, 500);

  return (
    <div className="space-y-6">
      <Card title="Rules">
        <p className="mb-4 text-sm text-slate-600 dark:text-slate-300">
          A tag is deleted when a rule matches its repository and none of that rule’s criteria keeps it. Patterns: <code>*</code> within a path component,{" "}
          <code>**</code> across, <code>?</code> one character. Rules add up: a tag kept by any matching rule stays.
        </p>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            if (errors.length === 0) {
              apply.reset();
              setPreviewed(rules);
            }
          }}
          className="space-y-3"
        >
          {drafts.map((draft, index) => (
            <fieldset key={draft.id} className="grid grid-cols-1 items-end gap-3 rounded border border-slate-200 p-3 sm:grid-cols-[2fr_1fr_2fr_1fr_auto] dark:border-slate-700" data-testid="cleanup-rule">
              <legend className="px-1 text-xs font-medium text-slate-500 dark:text-slate-400">Rule {index + 1}</legend>
              <label className="text-sm">
                <span className="block text-slate-600 dark:text-slate-300">Repositories</span>
                <input className={`${inputClass} w-full font-mono`} value={draft.repository} onChange={(e) => update(draft.id, { repository: e.target.value })} aria-label={`Rule ${index + 1} repositories`} />
              </label>
              <label className="text-sm">
                <span className="block text-slate-600 dark:text-slate-300">Keep last</span>
                <input className={`${inputClass} w-full`} inputMode="numeric" value={draft.keepLast} onChange={(e) => update(draft.id, { keepLast: e.target.value })} placeholder="e.g. 10" aria-label={`Rule ${index + 1} keep last`} />
              </label>
              <label className="text-sm">
                <span className="block text-slate-600 dark:text-slate-300">Keep tags matching</span>
                <input className={`${inputClass} w-full font-mono`} value={draft.keepTags} onChange={(e) => update(draft.id, { keepTags: e.target.value })} placeholder="^(latest|v\d+)$" aria-label={`Rule ${index + 1} keep tags matching`} />
              </label>
              <label className="text-sm">
                <span className="block text-slate-600 dark:text-slate-300">Keep if younger (days)</span>
                <input className={`${inputClass} w-full`} inputMode="decimal" value={draft.olderThanDays} onChange={(e) => update(draft.id, { olderThanDays: e.target.value })} placeholder="e.g. 30" aria-label={`Rule ${index + 1} keep newer than days`} />
              </label>
              <Button variant="ghost" onClick={() => setDrafts((current) => current.filter((d) => d.id !== draft.id))} disabled={drafts.length === 1} aria-label={`Remove rule ${index + 1}`}>
                Remove
              </Button>
            </fieldset>
          ))}
          {errors.length > 0 ? (
            <ul role="alert" className="list-disc pl-5 text-sm text-red-700 dark:text-red-300">
              {errors.map((error) => (
                <li key={error}>{error}</li>
              ))}
            </ul>
          ) : null}
          <div className="flex flex-wrap gap-2">
            <Button onClick={() => setDrafts((current) => [...current, newRule()])}>Add rule</Button>
            <Button type="submit" variant="primary" disabled={errors.length > 0} data-testid="preview-cleanup">
              Preview
            </Button>
          </div>
        </form>
      </Card>

      <CleanupPolicies
        rules={rules}
        rulesValid={errors.length === 0}
        onLoad={(saved) => {
          setDrafts(saved.map(draftOf));
          setPreviewed(null);
        }}
      />

      {apply.data ? (
        <Card title="Result">
          <div role="status" data-testid="cleanup-result" className="space-y-2 text-sm">
            <p className="font-medium text-emerald-700 dark:text-emerald-400">
              Cleanup applied: {plural(apply.data.deleted.length, "manifest")} deleted, {plural(apply.data.untagged.length, "tag")} removed from manifests that stay.
            </p>
            <p>
              <span data-testid="cleanup-frees">
                A garbage collection with a grace period of {formatPeriod(apply.data.preview.graceMs)} (gc.grace) run now frees {formatBytes(apply.data.preview.totalBytes)} of what this cleanup
                unreferenced
                {apply.data.preview.bytesInGrace > 0
                  ? `; ${formatBytes(apply.data.preview.bytesInGrace)} more, of blobs modified within the grace period, once it has passed`
                  : ""}
                .
              </span>{" "}
              <Link href="/gc" className={linkClass}>
                Go to garbage collection
              </Link>
            </p>
            {apply.data.skipped.length > 0 ? (
              <div>
                <p className="text-amber-700 dark:text-amber-300">{plural(apply.data.skipped.length, "planned change")} skipped because storage changed meanwhile:</p>
                <ul className="list-disc pl-5">
                  {apply.data.skipped.map((skip, index) => (
                    <li key={index}>
                      {skip.repository} {skip.target}: {skip.reason}
                    </li>
                  ))}
                </ul>
              </div>
            ) : null}
          </div>
        </Card>
      ) : null}

      {previewed !== null ? (
        <Card
          title="Preview"
          actions={
            <label className="flex items-center gap-2 text-sm normal-case">
              <input type="checkbox" checked={onlyDeletes} onChange={(e) => setOnlyDeletes(e.target.checked)} /> Deletions only
            </label>
          }
        >
          <ErrorBox error={preview.error} title="Cannot preview" />
          {preview.isPending ? (
            <Loading label="Computing what the rules delete…" />
          ) : data ? (
            <div className="space-y-4">
              <div className="flex flex-wrap items-center gap-4 text-sm" data-testid="cleanup-summary">
                <span>
                  <strong className="text-red-700 dark:text-red-400">{plural(deletes.length, "tag")}</strong> to delete
                </span>
                <span>
                  <strong>{plural(data.rows.length - deletes.length, "tag")}</strong> kept
                </span>
                <span>
                  <strong>{plural(data.manifests.length, "manifest")}</strong> deleted
                </span>
                <span>
                  <strong>{formatBytes(data.totalBytes)}</strong> freed by the next GC (grace period {formatPeriod(data.graceMs)})
                  {data.bytesInGrace > 0 ? `, ${formatBytes(data.bytesInGrace)} more once it has passed` : ""}
                </span>
                <span className="ml-auto">
                  {canApply ? (
                    <Button variant="danger" disabled={deletes.length === 0 && data.manifests.length === 0 && data.untags.length === 0} onClick={() => setConfirming(true)} data-testid="apply-cleanup">
                      Apply…
                    </Button>
                  ) : (
                    <NeedsRole role="maintainer" what="Applying a cleanup" />
                  )}
                </span>
              </div>
              {stale ? <p className="text-sm text-amber-700 dark:text-amber-300">The rules changed since this preview: preview again before applying.</p> : null}
              {shown.length === 0 ? (
                <Empty>{onlyDeletes ? "These rules delete nothing." : "No tags in matching repositories."}</Empty>
              ) : (
                <div className={tableScrollClass}>
                  <table className={tableClass} data-testid="cleanup-preview">
                    <thead>
                      <tr>
                        <th scope="col" className={thClass}>
                          Repository
                        </th>
                        <th scope="col" className={thClass}>
                          Tag
                        </th>
                        <th scope="col" className={thClass}>
                          Digest
                        </th>
                        <th scope="col" className={thClass}>
                          Action
                        </th>
                        <th scope="col" className={thClass}>
                          Why
                        </th>
                        <th scope="col" className={thClass}>
                          Pushed
                        </th>
                        <th scope="col" className={`${thClass} text-right`}>
                          Frees
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {shown.map((row) => (
                        <tr key={`${row.repository}:${row.tag}`} className={rowClass} data-testid="cleanup-row" data-action={row.action}>
                          <td className={tdClass}>
                            <Link href={repositoryHref(row.repository)} className={linkClass}>
                              {row.repository}
                            </Link>
                          </td>
                          <td className={`${tdClass} font-mono`}>
                            <Link href={imageHref(row.repository, row.tag)} className="hover:underline">
                              {row.tag}
                            </Link>
                          </td>
                          <td className={tdClass}>
                            <Digest digest={row.digest} copy={false} />
                          </td>
                          <td className={tdClass}>
                            <Badge tone={row.action === "delete" ? "bad" : "good"}>{row.action === "delete" ? "delete" : "keep"}</Badge>
                          </td>
                          <td className={`${tdClass} text-slate-600 dark:text-slate-300`}>{row.reason}</td>
                          <td className={tdClass} title={formatTime(row.pushedAt)}>
                            {formatAgo(row.pushedAt)}
                          </td>
                          <td className={`${tdClass} text-right tabular-nums`}>{row.bytes > 0 ? formatBytes(row.bytes) : "—"}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                  {(onlyDeletes ? deletes.length : data.rows.length) > shown.length ? (
                    <p className="mt-2 text-xs text-slate-500">Showing the first {shown.length} rows.</p>
                  ) : null}
                </div>
              )}
            </div>
          ) : null}
        </Card>
      ) : null}

      <Dialog
        open={confirming}
        onClose={() => (apply.isPending ? undefined : setConfirming(false))}
        title="Apply the cleanup rules?"
        footer={
          <>
            <Button onClick={() => setConfirming(false)} disabled={apply.isPending}>
              Cancel
            </Button>
            <Button variant="danger" onClick={() => previewed && apply.mutate({ rules: previewed })} disabled={apply.isPending || !previewed} data-testid="confirm-cleanup">
              {apply.isPending ? "Applying…" : `Delete ${plural(deletes.length, "tag")}`}
            </Button>
          </>
        }
      >
        <div className="space-y-2">
          <p>
            This deletes {plural(deletes.length, "tag")} and {plural(data?.manifests.length ?? 0, "manifest")} as previewed (the plan is computed again
            when applied, so pushes made since the preview count). Space is freed by the next garbage collection.
          </p>
          {apply.isPending ? (
            <p role="status" className="text-slate-600 dark:text-slate-300">
              Deleting… (large cleanups take a while; keep this page open)
            </p>
          ) : null}
          <ErrorBox error={apply.error} title="Cleanup failed" />
        </div>
      </Dialog>
    </div>
  );
}
