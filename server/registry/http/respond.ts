import type { ServerResponse } from "node:http";
import type { Logger } from "../../log.js";
import { RegistryError } from "../errors.js";
import { StorageError } from "../storage/driver.js";

export const apiVersionHeader = { "Docker-Distribution-API-Version": "registry/2.0" } as const;
export type Headers = Record<string, string | number>;

export function sendJSON(res: ServerResponse, status: number, body: unknown, headers: Headers = {}, headOnly = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...apiVersionHeader,
    "Content-Type": "application/json",
    ...headers,
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(headOnly ? undefined : text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Headers = {}): void {
  res.writeHead(status, { ...apiVersionHeader, "Content-Length": 0, ...headers });
  res.end();
}

/** The one place errors become responses: typed errors as the spec's JSON, anything else a logged 500. */
export function sendError(res: ServerResponse, error: unknown, logger: Logger, headOnly: boolean): void {
  const registryError = toRegistryError(error);
  if (registryError.status >= 500) {
    logger.error("request failed", { error: String((error as Error)?.stack ?? error) });
  }
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  sendJSON(res, registryError.status, registryError.toJSON(), registryError.headers, headOnly);
}

function toRegistryError(error: unknown): RegistryError {
  if (error instanceof RegistryError) return error;
  // Paths are validated before they reach storage; this is a last line, not a code path.
  if (error instanceof StorageError && error.kind === "invalid-path") return new RegistryError("NAME_INVALID");
  if (error instanceof StorageError && error.kind === "invalid-offset") return new RegistryError("RANGE_INVALID");
  return new RegistryError("UNKNOWN", undefined, undefined, { cause: error });
}
