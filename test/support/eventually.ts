/**
 * The one way tests wait for something that happens in the background (a watch firing, leftovers
 * cleaned up after the answer, a server coming up): retry a check until it holds or time is up.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface EventuallyOptions {
  /** Pause between attempts. Default 20 ms. */
  intervalMs?: number;
  /** Asked before each attempt; a reason gives up at once (e.g. "the server exited (code 1)"). */
  abort?: () => string | undefined;
}

/**
 * A predicate (`false` means "not yet") or an assertion (throwing means "not yet"); a predicate
 * has to say `true` or `false`, so a check that forgot to return cannot pass by accident.
 */
export type Check = () => boolean | void | Promise<boolean | void>;

/**
 * Runs `check` until it holds and resolves with the milliseconds that took. After `timeoutMs`
 * (or when `abort` gives a reason) it rejects with `what` and the check's last failure: the
 * message of what it threw, or that it returned false. `what` may be a function, for a message
 * that shows the state at the time of failure (e.g. a server's output).
 */
export async function eventually(check: Check, timeoutMs: number, what: string | (() => string), options: EventuallyOptions = {}): Promise<number> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let last = "no attempt made";
  for (;;) {
    const reason = options.abort?.();
    if (reason !== undefined) throw new Error(`gave up waiting for ${describeWhat(what)}: ${reason} (last: ${last})`);
    try {
      if ((await check()) !== false) return Date.now() - started;
      last = "the check returned false";
    } catch (error) {
      last = describe(error);
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${describeWhat(what)} (last: ${last})`);
    await sleep(Math.min(options.intervalMs ?? 20, remaining));
  }
}

function describeWhat(what: string | (() => string)): string {
  return typeof what === "function" ? what() : what;
}

/** fetch fails with "fetch failed" and the reason (ECONNREFUSED...) in `cause`. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
}
