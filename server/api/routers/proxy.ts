import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { recordActivity } from "../../maintenance/activity.js";
import type { MirrorCounts } from "../../proxy/stats.js";
import { parseDigest, parseName } from "../../registry/reference.js";
import { publicMirror } from "../mirrors.js";
import { maintainerProcedure, router, viewerProcedure } from "../trpc.js";
import { digestInput } from "./maintenance.js";
import { answer, repositoryName } from "./repositories.js";

const counted = ["hits", "misses", "upstreamErrors", "bytesFromCache", "bytesFetched"] as const;

function noCounts(): MirrorCounts {
  return { hits: 0, misses: 0, upstreamErrors: 0, bytesFromCache: 0, bytesFetched: 0 };
}

/** The pull-through cache (server/proxy/README.md) in the console: its upstreams, its cached images. */
export const proxyRouter = router({
  /**
   * Every configured upstream with what it served since this instance started (counts are per
   * instance), and their sum; no upstreams when the registry caches none.
   */
  overview: viewerProcedure.query(({ ctx }) => {
    const cache = ctx.registry.services.proxy;
    const served = new Map((cache?.stats.snapshot() ?? []).map(({ id, counts }) => [id, counts]));
    const mirrors = (cache?.mirrors.list ?? []).map((mirror) => ({ ...publicMirror(mirror), counts: served.get(mirror.id) ?? noCounts() }));
    const totals = noCounts();
    for (const { counts } of mirrors) for (const key of counted) totals[key] += counts[key];
    return { mirrors, totals };
  }),

  /** When a manifest of a cached repository was stored, last pulled, and when it expires; null when not cached. */
  image: viewerProcedure.input(z.object({ repository: repositoryName, digest: digestInput })).query(({ ctx, input }) =>
    answer(async () => {
      const name = parseName(input.repository);
      const cache = ctx.registry.services.proxy;
      const match = cache?.match(name);
      if (!cache || !match) return null;
      const record = await cache.records.get(name, parseDigest(input.digest));
      if (!record) return null;
      const { id, remoteurl, ttlMs } = publicMirror(match.mirror);
      return { mirror: id, remoteurl, cachedAt: record.cachedAt, pulledAt: record.pulledAt, expiresAt: ttlMs === 0 ? null : record.pulledAt + ttlMs };
    }),
  ),

  /** Removes a cached manifest and its tags now; the next pull fetches it from the upstream again. */
  evict: maintainerProcedure.input(z.object({ repository: repositoryName, digest: digestInput })).mutation(({ ctx, input }) =>
    answer(async () => {
      const name = parseName(input.repository);
      const digest = parseDigest(input.digest);
      const cache = ctx.registry.services.proxy;
      const match = cache?.match(name);
      // Only cached content: evicting a pushed manifest would delete what exists nowhere else.
      if (!cache || !match) throw new TRPCError({ code: "BAD_REQUEST", message: `${name} is not a pull-through cache: delete its images instead` });
      const { maintenance } = ctx;
      // Counted like the registry's writes, so a collection holding the registry read-only waits for it.
      const end = maintenance.writes.beginWrite();
      try {
        if (maintenance.readOnly.isReadOnly()) throw new TRPCError({ code: "CONFLICT", message: "the registry is in read-only mode for maintenance; try again later" });
        await cache.evict(name, digest);
      } finally {
        end();
      }
      const { remoteurl } = publicMirror(match.mirror);
      await recordActivity(maintenance, {
        user: ctx.session.user,
        action: "proxy.evict",
        summary: `evicted ${name}@${digest.value} (cached from ${remoteurl})`,
        details: { repository: name, digest: digest.value, mirror: match.mirror.id },
      });
      return { repository: name, digest: digest.value };
    }),
  ),
});
