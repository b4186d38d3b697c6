import { router, viewerProcedure } from "../trpc.js";

export const systemRouter = router({
  health: viewerProcedure.query(async ({ ctx }) => {
    const registry = await ctx.registry.health();
    const auth = ctx.authStatus();
    // etcd unreachable: Berth keeps the last known auth state, but says so.
    const etcdDown = auth.etcdKey !== undefined && !auth.connected;
    return {
      status: registry.ok && !etcdDown ? ("ok" as const) : ("degraded" as const),
      version: ctx.version,
      uptimeSeconds: Math.round((Date.now() - ctx.startedAt.getTime()) / 1000),
      storage: registry.storage,
      /** The `health` section's checks, as /debug/health judges them. */
      checks: registry.checks,
      auth: { mode: auth.mode, source: auth.source, etcd: auth.etcdKey ? { key: auth.etcdKey, connected: auth.connected, lastError: auth.lastError } : null },
    };
  }),
});
