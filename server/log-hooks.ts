import type { Config } from "./config/schema.js";
import { createLogger, type Logger, type LogLevel } from "./log.js";
import { MailHook } from "./log-mail.js";

export interface ServeLogger {
  logger: Logger;
  /** Sends what the hooks still hold; for shutdown. */
  close(): Promise<void>;
}

/**
 * The logger `berth serve` builds from `log`: level (live across reloads), formatter, static
 * fields, and a mail hook per active entry of `log.hooks`. A hook's own failures go to a
 * second logger without hooks, so a mail that cannot be sent is logged, never mailed.
 */
export function serveLogger(config: () => Config, write?: (line: string) => void): ServeLogger {
  const { formatter, fields, hooks: configured = [] } = config().log;
  const base = { level: () => config().log.level, format: formatter, fields, write };
  const plain = createLogger(base);
  const hooks = configured
    .filter((hook) => hook.disabled !== true)
    .map((hook) => {
      const { smtp, from = "", to = [] } = hook.options ?? {};
      return new MailHook({
        levels: new Set<LogLevel>(hook.levels ?? []),
        mail: { addr: smtp?.addr ?? "", username: smtp?.username, password: smtp?.password, insecure: smtp?.insecure, from, to },
        onFailure: (msg, details) => plain.warn(msg, details),
      });
    });
  return {
    logger: hooks.length > 0 ? createLogger({ ...base, hooks }) : plain,
    close: async () => {
      await Promise.all(hooks.map((hook) => hook.close()));
    },
  };
}
