import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import type { IncomingMessage, ServerResponse } from "node:http";
import { appRouter } from "./root.js";
import type { ApiContext } from "./trpc.js";

export const trpcBasePath = "/api/trpc/";

/** tRPC served by the same Node process that owns the engine, so procedures share its services. */
export function createApiHandler(context: ApiContext): (req: IncomingMessage, res: ServerResponse) => void {
  return createHTTPHandler({
    router: appRouter,
    basePath: trpcBasePath,
    createContext: () => context,
  });
}
