import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { ConsoleUserError, newPassword, roles, userName } from "../../console-auth/users.js";
import { recordActivity } from "../../maintenance/activity.js";
import { adminProcedure, router } from "../trpc.js";

/** The console users' typed refusals as tRPC codes (also used by the auth router). */
export function userRefusal(error: unknown): never {
  if (error instanceof ConsoleUserError) {
    const code = error.kind === "not-found" ? "NOT_FOUND" : error.kind === "wrong-password" ? "BAD_REQUEST" : "CONFLICT";
    throw new TRPCError({ code, message: error.message, cause: error });
  }
  throw error;
}

const role = z.enum(roles);

/** Console user management, for admins; every change but adding one ends the user's sessions. */
export const usersRouter = router({
  /** Names, roles and whether disabled (never the hashes). */
  list: adminProcedure.query(({ ctx }) => ctx.users.list()),

  add: adminProcedure.input(z.object({ name: userName, password: newPassword, role })).mutation(async ({ ctx, input }) => {
    const account = await ctx.users.add(input.name, input.password, input.role).catch(userRefusal);
    await recordActivity(ctx.maintenance, { user: ctx.session.user, action: "user.add", summary: `added console user ${input.name} (${input.role})` });
    return account;
  }),

  /** Sets another user's password (e.g. a forgotten one). */
  setPassword: adminProcedure.input(z.object({ name: userName, password: newPassword })).mutation(async ({ ctx, input }) => {
    await ctx.users.setPassword(input.name, input.password).catch(userRefusal);
    await recordActivity(ctx.maintenance, { user: ctx.session.user, action: "user.password", summary: `set the password of console user ${input.name}` });
    return { ok: true };
  }),

  setRole: adminProcedure.input(z.object({ name: userName, role })).mutation(async ({ ctx, input }) => {
    await ctx.users.setRole(input.name, input.role).catch(userRefusal);
    await recordActivity(ctx.maintenance, { user: ctx.session.user, action: "user.role", summary: `made console user ${input.name} ${input.role === "admin" ? "an admin" : `a ${input.role}`}` });
    return { ok: true };
  }),

  /** Disables (logins refused, sessions ended) or enables the user again. */
  setDisabled: adminProcedure.input(z.object({ name: userName, disabled: z.boolean() })).mutation(async ({ ctx, input }) => {
    await ctx.users.setDisabled(input.name, input.disabled).catch(userRefusal);
    await recordActivity(ctx.maintenance, {
      user: ctx.session.user,
      action: input.disabled ? "user.disable" : "user.enable",
      summary: `${input.disabled ? "disabled" : "enabled"} console user ${input.name}`,
    });
    return { ok: true };
  }),

  remove: adminProcedure.input(z.object({ name: userName })).mutation(async ({ ctx, input }) => {
    await ctx.users.remove(input.name).catch(userRefusal);
    await recordActivity(ctx.maintenance, { user: ctx.session.user, action: "user.remove", summary: `removed console user ${input.name}` });
    return { ok: true };
  }),
});
