import { initTRPC, TRPCError } from "@trpc/server";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuthStatus } from "../auth/etcd-toggle.js";
import type { Config } from "../config/schema.js";
import type { MetadataIndex } from "../index/metadata-index.js";
import type { MaintenanceServices } from "../maintenance/services.js";
import type { ReloadResult } from "../config/reload.js";
import { hasRole, type Role } from "../console-auth/roles.js";
import type { ConsoleUsers } from "../console-auth/users.js";
import type { LoginRateLimit } from "../login-rate-limit.js";
import type { Session, Sessions } from "../console-auth/sessions.js";
import type { Registry } from "../registry/handler.js";

/** The process-wide services every procedure can reach. */
export interface ApiServices {
  registry: Registry;
  version: string;
  startedAt: Date;
  users: ConsoleUsers;
  sessions: Sessions;
  loginLimit: LoginRateLimit;
  /** Whether the console is served over HTTPS (cookies get `Secure`). */
  secure: boolean;
  /** Registry auth in force (config.yml or the etcd toggle) and etcd's reachability. */
  authStatus: () => AuthStatus;
  /** The console's metadata index (absent when the console is off: `--registry-only`). */
  index?: MetadataIndex;
  /** Read-only mode, garbage collection and cleanup. */
  maintenance: MaintenanceServices;
  /** The running configuration and the file it came from (absent: the embedded default). */
  configuration: {
    file: string | undefined;
    current(): Config;
    /** Re-reads the file and applies what can change live (what SIGHUP does). */
    reload(): Promise<ReloadResult>;
  };
}

/**
 * A request's context: the services, the session (if the cookie is valid), and the raw request
 * and response for the few procedures that set cookies. Tests build it without HTTP.
 */
export interface ApiContext extends ApiServices {
  session: Session | undefined;
  req?: IncomingMessage;
  res?: ServerResponse;
}

const t = initTRPC.context<ApiContext>().create();

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
/** Only for logging in: everything else in the console needs a session. */
export const publicProcedure = t.procedure;

const loggedIn = t.procedure.use(({ ctx, next }) => {
  if (!ctx.session) throw new TRPCError({ code: "UNAUTHORIZED", message: "log in to use the console" });
  return next({ ctx: { ...ctx, session: ctx.session } });
});

/**
 * A procedure open to `role` and the roles above it. Every procedure but login is built from
 * one of these (or selfServiceProcedure), so each names who may call it; test/api/guards.test.ts
 * lists the expected role of every procedure and fails on one it does not know.
 */
function requiring(role: Role) {
  return loggedIn.use(({ ctx, type, next }) => {
    // A viewer procedure that changes something would open it to everyone: refuse it outright.
    if (role === "viewer" && type !== "query") throw new TRPCError({ code: "FORBIDDEN", message: "a change needs a maintainer or an admin" });
    if (!hasRole(ctx.session.role, role)) {
      throw new TRPCError({ code: "FORBIDDEN", message: `this needs the ${role} role; ${ctx.session.user} is a ${ctx.session.role}` });
    }
    return next();
  });
}

/** Reads: any logged-in user. Queries only. */
export const viewerProcedure = requiring("viewer");
/** Deletes, cleanup, garbage collection, read-only mode, cache evictions. */
export const maintainerProcedure = requiring("maintainer");
/** Configuration, registry auth, console users. */
export const adminProcedure = requiring("admin");
/** Acts only on the caller's own session or account (log out, change one's own password): any logged-in user. */
export const selfServiceProcedure = loggedIn;
