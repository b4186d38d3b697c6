"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import type { PublicMirror } from "@/server/api/mirrors";
import type { MirrorCounts } from "@/server/proxy/stats";
import { formatAgo, formatBytes, formatCount, formatPeriod, formatTime, repositoryHref, shortDigest } from "./format";
import { useCan } from "./hooks";
import { useTRPC } from "./trpc";
import { Badge, Bar, Button, Card, Dialog, ErrorBox, Facts } from "./ui";

/** The overview's cards for the pull-through cache: one per upstream; nothing when none is configured. */
export function MirrorCards() {
  const trpc = useTRPC();
  const overview = useQuery({ ...trpc.proxy.overview.queryOptions(), refetchInterval: 15_000 });
  if (overview.error) return <ErrorBox error={overview.error} title="Pull-through cache statistics unavailable" />;
  const mirrors = overview.data?.mirrors ?? [];
  if (mirrors.length === 0) return null;
  return (
    <div className="grid gap-6 md:grid-cols-2 xl:grid-cols-3" data-testid="mirror-cards">
      {mirrors.map((mirror) => (
        <MirrorCard key={mirror.id} mirror={mirror} />
      ))}
    </div>
  );
}

function MirrorCard({ mirror }: { mirror: PublicMirror & { counts: MirrorCounts } }) {
  const { hits, misses, upstreamErrors, bytesFromCache, bytesFetched } = mirror.counts;
  const lookups = hits + misses;
  const maxBytes = Math.max(bytesFromCache, bytesFetched);
  return (
    <Card
      title={`Cache of ${mirror.prefix === "" ? "the whole registry" : `${mirror.prefix}/`}`}
      actions={upstreamErrors > 0 ? <Badge tone="warn">upstream errors</Badge> : null}
    >
      <div className="space-y-3 text-sm" data-testid={`mirror-${mirror.id}`}>
        <p className="truncate font-mono text-xs text-slate-600 dark:text-slate-300" title={mirror.remoteurl}>
          {mirror.remoteurl}
        </p>
        <div className="flex justify-between">
          <span>Hit rate</span>
          <span className="font-medium tabular-nums" data-testid="mirror-hit-rate" title={`${formatCount(hits)} hits, ${formatCount(misses)} misses`}>
            {lookups === 0 ? "—" : `${Math.round((hits / lookups) * 100)}%`}
          </span>
        </div>
        <ByteRow label="Served from cache" bytes={bytesFromCache} max={maxBytes} />
        <ByteRow label="Fetched from upstream" bytes={bytesFetched} max={maxBytes} className="bg-slate-400 dark:bg-slate-500" />
        <div className="flex justify-between">
          <span>Upstream errors</span>
          <span className="font-medium tabular-nums" data-testid="mirror-upstream-errors">
            {formatCount(upstreamErrors)}
          </span>
        </div>
        <p className="text-xs text-slate-500 dark:text-slate-400">
          Since this instance started · unused images expire {mirror.ttlMs === 0 ? "never" : `after ${formatPeriod(mirror.ttlMs)}`}
        </p>
      </div>
    </Card>
  );
}

function ByteRow({ label, bytes, max, className }: { label: string; bytes: number; max: number; className?: string }) {
  return (
    <div>
      <div className="flex justify-between">
        <span>{label}</span>
        <span className="font-medium tabular-nums">{formatBytes(bytes)}</span>
      </div>
      <Bar value={bytes} max={max} className={className} />
    </div>
  );
}

/**
 * On an image page: where a cached image came from, when it was stored and last pulled, when it
 * expires, and (for maintainers and admins) eviction. Nothing for an image that is not cached.
 */
export function CachedImageCard({ repository, digest }: { repository: string; digest: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const cached = useQuery(trpc.proxy.image.queryOptions({ repository, digest }));
  // The API refuses a viewer's eviction anyway; a viewer is not offered one.
  const canEvict = useCan("maintainer");
  const [confirming, setConfirming] = useState(false);
  const evict = useMutation(
    trpc.proxy.evict.mutationOptions({
      onSuccess: () => {
        // The index follows registry events right after the change: refresh now and once more shortly.
        const refresh = () => {
          for (const key of [trpc.repositories.pathKey(), trpc.images.pathKey(), trpc.proxy.pathKey()]) void queryClient.invalidateQueries({ queryKey: key });
        };
        refresh();
        setTimeout(refresh, 800);
        router.push(repositoryHref(repository));
      },
    }),
  );
  if (cached.error) return <ErrorBox error={cached.error} title="Cannot read this image's cache record" />;
  const data = cached.data;
  if (!data) return null;
  return (
    <Card
      title="Pull-through cache"
      id="cache"
      actions={
        canEvict ? (
          <Button variant="danger" size="sm" onClick={() => setConfirming(true)} data-testid="evict">
            Evict…
          </Button>
        ) : null
      }
    >
      <Facts
        items={[
          ["Cached from", <code key="u" className="break-all text-xs" data-testid="cached-from">{data.remoteurl}</code>],
          ["Cached at", formatTime(data.cachedAt)],
          ["Last pulled", <span key="p" title={formatTime(data.pulledAt)}>{formatAgo(data.pulledAt)}</span>],
          ["Expires", data.expiresAt === null ? "never (ttl 0)" : <span key="e" title={formatTime(data.expiresAt)}>{formatAgo(data.expiresAt)} unless pulled again</span>],
        ]}
      />
      <Dialog
        open={confirming}
        onClose={() => setConfirming(false)}
        title={`Evict ${repository}@${shortDigest(digest)}?`}
        footer={
          <>
            <Button onClick={() => setConfirming(false)} disabled={evict.isPending}>
              Cancel
            </Button>
            <Button variant="danger" onClick={() => evict.mutate({ repository, digest })} disabled={evict.isPending} data-testid="confirm-evict">
              {evict.isPending ? "Evicting…" : "Evict"}
            </Button>
          </>
        }
      >
        <div className="space-y-2">
          <ErrorBox error={evict.error} title="Cannot evict" />
          <p>
            The cached manifest and its tags are removed from this registry now; the next pull fetches it from <code className="break-all">{data.remoteurl}</code> again.
          </p>
          <p className="text-slate-500 dark:text-slate-400">Space is freed by the next garbage collection.</p>
        </div>
      </Dialog>
    </Card>
  );
}
