import { createServer } from "node:net";
import { eventually, type EventuallyOptions } from "./eventually.js";

/**
 * A port the OS just reported free. Another process can still take it before the caller binds,
 * so callers that spawn servers should retry on "address in use".
 */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("listening socket has no port"));
        return;
      }
      server.close(() => resolvePort(address.port));
    });
  });
}

export interface WaitForHttpOptions extends EventuallyOptions {
  /** Statuses that count as ready. Default: 200 only. */
  statuses?: number[];
}

/**
 * Polls `url` with GET until it answers one of the expected statuses, resolving with that status;
 * rejects after `timeoutMs`.
 */
export async function waitForHttp(url: string, timeoutMs = 10_000, options: WaitForHttpOptions = {}): Promise<number> {
  const statuses = options.statuses ?? [200];
  const deadline = Date.now() + timeoutMs;
  let status = 0;
  await eventually(
    async () => {
      const response = await fetch(url, { signal: AbortSignal.timeout(Math.max(1, Math.min(deadline - Date.now(), 2_000))) });
      await response.arrayBuffer();
      status = response.status;
      if (!statuses.includes(status)) throw new Error(`HTTP ${status}`);
    },
    timeoutMs,
    url,
    { intervalMs: options.intervalMs ?? 50, abort: options.abort },
  );
  return status;
}
