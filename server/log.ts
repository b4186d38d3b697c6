import { pino, type Logger as Pino } from "pino";
import { toLogfmt } from "./log-text.js";

/**
 * Structured logging on pino with distribution's levels and formatters. Callers pass fields,
 * never preformatted secrets: values under keys that look secret are redacted here as a last guard.
 */
export type LogLevel = "error" | "warn" | "info" | "debug";
export type LogFormat = "text" | "json" | "logstash";
export type LogFields = Record<string, unknown>;

/** One written entry as a hook sees it: after redaction, with the static fields merged in. */
export interface LogEntry {
  time: string;
  level: LogLevel;
  msg: string;
  fields: LogFields;
}

/** Gets the entries of the listed levels that pass the logger's level (distribution's `log.hooks`). */
export interface LogHook {
  levels: ReadonlySet<LogLevel>;
  /** Called synchronously on the logging path: must only queue, never block or throw. */
  fire(entry: LogEntry): void;
}

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  with(fields: LogFields): Logger;
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  /** A function is read on every call, so a configuration reload changes the level live. */
  level?: LogLevel | (() => LogLevel);
  format?: LogFormat;
  fields?: LogFields;
  /** Gets each line without its newline; default: standard error. */
  write?: (line: string) => void;
  hooks?: readonly LogHook[];
}

const rank: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const secretKey = /secret|password|passwd|token|accesskey|credential|authorization|cookie/i;
const REDACTED = "[redacted]";

/** Keys pino's redaction covers one level down (a nested `{auth: {password}}`); the top level is `redactFields`'. */
const nestedSecrets = ["password", "secret", "token", "authorization", "cookie"].map((key) => `*.${key}`);

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  const threshold = typeof level === "function" ? () => rank[level()] : () => rank[level];
  const format = options.format ?? "text";
  const write = options.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const hooks = options.hooks ?? [];
  const logstash = format === "logstash";

  const destination = {
    write(json: string) {
      const line = json.endsWith("\n") ? json.slice(0, -1) : json;
      const parsed = format === "text" || hooks.length > 0 ? (JSON.parse(line) as Record<string, unknown>) : undefined;
      write(parsed && format === "text" ? toLogfmt(parsed) : line);
      if (parsed) fireHooks(hooks, parsed, logstash);
    },
  };
  const root = pino(
    {
      // Levels are checked before pino is called (the threshold can change on reload).
      level: "debug",
      base: undefined,
      messageKey: logstash ? "message" : "msg",
      timestamp: logstash ? () => `,"@timestamp":"${new Date().toISOString()}","@version":"1"` : pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: redactFields },
      redact: { paths: nestedSecrets, censor: REDACTED },
    },
    destination,
  );
  return wrap(root.child(redactFields(options.fields ?? {})), threshold);
}

function wrap(target: Pino, threshold: () => number): Logger {
  const enabled = (level: LogLevel) => rank[level] <= threshold();
  const emit = (level: LogLevel) => (msg: string, fields?: LogFields) => {
    if (enabled(level)) target[level](fields ?? {}, msg);
  };
  return {
    error: emit("error"),
    warn: emit("warn"),
    info: emit("info"),
    debug: emit("debug"),
    with: (fields) => wrap(target.child(redactFields(fields)), threshold),
    enabled,
  };
}

function redactFields(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = secretKey.test(key) && value !== undefined && value !== "" ? REDACTED : value;
  }
  return out;
}

function fireHooks(hooks: readonly LogHook[], parsed: Record<string, unknown>, logstash: boolean): void {
  const timeKey = logstash ? "@timestamp" : "time";
  const msgKey = logstash ? "message" : "msg";
  const fields = { ...parsed };
  for (const key of ["level", timeKey, msgKey, "@version"]) delete fields[key];
  const entry: LogEntry = { level: parsed.level as LogLevel, time: String(parsed[timeKey]), msg: String(parsed[msgKey]), fields };
  for (const hook of hooks) {
    if (!hook.levels.has(entry.level)) continue;
    try {
      hook.fire(entry);
    } catch {
      // A hook must not take logging (and the request that logs) down with it.
    }
  }
}
