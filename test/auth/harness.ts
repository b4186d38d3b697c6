/**
 * Shared plumbing for the auth tests: the real engine (in-memory storage) with the token server
 * mounted on the same port, and a logger whose lines the tests can read.
 */
import { hashSync } from "bcryptjs";
import { isTokenServerPath, type TokenServer } from "../../server/auth/token-server.js";
import { createLogger, type Logger } from "../../server/log.js";
import type { AccessController } from "../../server/registry/access.js";
import { startRegistry, type TestRegistry } from "../support/server.js";

export { removeDir, tempDir } from "../support/files.js";

export interface CapturingLogger extends Logger {
  lines: string[];
}

/** A logger that keeps its lines (and prints nothing). */
export function capturingLogger(level: "error" | "warn" | "info" | "debug" = "debug"): CapturingLogger {
  const lines: string[] = [];
  const logger = createLogger({ level, format: "json", write: (line) => lines.push(line) });
  return Object.assign(logger, { lines });
}

export type { TestRegistry } from "../support/server.js";

export interface TestRegistryOptions {
  access: () => AccessController | undefined;
  /** Mounted at /api/v1/authorize/registry/ (returned lazily so it can be created after the port is known). */
  tokenServer?: () => TokenServer | undefined;
  logger?: Logger;
}

/**
 * The engine (in-memory storage, deletes enabled) with the token server on the same port and
 * nothing else, routed the way serve.ts does.
 */
export function startTestRegistry(options: TestRegistryOptions): Promise<TestRegistry> {
  return startRegistry({
    logger: options.logger,
    deleteEnabled: true,
    secret: "auth-tests",
    access: options.access,
    route: (req, res) => {
      const url = req.url ?? "/";
      const tokenServer = options.tokenServer?.();
      if (tokenServer && isTokenServerPath(url)) {
        tokenServer.handle(req, res);
        return true;
      }
      if (url === "/v2" || url.startsWith("/v2/") || url.startsWith("/v2?")) return false;
      res.writeHead(404).end();
      return true;
    },
  });
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
