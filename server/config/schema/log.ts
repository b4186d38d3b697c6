import { z } from "zod";
import { parseListenAddress } from "../address.js";
import { anyMap, bool, describeValue, Failure, leaf, oneOf, str, strList, toText } from "./scalars.js";
import { optional, section, withDefault } from "./structure.js";

export type LogLevel = "error" | "warn" | "info" | "debug";

/**
 * distribution accepts error, warn, info, debug. Logrus' other names are mapped (and reported as a
 * warning): panic and fatal → error, trace → debug, warning → warn.
 */
export const logLevelAliases: Record<string, LogLevel> = { panic: "error", fatal: "error", trace: "debug", warning: "warn" };
export const logLevel = () => oneOf(["error", "warn", "info", "debug"] as const, logLevelAliases);

/** An SMTP server as distribution writes it: `host:port`. */
const smtpAddr = () =>
  leaf("host:port", (value) => {
    const text = toText(value);
    if (text === undefined) return new Failure(`expected host:port, got ${describeValue(value)}`);
    try {
      parseListenAddress(text);
      return text;
    } catch {
      return new Failure(`expected host:port such as "smtp.example.com:587", got ${JSON.stringify(text)}`);
    }
  });

const mailOptions = section({
  smtp: optional(section({
    addr: optional(smtpAddr()),
    username: optional(str()),
    password: optional(str()),
    insecure: optional(bool()),
  })),
  from: optional(str()),
  to: optional(strList()),
});

/** distribution's only hook type is `mail`: an active one needs a server, a sender, recipients and levels. */
const logHook = section({
  disabled: optional(bool()),
  type: optional(oneOf(["mail"] as const)),
  levels: optional(z.array(logLevel())),
  options: optional(mailOptions),
}, { envAliases: { MAILOPTIONS: "options" } }).superRefine((hook, ctx) => {
  if (hook.disabled === true) return;
  const missing = (path: (string | number)[], what: string) => ctx.addIssue({ code: "custom", path, message: `is required for a mail hook (${what})` });
  if (hook.type === undefined) missing(["type"], "type: mail");
  if (!hook.levels?.length) missing(["levels"], "the levels to mail, such as [error]");
  if (!hook.options?.smtp?.addr) missing(["options", "smtp", "addr"], "the SMTP server, host:port");
  if (!hook.options?.from) missing(["options", "from"], "the sender address");
  if (!hook.options?.to?.length) missing(["options", "to"], "a list of recipients");
});

export const logSchema = section({
  level: withDefault(logLevel(), "info"),
  formatter: withDefault(oneOf(["text", "json", "logstash"] as const), "text"),
  fields: optional(anyMap()),
  accesslog: optional(section({ disabled: optional(bool()) })),
  hooks: optional(z.array(logHook)),
  reportcaller: optional(bool()),
});
