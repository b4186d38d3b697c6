import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import type { IncomingMessage, ServerResponse } from "node:http";
import { appRouter } from "./root.js";
import type { ApiServices } from "./trpc.js";

export const trpcBasePath = "/api/trpc/";

/**
 * tRPC served by the same Node process that owns the engine, so procedures share its services.
 * Mutations are refused cross-site: the session cookie is SameSite=Strict, and a POST must carry
 * JSON from the console's own origin (a form on another site can send neither).
 */
export function createApiHandler(services: ApiServices): (req: IncomingMessage, res: ServerResponse) => void {
  const handle = createHTTPHandler({
    router: appRouter,
    basePath: trpcBasePath,
    createContext: async ({ req, res }) => ({ ...services, session: await services.sessions.fromRequest(req), req, res }),
  });
  return (req, res) => {
    if (req.method === "POST" && !sameOriginJSON(req)) {
      res.writeHead(403, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { message: "cross-site request refused" } }));
      return;
    }
    handle(req, res);
  };
}

function sameOriginJSON(req: IncomingMessage): boolean {
  if (!(req.headers["content-type"] ?? "").startsWith("application/json")) return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
