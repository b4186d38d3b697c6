import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { sessionCookieHeader, sessionMaxAgeSeconds } from "../../console-auth/sessions.js";
import { protectedProcedure, publicProcedure, router } from "../trpc.js";

export const authRouter = router({
  login: publicProcedure
    .input(z.object({ user: z.string().min(1).max(128), password: z.string().min(1).max(1024) }))
    .mutation(async ({ ctx, input }) => {
      const client = ctx.req?.socket.remoteAddress ?? "local";
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
      await ctx.sessions.adoptStoredKey();
      const { value, session } = ctx.sessions.issue(user.name, user.admin);
      ctx.res?.setHeader("Set-Cookie", sessionCookieHeader(value, ctx.secure, sessionMaxAgeSeconds));
      return { user: session.user, admin: session.admin };
    }),
  logout: protectedProcedure.mutation(({ ctx }) => {
    ctx.res?.setHeader("Set-Cookie", sessionCookieHeader("", ctx.secure, 0));
    return { ok: true };
  }),
  me: protectedProcedure.query(({ ctx }) => ({ user: ctx.session.user, admin: ctx.session.admin })),
});
