/**
 * A small structured logger with distribution's levels and formatters. Callers pass fields,
 * never preformatted secrets: values under keys that look secret are redacted here as a last guard.
 */
export type LogLevel = "error" | "warn" | "info" | "debug";
export type LogFormat = "text" | "json" | "logstash";
export type LogFields = Record<string, unknown>;

const rank: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const secretKey = /secret|password|token|accesskey|credential/i;

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
  write?: (line: string) => void;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  const threshold = typeof level === "function" ? () => rank[level()] : () => rank[level];
  const format = options.format ?? "text";
  const base = options.fields ?? {};
  const write = options.write ?? ((line: string) => process.stderr.write(line + "\n"));

  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (rank[level] > threshold()) return;
    const all = redact({ ...base, ...fields });
    const time = new Date().toISOString();
    if (format === "text") {
      const rest = Object.entries(all)
        .map(([key, value]) => `${key}=${typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value ?? null)}`)
        .join(" ");
      write(`time="${time}" level=${level} msg=${JSON.stringify(msg)}${rest ? " " + rest : ""}`);
    } else {
      const timeKey = format === "logstash" ? "@timestamp" : "time";
      write(JSON.stringify({ [timeKey]: time, level, msg, ...all }));
    }
  };

  return {
    error: (msg, fields) => emit("error", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    debug: (msg, fields) => emit("debug", msg, fields),
    with: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
    enabled: (level) => rank[level] <= threshold(),
  };
}

function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = secretKey.test(key) && value !== undefined && value !== "" ? "[redacted]" : value;
  }
  return out;
}
