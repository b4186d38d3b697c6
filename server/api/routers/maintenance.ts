import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { PolicyNotFoundError, PolicyRunningError, cleanupPolicyInput } from "../../gc/policies.js";
import { GcBusyError, currentGarbageCollection, listHistory } from "../../gc/runner.js";
import { CleanupConflictError, DeletesDisabledError, cleanupRulesSchema } from "../../gc/cleanup.js";
import { formatDuration } from "../../config/units.js";
import { recordActivity } from "../../maintenance/activity.js";
import { ReadOnlyConflictError } from "../../maintenance/readonly.js";
import { RegistryError } from "../../registry/errors.js";
import { maintainerProcedure, router, viewerProcedure } from "../trpc.js";

export const digestInput = z.string().regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/, "not a digest");
const repositoryInput = z.string().min(1).max(255);
/** A grace period for one run, in milliseconds: up to 30 days, beyond which nothing is garbage yet. */
const graceInput = z.number().int().min(0).max(30 * 24 * 60 * 60_000);

/** Maps the maintenance services' typed refusals to tRPC codes, keeping the cause. */
function refusal(error: unknown): never {
  if (error instanceof RegistryError) {
    // The engine's refusals: read-only mode (UNSUPPORTED), an unknown manifest or tag, bad input.
    const code = error.code === "UNSUPPORTED" ? "CONFLICT" : error.status === 404 ? "NOT_FOUND" : error.status < 500 ? "BAD_REQUEST" : "INTERNAL_SERVER_ERROR";
    throw new TRPCError({ code, message: error.message, cause: error });
  }
  if (error instanceof PolicyNotFoundError) throw new TRPCError({ code: "NOT_FOUND", message: error.message, cause: error });
  if (error instanceof DeletesDisabledError) throw new TRPCError({ code: "PRECONDITION_FAILED", message: error.message, cause: error });
  if (error instanceof GcBusyError || error instanceof ReadOnlyConflictError || error instanceof CleanupConflictError || error instanceof PolicyRunningError) {
    throw new TRPCError({ code: "CONFLICT", message: error.message, cause: error });
  }
  throw error;
}

