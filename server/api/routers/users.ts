import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { ConsoleUserError, newPassword, roles, userName } from "../../console-auth/users.js";
import { recordActivity } from "../../maintenance/activity.js";
import { protectedProcedure, router } from "../trpc.js";

/** The console users' typed refusals as tRPC codes (also used by the auth router). */
export function userRefusal(error: unknown): never {
  if (error instanceof ConsoleUserError) {
    const code = error.kind === "not-found" ? "NOT_FOUND" : error.kind === "wrong-password" ? "BAD_REQUEST" : "CONFLICT";
    throw new TRPCError({ code, message: error.message, cause: error });
  }
  throw error;
}

const role = z.enum(roles);

/** Console user management; changes are admin-only like every mutation (server/api/trpc.ts). */
export const usersRouter = router({
  /** Names and roles (never the hashes). */
  list: protectedProcedure.query(({ ctx }) => ctx.users.list()),

  add: protectedProcedure.input(z.object({ name: userName, password: newPassword, role })).mutation(async ({ ctx, input }) => {
    const account = await ctx.users.add(input.name, input.password, input.role).catch(userRefusal);
    await recordActivity(ctx.maintenance, { user: ctx.session.user, action: "user.add", summary: `added console user ${input.name} (${input.role})` });
    return account;
  }),

  /** Sets another user's password (e.g. a forgotten one); every session of that user ends. */
  setPassword: protectedProcedure.input(z.object({ name: userName, password: newPassword })).mutation(async ({ ctx, input }) => {
    await ctx.users.setPassword(input.name, input.password).catch(userRefusal);
    await recordActivity(ctx.maintenance, { user: ctx.session.user, action: "user.password", summary: `set the password of console user ${input.name}` });
    return { ok: true };
  }),

  setRole: protectedProcedure.input(z.object({ name: userName, role })).mutation(async ({ ctx, input }) => {
    await ctx.users.setRole(input.name, input.role).catch(userRefusal);
    await recordActivity(ctx.maintenance, { user: ctx.session.user, action: "user.role", summary: `made console user ${input.name} ${input.role === "admin" ? "an admin" : "a viewer"}` });
    return { ok: true };
  }),

  /** Removes the user; their sessions end at once. */
  remove: protectedProcedure.input(z.object({ name: userName })).mutation(async ({ ctx, input }) => {
    await ctx.users.remove(input.name).catch(userRefusal);
    await recordActivity(ctx.maintenance, { user: ctx.session.user, action: "user.remove", summary: `removed console user ${input.name}` });
    return { ok: true };
  }),
});
