import { initTRPC, TRPCError } from "@trpc/server";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuthStatus } from "../auth/etcd-toggle.js";
import type { Config } from "../config/schema.js";
import type { MetadataIndex } from "../index/metadata-index.js";
import type { MaintenanceServices } from "../maintenance/services.js";
import type { ReloadResult } from "../config/reload.js";
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

export interface ProcedureMeta {
  /**
   * The procedure acts only on the caller's own session or account (log out, change one's own
   * password), so any logged-in user may call it even when it is a mutation.
   */
  selfService?: boolean;
}

const t = initTRPC.context<ApiContext>().meta<ProcedureMeta>().create();

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
/** Only for logging in: everything else in the console needs a session. */
export const publicProcedure = t.procedure;

/**
 * Everything but login. Roles are decided here, once, by the kind of procedure, so a new one
 * cannot forget its check: queries are for any logged-in user, mutations (and anything else
 * that is not a query) for admins only, unless the procedure is `selfService`.
 */
export const protectedProcedure = t.procedure.use(({ ctx, type, meta, next }) => {
  if (!ctx.session) throw new TRPCError({ code: "UNAUTHORIZED", message: "log in to use the console" });
  if (type !== "query" && !meta?.selfService && ctx.session.role !== "admin") {
    throw new TRPCError({ code: "FORBIDDEN", message: `only an admin may do this; ${ctx.session.user} is a ${ctx.session.role}` });
  }
  return next({ ctx: { ...ctx, session: ctx.session } });
});