export const maintenanceRouter = router({
  readOnly: viewerProcedure.query(({ ctx }) => ctx.maintenance.readOnly.status()),

  setReadOnly: maintainerProcedure
    .input(z.object({ enabled: z.boolean(), reason: z.string().max(500).optional() }))
    .mutation(async ({ ctx, input }) => {
      const status = await ctx.maintenance.readOnly
        .set(input.enabled, { owner: ctx.session.user, reason: input.reason ?? (input.enabled ? "set from the console" : undefined) })
        .catch(refusal);
      await recordActivity(ctx.maintenance, {
        user: ctx.session.user,
        action: input.enabled ? "readonly.on" : "readonly.off",
        summary: input.enabled ? `read-only mode on${input.reason ? `: ${input.reason}` : ""}` : "read-only mode off",
      });
      return status;
    }),

  /**
   * Starts a garbage collection and answers at once; progress comes from `gcStatus`. The run
   * switches the registry to read-only (unless a dry run) and always restores it.
   */
  runGc: maintainerProcedure
    .input(z.object({ dryRun: z.boolean(), deleteUntagged: z.boolean(), graceMs: graceInput.optional(), readOnly: z.boolean().default(false) }))
    .mutation(async ({ ctx, input }) => {
      const { maintenance, session } = ctx;
      if (currentGarbageCollection(maintenance.driver)) {
        throw new TRPCError({ code: "CONFLICT", message: "a garbage collection is already running" });
      }
      // Answered once the lock is taken, so a run held by another instance (etcd) is refused
      // here rather than only in that instance's log.
      let started: () => void = () => undefined;
      const lockTaken = new Promise<void>((resolve) => (started = resolve));
      const graceMs = input.graceMs ?? maintenance.gcGraceMs();
      const run = maintenance.collect({ user: session.user, dryRun: input.dryRun, deleteUntagged: input.deleteUntagged, graceMs, readOnly: input.readOnly, onStarted: started });
      await Promise.race([lockTaken, run]).catch(refusal);
      void recordActivity(maintenance, {
        user: session.user,
        action: "gc.start",
        summary: `garbage collection started${input.dryRun ? " (dry run)" : ""}${input.deleteUntagged ? ", deleting untagged manifests" : ""}, grace period ${formatDuration(graceMs)}`,
      });
      // The outcome lands in the history; a failure is logged there and here.
      run.catch((error: unknown) => maintenance.logger.error("garbage collection failed", { error: String(error) }));
      return { started: true };
    }),

  gcStatus: viewerProcedure.query(({ ctx }) => ({ running: currentGarbageCollection(ctx.maintenance.driver) ?? null })),

  /**
   * The configured defaults of a run (`gc.grace`), for the GC page's form and the cleanup preview,
   * and `gc.schedule` with its next run.
   */
  gcSettings: viewerProcedure.query(({ ctx }) => {
    const schedule = ctx.maintenance.gcSchedule;
    return {
      graceMs: ctx.maintenance.gcGraceMs(),
      schedule: schedule ? { expression: schedule.expression, nextRun: schedule.nextRun()?.toISOString() ?? null } : null,
    };
  }),

  gcHistory: viewerProcedure
    .input(z.object({ limit: z.number().int().min(1).max(100).default(20) }))
    .query(({ ctx, input }) => listHistory(ctx.maintenance.driver, input.limit)),

  /** Deletes a manifest by digest with every tag on it (the API's DELETE by digest). */
  softDelete: maintainerProcedure
    .input(z.object({ repository: repositoryInput, digest: digestInput }))
    .mutation(async ({ ctx, input }) => {
      const result = await ctx.maintenance.cleanup.softDelete(input).catch(refusal);
      await recordActivity(ctx.maintenance, {
        user: ctx.session.user,
        action: "manifest.delete",
        summary: `deleted ${input.repository}@${input.digest}${result.sharedTags.length ? ` with tags ${result.sharedTags.join(", ")}` : ""}`,
        details: { ...input, tags: result.sharedTags },
      });
      return result;
    }),

  /** Removes one tag; the manifest stays while other tags use it. */
  untag: maintainerProcedure
    .input(z.object({ repository: repositoryInput, tag: z.string().regex(/^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/) }))
    .mutation(async ({ ctx, input }) => {
      const result = await ctx.maintenance.cleanup.untag(input).catch(refusal);
      await recordActivity(ctx.maintenance, {
        user: ctx.session.user,
        action: "tag.delete",
        summary: `removed tag ${input.repository}:${input.tag}`,
        details: { ...input, digest: result.digest },
      });
      return result;
    }),

  previewCleanup: viewerProcedure
    .input(z.object({ rules: cleanupRulesSchema }))
    .query(({ ctx, input }) => ctx.maintenance.cleanup.previewCleanup(input.rules)),

  applyCleanup: maintainerProcedure
    .input(z.object({ rules: cleanupRulesSchema }))
    .mutation(async ({ ctx, input }) => {
      const result = await ctx.maintenance.cleanup.applyCleanup(input.rules).catch(refusal);
      await recordActivity(ctx.maintenance, {
        user: ctx.session.user,
        action: "cleanup.apply",
        summary: `cleanup applied: ${result.deleted.length} manifests deleted, ${result.untagged.length} tags removed, ${result.skipped.length} skipped`,
        details: { rules: input.rules },
      });
      return result;
    }),

  /** Saved cleanup policies (rules + whether to collect garbage after + an optional schedule). */
  policies: viewerProcedure.query(({ ctx }) => ctx.maintenance.policies.list()),

  savePolicy: maintainerProcedure
    .input(z.object({ id: z.string().min(1).optional(), policy: cleanupPolicyInput }))
    .mutation(({ ctx, input }) => ctx.maintenance.policies.save(input.policy, input.id).catch(refusal)),

  deletePolicy: maintainerProcedure
    .input(z.object({ id: z.string().min(1) }))
    .mutation(({ ctx, input }) => ctx.maintenance.policies.remove(input.id).catch(refusal)),

  /** Applies a saved policy now, then collects garbage when the policy says so; waits for both. */
  runPolicy: maintainerProcedure
    .input(z.object({ id: z.string().min(1) }))
    .mutation(async ({ ctx, input }) => {
      const result = await ctx.maintenance.policies.run(input.id, ctx.session.user).catch(refusal);
      await recordActivity(ctx.maintenance, {
        user: ctx.session.user,
        action: "cleanup.policy",
        summary: `cleanup policy run: ${result.applied.deleted.length} manifests deleted, ${result.applied.untagged.length} tags removed${result.gc ? `, garbage collection ${result.gc.status}` : ""}`,
        details: { id: input.id },
      });
      return result;
    }),
});
