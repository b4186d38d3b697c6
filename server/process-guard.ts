import type { Logger } from "./log.js";

/**
 * A running registry serves many clients at once: an error that slips past every request
 * handler (thrown from a stream callback, a promise nobody awaited) is logged, and the process
 * goes on serving the others instead of ending every push and pull in flight. Installed by
 * `berth serve` only, so that tests and short CLI commands still fail loudly.
 */
export function guardProcess(logger: Logger): () => void {
  const onException = (error: unknown): void => {
    logger.error("uncaught exception; still serving", { error: describe(error) });
  };
  const onRejection = (reason: unknown): void => {
    logger.error("unhandled promise rejection; still serving", { error: describe(reason) });
  };
  process.on("uncaughtException", onException);
  process.on("unhandledRejection", onRejection);
  return () => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
