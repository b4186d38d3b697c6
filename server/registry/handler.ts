import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../log.js";
import type { StorageDriver } from "./storage/driver.js";
import { RegistryError } from "./errors.js";

export const apiVersionHeader = { "Docker-Distribution-API-Version": "registry/2.0" } as const;

export interface RegistryOptions {
  driver: StorageDriver;
  logger: Logger;
}

export interface RegistryHealth {
  ok: boolean;
  storage: { driver: string; ok: boolean; error?: string };
}

export interface Registry {
  /** Plain Node handler for everything under `/v2/`. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  health(): Promise<RegistryHealth>;
}

export function createRegistry(options: RegistryOptions): Registry {
  const { driver, logger } = options;

  async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path === "/v2/" || path === "/v2") {
      if (req.method !== "GET" && req.method !== "HEAD") throw new RegistryError("METHOD_UNKNOWN");
      return sendJSON(res, 200, {}, req.method === "HEAD");
    }
    throw new RegistryError("NOT_FOUND", { path });
  }

  return {
    handle(req, res) {
      dispatch(req, res).catch((error: unknown) => sendError(res, error, logger));
    },
    async health() {
      try {
        await driver.list("/").catch((error: unknown) => {
          if ((error as { kind?: string }).kind !== "not-found") throw error;
        });
        return { ok: true, storage: { driver: driver.name, ok: true } };
      } catch (error) {
        return { ok: false, storage: { driver: driver.name, ok: false, error: (error as Error).message } };
      }
    },
  };
}

function sendJSON(res: ServerResponse, status: number, body: unknown, headOnly = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...apiVersionHeader,
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(headOnly ? undefined : text);
}

function sendError(res: ServerResponse, error: unknown, logger: Logger): void {
  const registryError =
    error instanceof RegistryError ? error : new RegistryError("UNKNOWN", undefined, undefined, { cause: error });
  if (registryError.status >= 500) logger.error("request failed", { error: String((error as Error)?.stack ?? error) });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.setHeader("Docker-Distribution-API-Version", "registry/2.0");
  for (const [name, value] of Object.entries(registryError.headers)) res.setHeader(name, value);
  sendJSON(res, registryError.status, registryError.toJSON());
}
