import { DsnError, parseMysqlDsn } from "../../index/dsn.js";
import { bool, describeValue, duration, Failure, leaf, nonEmptyStr, oneOf, strList, toText } from "./scalars.js";
import { always, optional, section, withDefault } from "./structure.js";

// Berth's own: the admin console and its metadata index.

export const indexBackends = ["sqlite", "mysql"] as const;

/**
 * `console.index`: where the metadata index lives. `sqlite` (default) is a file in
 * `console.statedir`, one per instance; `mysql` is a MySQL/MariaDB database that several
 * instances share, at `dsn` (secret: it holds the password). See server/index/README.md.
 */
export const consoleIndexSchema = section({
  backend: withDefault(oneOf(indexBackends, { mariadb: "mysql" }), "sqlite"),
  dsn: optional(
    leaf("a MySQL DSN", (value) => {
      const text = toText(value);
      if (text === undefined) return new Failure(`expected a string, got ${describeValue(value)}`);
      try {
        parseMysqlDsn(text);
      } catch (error) {
        // The message never echoes the DSN: it holds the password.
        if (error instanceof DsnError) return new Failure(`is not a MySQL DSN: ${error.message}`);
        throw error;
      }
      return text;
    }),
  ),
}).superRefine((index, ctx) => {
  if (index.backend === "mysql" && index.dsn === undefined) {
    ctx.addIssue({ code: "custom", path: ["dsn"], message: "is required with backend: mysql (mysql://user:password@host:3306/database)" });
  }
});

export const consoleSchema = section({
  enabled: withDefault(bool(), true),
  /** Local state of this instance (the console's metadata index), never on the storage driver. */
  statedir: withDefault(nonEmptyStr(), "./data/berth-state"),
  /** Rebuild the metadata index from storage when its last rebuild is older than this. */
  indexmaxage: optional(duration()),
  index: always(consoleIndexSchema),
  /**
   * Directories a configuration saved or validated in the console may name (server/config/paths.ts);
   * absent: the config file's directory, the storage root and `statedir`.
   */
  allowedpaths: optional(strList()),
});
