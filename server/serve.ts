import { createServer, type Server } from "node:http";
import { resolve } from "node:path";
import { createApiHandler, trpcBasePath } from "./api/handler.js";
import { parseListenAddress } from "./config/address.js";
import { storageDriver } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { createConsole, type ConsoleHandler } from "./console.js";
import { createLogger, type Logger } from "./log.js";
import { packageRoot, version } from "./package-info.js";
import { createRegistry, type Registry } from "./registry/handler.js";
import { createDriver } from "./registry/storage/factory.js";

export interface ServeOptions {
  config: Config;
  /** Run Next.js in development mode (hot reload). */
  dev?: boolean;
  /** Serve `/v2/` only, without the console. */
  registryOnly?: boolean;
  logger?: Logger;
}

export interface RunningBerth {
  server: Server;
  registry: Registry;
  url: string;
  close(): Promise<void>;
}

/** Builds the one process: `/v2/` → engine, `/api/trpc/` → tRPC, everything else → Next.js. */
export async function serve(options: ServeOptions): Promise<RunningBerth> {
  const { config } = options;
  const logger =
    options.logger ?? createLogger({ level: config.log.level, format: config.log.formatter, fields: config.log.fields });
  const { name, params } = storageDriver(config);
  const driver = createDriver(name, resolveRelativeRoot(name, params));
  const registry = createRegistry({
    driver,
    logger,
    deleteEnabled: config.storage.delete?.enabled ?? false,
    redirect: config.storage.redirect?.disable !== true,
    secret: config.http.secret,
    readOnly: () => config.storage.maintenance?.readonly?.enabled ?? false,
  });
  const api = createApiHandler({ registry, version, startedAt: new Date() });
  const consoleHandler: ConsoleHandler | undefined = options.registryOnly
    ? undefined
    : createConsole({ dir: packageRoot, dev: options.dev ?? false, logger });

  const server = createServer((req, res) => {
    const url = req.url ?? "/";
    if (url === "/v2" || url.startsWith("/v2/") || url.startsWith("/v2?")) return registry.handle(req, res);
    if (url.startsWith(trpcBasePath)) return api(req, res);
    if (consoleHandler) return consoleHandler(req, res);
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
    res.end("404 page not found\n");
  });
  // Layer uploads can take longer than Node's default request timeout.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;

  const { host, port } = parseListenAddress(config.http.addr);
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolveListen();
    });
  });
  const address = server.address();
  const boundPort = typeof address === "object" && address ? address.port : port;
  const url = `http://${host && host !== "0.0.0.0" && host !== "::" ? (host.includes(":") ? `[${host}]` : host) : "localhost"}:${boundPort}`;
  logger.info("listening", { url, storage: name, version });

  return {
    server,
    registry,
    url,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}

/** The embedded default says `./data`; resolve it against the working directory once, at start. */
function resolveRelativeRoot(name: string, params: Record<string, unknown>): Record<string, unknown> {
  if (name !== "filesystem" || typeof params.rootdirectory !== "string") return params;
  return { ...params, rootdirectory: resolve(params.rootdirectory) };
}
