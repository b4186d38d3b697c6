import { existsSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import type { Logger } from "./log.js";

type NextFactory = (options: { dev: boolean; dir: string }) => {
  prepare(): Promise<void>;
  getRequestHandler(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
};

export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The Next.js console, prepared in the background so the registry answers the moment the port
 * is open; console requests that arrive earlier wait for it.
 */
export function createConsole(options: { dir: string; dev: boolean; logger: Logger }): ConsoleHandler {
  const { dir, dev, logger } = options;
  if (!dev && !existsSync(join(dir, ".next", "BUILD_ID"))) {
    logger.warn("console not built: serving the registry only (run `npm run build` for the console)");
    return (_req, res) => {
      res.writeHead(503, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("The Berth console is not built. Run `npm run build`, then restart.\n");
    };
  }
  const ready = (async () => {
    // Next is CommonJS: depending on the loader, the default export is the factory itself or
    // the module object around it.
    const loaded: unknown = (await import("next")).default;
    const createNext = (typeof loaded === "function" ? loaded : (loaded as { default: unknown }).default) as NextFactory;
    const app = createNext({ dev, dir });
    await app.prepare();
    return app.getRequestHandler();
  })();
  ready.catch((error: unknown) => logger.error("console failed to start", { error: String(error) }));
  return (req, res) => {
    ready.then(
      (handle) => handle(req, res),
      () => {
        res.writeHead(503, { "Content-Type": "text/plain; charset=utf-8" });
        res.end("The Berth console failed to start; see the server log.\n");
      },
    );
  };
}
