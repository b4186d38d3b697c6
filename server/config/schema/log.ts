import { z } from "zod";
import { anyMap, bool, oneOf, str, strList } from "./scalars.js";
import { optional, section, withDefault } from "./structure.js";

export type LogLevel = "error" | "warn" | "info" | "debug";

/**
 * distribution accepts error, warn, info, debug. Logrus' other names are mapped (and reported as a
 * warning): panic and fatal → error, trace → debug, warning → warn.
 */
export const logLevelAliases: Record<string, LogLevel> = { panic: "error", fatal: "error", trace: "debug", warning: "warn" };
export const logLevel = () => oneOf(["error", "warn", "info", "debug"] as const, logLevelAliases);

const logHook = section({
  disabled: optional(bool()),
  type: optional(str()),
  levels: optional(strList()),
  options: optional(anyMap()),
}, { envAliases: { MAILOPTIONS: "options" } });

export const logSchema = section({
  level: withDefault(logLevel(), "info"),
  formatter: withDefault(oneOf(["text", "json", "logstash"] as const), "text"),
  fields: optional(anyMap()),
  accesslog: optional(section({ disabled: optional(bool()) })),
  hooks: optional(z.array(logHook)),
  reportcaller: optional(bool()),
});
