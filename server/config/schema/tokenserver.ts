import { z } from "zod";
import { note } from "./note.js";
import { bool, describeValue, duration, nonEmptyStr, oneOf, strList } from "./scalars.js";
import { optional, section, withDefault } from "./structure.js";

/**
 * `tokenserver`: Berth as its own docker token server (the LAIN console's role), answering
 * `GET /api/v1/authorize/registry/`. See server/auth/README.md.
 */
export const tokenServerActions = ["pull", "push", "delete", "catalog", "*"] as const;

const tokenServerRule = section({
  /** User names; "*" is every authenticated user. */
  users: optional(strList()),
  /** Names of `tokenserver.groups`. */
  groups: optional(strList()),
  /** Also applies to requests without credentials (and so to everyone). */
  anonymous: optional(bool()),
  /** Glob patterns: `*` within one path component, `**` across components, `?` one character. */
  repositories: withDefault(strList(), ["**"]),
  actions: z.preprocess(
    (value) => (typeof value === "string" ? [value] : value),
    z.array(oneOf(tokenServerActions), { error: (iss) => `expected a list of actions (${tokenServerActions.join(", ")}), got ${describeValue(iss.input)}` }),
  ),
});

export const tokenServerSchema = section({
  enabled: withDefault(bool(), false),
  issuer: withDefault(nonEmptyStr(), "auth server"),
  service: optional(nonEmptyStr()),
  /** htpasswd file (bcrypt entries only). */
  users: optional(nonEmptyStr()),
  admins: withDefault(strList(), []),
  groups: optional(
    note(
      z.record(z.string(), strList(), { error: (iss) => `expected a mapping of group names to lists of users, got ${describeValue(iss.input)}` }),
      { open: true },
    ),
  ),
  /** PEM private key and certificate; both absent: generated once into `keydir`. */
  key: optional(nonEmptyStr()),
  certificate: optional(nonEmptyStr()),
  keydir: optional(nonEmptyStr()),
  expiration: withDefault(duration(), 5 * 60_000),
  /** Absent: every authenticated user may pull everything. Admins may always do everything. */
  rules: optional(z.array(tokenServerRule, { error: (iss) => `expected a list of rules, got ${describeValue(iss.input)}` })),
});
