import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { clientAddress } from "../../client-address.js";
import { sessionCookieHeader, sessionMaxAgeSeconds } from "../../console-auth/sessions.js";
import { newPassword } from "../../console-auth/users.js";
import { publicProcedure, router, selfServiceProcedure, viewerProcedure, type ApiContext } from "../trpc.js";
import { userRefusal } from "./users.js";

async function setSessionCookie(ctx: ApiContext, user: string): Promise<void> {
  const { value } = await ctx.sessions.issue(user);
  ctx.res?.setHeader("Set-Cookie", sessionCookieHeader(value, ctx.secure, sessionMaxAgeSeconds));
}

export const authRouter = router({
  login: publicProcedure
    .input(z.object({ user: z.string().min(1).max(128), password: z.string().min(1).max(1024) }))
    .mutation(async ({ ctx, input }) => {
      const client = ctx.req ? clientAddress(ctx.req, ctx.configuration.current().http.clientaddressheader) : "local";
      const wait = ctx.loginLimit.retryAfter(client);
      if (wait > 0) {
        throw new TRPCError({ code: "TOO_MANY_REQUESTS", message: `too many failed logins; try again in ${wait} s` });
      }
      const user = await ctx.users.verify(input.user, input.password);
      if (!user) {
        ctx.loginLimit.fail(client);
        throw new TRPCError({ code: "UNAUTHORIZED", message: "wrong user name or password" });
      }
      ctx.loginLimit.succeed(client);
      await setSessionCookie(ctx, user.name);
      return user;
    }),

  /** Ends every session of the user, in every browser and on every instance, not only this cookie. */
  logout: selfServiceProcedure.mutation(async ({ ctx }) => {
    await ctx.sessions.endAll(ctx.session.user);
    ctx.res?.setHeader("Set-Cookie", sessionCookieHeader("", ctx.secure, 0));
    return { ok: true };
  }),

  /** The caller's own password: their other sessions end, this browser gets a new cookie. */
  changePassword: selfServiceProcedure
    .input(z.object({ current: z.string().min(1).max(1024), password: newPassword }))
    .mutation(async ({ ctx, input }) => {
      await ctx.users.changePassword(ctx.session.user, input.current, input.password).catch(userRefusal);
      await setSessionCookie(ctx, ctx.session.user);
      return { ok: true };
    }),

  me: viewerProcedure.query(({ ctx }) => ({ user: ctx.session.user, role: ctx.session.role })),
});
