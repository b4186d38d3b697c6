/**
 * Which database holds the metadata index (`sql.ts` says what the index needs of it): embedded
 * SQLite (`sqlite.ts`, the default, one file per instance) or a MySQL/MariaDB server
 * (`mysql.ts`, one index shared by several instances), each loaded only when chosen.
 */
import { displayDsn, parseMysqlDsn } from "./dsn.js";
import type { SqlDatabase } from "./sql.js";

export type IndexDatabaseSettings = { backend: "sqlite"; path: string } | { backend: "mysql"; dsn: string };

/** Opens the index's database, creating its tables (or recreating them for another schema version). */
export async function openDatabase(settings: IndexDatabaseSettings): Promise<SqlDatabase> {
  if (settings.backend === "sqlite") {
    const { openSqlite } = await import("./sqlite.js");
    return openSqlite(settings.path);
  }
  const { openMysql } = await import("./mysql.js");
  return openMysql(settings.dsn);
}

/** The settings as shown to people: a path, or the DSN without its password. */
export function describeDatabase(settings: IndexDatabaseSettings): string {
  return settings.backend === "sqlite" ? settings.path : displayDsn(parseMysqlDsn(settings.dsn));
}
