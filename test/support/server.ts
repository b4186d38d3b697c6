/**
 * The one way tests start an in-process HTTP server: on 127.0.0.1, on a port the OS picks (so
 * tests never collide), closed with its connections. Berth's engine behind such a server is
 * `startRegistry` below; a `berth serve` process is `startBerthProcess` in berth-cli.ts.
 *
 * Never run a synchronous child process (spawnSync, execSync) against a server started here: it
 * blocks the event loop the server answers from, and both wait for each other forever.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { createLogger, type Logger } from "../../server/log.js";
import { createRegistry, type Registry, type RegistryOptions } from "../../server/registry/handler.js";
import type { StorageDriver } from "../../server/registry/storage/driver.js";
import { createDriver } from "../../server/registry/storage/factory.js";

export interface ListenOptions {
  /** PEM key and certificate: an HTTPS server. */
  tls?: { key: string; cert: string };
  /** Default 0: the OS picks a free port. A fixed one is for restarting on the same address. */
  port?: number;
}

export interface ListeningServer {
  /** `http://127.0.0.1:PORT` (or `https://`), without a trailing slash. */
  url: string;
  /** `127.0.0.1:PORT`, for `docker://` references and config files. */
  host: string;
  port: number;
  server: http.Server;
  /** Drops open connections and waits until the server is closed; safe to call more than once. */
  close(): Promise<void>;
}

export async function listen(handler: http.RequestListener, options: ListenOptions = {}): Promise<ListeningServer> {
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}

export interface RegistryServerOptions extends Partial<Omit<RegistryOptions, "driver" | "logger">> {
  /** Default: in-memory storage, or the filesystem at `root` when that is given. */
  driver?: StorageDriver;
  root?: string;
  /** Default: level error, its lines kept in `errors`. */
  logger?: Logger;
  /** Serve this registry (built elsewhere, e.g. with the console's services); closing it stays the caller's. */
  registry?: Registry;
  /** Asked first for every request: answers it (a token server on the same port) by returning true. */
  route?: (req: IncomingMessage, res: ServerResponse) => boolean;
  port?: number;
}

export interface TestRegistry extends ListeningServer {
  registry: Registry;
  driver: StorageDriver;
  /** Lines the default logger wrote (5xx failures among them). */
  errors: string[];
  /** fetch against the registry by path; redirects are never followed. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/** Berth's engine (`createRegistry`) behind a real HTTP server; `close` stops both. */
export async function startRegistry(options: RegistryServerOptions = {}): Promise<TestRegistry> {
  const { driver: given, root, logger: givenLogger, registry: external, route, port, ...engineOptions } = options;
  const driver = given ?? (root === undefined ? createDriver("inmemory") : createDriver("filesystem", { rootdirectory: root }));
  const errors: string[] = [];
  const logger = givenLogger ?? createLogger({ level: "error", write: (line) => errors.push(line) });
  const registry = external ?? createRegistry({ ...engineOptions, driver, logger });
  const listening = await listen(
    (req, res) => {
      if (!route?.(req, res)) registry.handle(req, res);
    },
    { port },
  );
  // As serve.ts does: layer uploads can take longer than Node's default request timeout.
  listening.server.requestTimeout = 0;
  let closing: Promise<void> | undefined;
  return {
    ...listening,
    registry,
    driver,
    errors,
    fetch: (path, init = {}) => fetch(listening.url + path, { redirect: "manual", ...init }),
    close: () =>
      (closing ??= (async () => {
        await listening.close();
        if (!external) await registry.close();
      })()),
  };
}
