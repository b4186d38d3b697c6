/**
 * Shared plumbing for the auth tests: the real engine (`createRegistry`, in-memory storage) behind
 * a real HTTP server, with the token server mounted on the same port, and a logger whose lines the
 * tests can read.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashSync } from "bcryptjs";
import { isTokenServerPath, type TokenServer } from "../../server/auth/token-server.js";
import { createLogger, type Logger } from "../../server/log.js";
import type { AccessController } from "../../server/registry/access.js";
import { createRegistry } from "../../server/registry/handler.js";
import { createDriver } from "../../server/registry/storage/factory.js";

export interface CapturingLogger extends Logger {
  lines: string[];
}

/** A logger that keeps its lines (and prints nothing). */
export function capturingLogger(level: "error" | "warn" | "info" | "debug" = "debug"): CapturingLogger {
  const lines: string[] = [];
  const logger = createLogger({ level, format: "json", write: (line) => lines.push(line) });
  return Object.assign(logger, { lines });
}

export interface TestRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT` for docker:// references. */
  host: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export interface TestRegistryOptions {
  access: () => AccessController | undefined;
  /** Mounted at /api/v1/authorize/registry/ (returned lazily so it can be created after the port is known). */
  tokenServer?: () => TokenServer | undefined;
  logger?: Logger;
  port?: number;
}

/** The engine on 127.0.0.1 (in-memory storage, deletes enabled), routed the way serve.ts will. */
export async function startTestRegistry(options: TestRegistryOptions): Promise<TestRegistry> {
  const logger = options.logger ?? createLogger({ level: "error" });
  const registry = createRegistry({
    driver: createDriver("inmemory"),
    logger,
    deleteEnabled: true,
    secret: "auth-tests",
    access: options.access,
  });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    const tokenServer = options.tokenServer?.();
    if (tokenServer && isTokenServerPath(url)) return tokenServer.handle(req, res);
    if (url === "/v2" || url.startsWith("/v2/") || url.startsWith("/v2?")) return registry.handle(req, res);
    res.writeHead(404).end();
  });
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    host: `127.0.0.1:${address.port}`,
    port: address.port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `berth-auth-${prefix}-`));
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}

/** htpasswd text with bcrypt entries (cost 4: fast tests; `$2y$` as `htpasswd -B` writes). */
export function htpasswdText(users: Record<string, string>): string {
  return Object.entries(users)
    .map(([user, password]) => `${user}:${hashSync(password, 4).replace(/^\$2b\$/, "$2y$")}`)
    .join("\n") + "\n";
}

export function basicHeader(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}
