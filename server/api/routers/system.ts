import { protectedProcedure, router } from "../trpc.js";

export const systemRouter = router({
  health: protectedProcedure.query(async ({ ctx }) => {
    const registry = await ctx.registry.health();
    return {
      status: registry.ok ? ("ok" as const) : ("degraded" as const),
      version: ctx.version,
      uptimeSeconds: Math.round((Date.now() - ctx.startedAt.getTime()) / 1000),
      storage: registry.storage,
    };
  }),
});
