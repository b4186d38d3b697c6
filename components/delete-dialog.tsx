"use client";

import { useMutation, useQueries, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { plural, shortDigest } from "./format";
import { useTRPC } from "./trpc";
import { Badge, Button, cx, Dialog, ErrorBox, Loading } from "./ui";

export interface DeleteTarget {
  /** The tag the person picked; null when deleting by digest (from the image page). */
  tag: string | null;
  digest: string;
}

type Mode = "untag" | "manifest";

/**
 * Deleting from the console. For each digest involved it lists every tag of the repository that
 * points at it, and offers "delete the tag(s) only" (the manifest stays while another tag uses
 * it) or "delete the manifest(s)", which removes every one of those tags too.
 */
export function DeleteDialog({
  repository,
  targets,
  open,
  onClose,
  onDone,
}: {
  repository: string;
  targets: DeleteTarget[];
  open: boolean;
  onClose: () => void;
  onDone?: (result: { mode: Mode; done: number; failed: number }) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const digests = [...new Set(targets.map((target) => target.digest))];
  const byDigest = useQueries({
    queries: digests.map((digest) => ({ ...trpc.repositories.tagsSharing.queryOptions({ repository, digest }), enabled: open, staleTime: 0 })),
  });
  const tagOnly = targets.every((target) => target.tag !== null);
  const [mode, setMode] = useState<Mode>(tagOnly ? "untag" : "manifest");
  const [progress, setProgress] = useState<{ done: number; total: number; errors: string[] } | null>(null);
  const untag = useMutation(trpc.maintenance.untag.mutationOptions());
  const softDelete = useMutation(trpc.maintenance.softDelete.mutationOptions());

  const loading = byDigest.some((query) => query.isPending);
  const loadError = byDigest.find((query) => query.error)?.error ?? null;
  const sharing = new Map(digests.map((digest, index) => [digest, byDigest[index]?.data ?? []]));
  const selectedTags = new Set(targets.map((target) => target.tag).filter((tag): tag is string => tag !== null));
  const allTags = [...new Set(digests.flatMap((digest) => sharing.get(digest) ?? []))];
  const extraTags = allTags.filter((tag) => !selectedTags.has(tag));
  const single = targets.length === 1 ? targets[0] : undefined;
  const effectiveMode: Mode = tagOnly ? mode : "manifest";
  const running = progress !== null && progress.done < progress.total;

  const run = async () => {
    const work: (() => Promise<unknown>)[] =
      effectiveMode === "untag"
        ? targets.map((target) => () => untag.mutateAsync({ repository, tag: target.tag ?? "" }))
        : digests.map((digest) => () => softDelete.mutateAsync({ repository, digest }));
    const errors: string[] = [];
    setProgress({ done: 0, total: work.length, errors });
    let failed = 0;
    for (let i = 0; i < work.length; i++) {
      try {
        await work[i]?.();
      } catch (error) {
        failed++;
        errors.push((error as Error).message);
      }
      setProgress({ done: i + 1, total: work.length, errors: [...errors] });
    }
    // The index follows registry events right after the change: refresh now and once more shortly.
    const refresh = () => {
      void queryClient.invalidateQueries({ queryKey: trpc.repositories.pathKey() });
      void queryClient.invalidateQueries({ queryKey: trpc.images.pathKey() });
    };
    refresh();
    setTimeout(refresh, 800);
    onDone?.({ mode: effectiveMode, done: work.length - failed, failed });
    if (failed === 0) close();
  };

  const close = () => {
    setProgress(null);
    setMode(tagOnly ? "untag" : "manifest");
    onClose();
  };

  const manifestCount = digests.length;
  const title = single ? (single.tag ? `Delete ${repository}:${single.tag}` : `Delete manifest ${shortDigest(single.digest)}`) : `Delete ${plural(targets.length, "tag")}`;

  return (
    <Dialog
      open={open}
      onClose={running ? () => undefined : close}
      title={title}
      wide
      footer={
        <>
          <Button onClick={close} disabled={running}>
            Cancel
          </Button>
          <Button variant="danger" onClick={run} disabled={running || loading || loadError !== null} data-testid="confirm-delete">
            {running
              ? `Deleting… ${progress?.done ?? 0}/${progress?.total ?? 0}`
              : effectiveMode === "untag"
                ? targets.length === 1
                  ? "Delete the tag"
                  : `Delete ${plural(targets.length, "tag")}`
                : manifestCount === 1
                  ? `Delete the manifest (${plural(allTags.length, "tag")})`
                  : `Delete ${manifestCount} manifests (${plural(allTags.length, "tag")})`}
          </Button>
        </>
      }
    >
      {loading ? (
        <Loading label="Looking up the tags that share these manifests…" />
      ) : (
        <div className="space-y-4">
          <ErrorBox error={loadError} title="Cannot list the tags sharing this manifest" />
          <div data-testid="shared-tags" className="space-y-2">
            {digests.map((digest) => {
              const tags = sharing.get(digest) ?? [];
              return (
                <div key={digest} className="rounded border border-slate-200 p-3 dark:border-slate-700">
                  <div className="mb-1 flex flex-wrap items-center gap-2">
                    <span className="text-slate-500 dark:text-slate-400">Manifest</span>
                    <code className="font-mono text-xs" title={digest}>
                      {shortDigest(digest, 16)}
                    </code>
                    <span className="text-slate-500 dark:text-slate-400">
                      — {tags.length === 0 ? "no tag points at it" : `${plural(tags.length, "tag")} point at it:`}
                    </span>
                  </div>
                  <ul className="flex flex-wrap gap-1.5" aria-label={`Tags of ${digest}`}>
                    {tags.map((tag) => (
                      <li key={tag}>
                        <Badge tone={selectedTags.has(tag) ? "bad" : "warn"} data-testid="shared-tag">
                          {tag}
                        </Badge>
                      </li>
                    ))}
                  </ul>
                </div>
              );
            })}
          </div>

          <fieldset className="space-y-2">
            <legend className="sr-only">What to delete</legend>
            {tagOnly ? (
              <label className={cx("flex cursor-pointer gap-3 rounded border p-3", mode === "untag" ? "border-sky-500 bg-sky-50 dark:bg-sky-950/40" : "border-slate-200 dark:border-slate-700")}>
                <input type="radio" name="delete-mode" checked={mode === "untag"} onChange={() => setMode("untag")} className="mt-1" />
                <span>
                  <span className="font-medium">{targets.length === 1 ? "Delete this tag only" : "Delete the selected tags only"}</span>
                  <span className="block text-slate-600 dark:text-slate-300">
                    Removes {[...selectedTags].join(", ")}. A manifest stays while another tag uses it; one left without tags is removed by a garbage collection with “delete untagged”.
                  </span>
                </span>
              </label>
            ) : null}
            <label className={cx("flex cursor-pointer gap-3 rounded border p-3", effectiveMode === "manifest" ? "border-red-500 bg-red-50 dark:bg-red-950/40" : "border-slate-200 dark:border-slate-700")}>
              <input type="radio" name="delete-mode" checked={effectiveMode === "manifest"} onChange={() => setMode("manifest")} className="mt-1" />
              <span>
                <span className="font-medium">
                  {manifestCount === 1 ? `Delete the manifest (all ${plural(allTags.length, "tag")})` : `Delete the ${manifestCount} manifests (all ${plural(allTags.length, "tag")})`}
                </span>
                <span className="block text-slate-600 dark:text-slate-300">
                  Deletes {manifestCount === 1 ? "the manifest" : "the manifests"} by digest, as <code>DELETE /v2/…/manifests/&lt;digest&gt;</code> does
                  {allTags.length > 0 ? `, with every tag on ${manifestCount === 1 ? "it" : "them"}: ${allTags.join(", ")}` : ""}.
                </span>
                {extraTags.length > 0 ? (
                  <span role="alert" className="mt-1 block font-medium text-red-700 dark:text-red-300" data-testid="extra-tags-warning">
                    This also deletes {plural(extraTags.length, "tag")} you did not select: {extraTags.join(", ")}.
                  </span>
                ) : null}
              </span>
            </label>
          </fieldset>
          <p className="text-slate-500 dark:text-slate-400">Space is freed by the next garbage collection.</p>
          {progress && progress.errors.length > 0 ? (
            <div role="alert" className="rounded border border-red-300 bg-red-50 p-3 text-red-800 dark:border-red-800 dark:bg-red-950/50 dark:text-red-200">
              {progress.errors.length} failed:
              <ul className="list-disc pl-5">
                {progress.errors.map((error, index) => (
                  <li key={index}>{error}</li>
                ))}
              </ul>
            </div>
          ) : null}
        </div>
      )}
    </Dialog>
  );
}
