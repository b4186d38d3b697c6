import { createServer } from "node:net";

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

export interface WaitForHttpOptions {
  /** Statuses that count as ready. Default: 200 only. */
  statuses?: number[];
  intervalMs?: number;
  /** Checked between attempts; a reason string aborts the wait early (e.g. "server exited"). */
  abort?: () => string | undefined;
}

/**
 * Polls `url` with GET until it answers one of the expected statuses, resolving with that status;
 * rejects after `timeoutMs`.
 */
export async function waitForHttp(url: string, timeoutMs = 10_000, options: WaitForHttpOptions = {}): Promise<number> {
  const statuses = options.statuses ?? [200];
  const interval = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last = "no attempt made";
  for (;;) {
    const reason = options.abort?.();
    if (reason) throw new Error(`gave up waiting for ${url}: ${reason}`);
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(Math.min(remaining, 2_000)) });
      await response.arrayBuffer();
      if (statuses.includes(response.status)) return response.status;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    }
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(0, deadline - Date.now()))));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${url} (last: ${last})`);
}
