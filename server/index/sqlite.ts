import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { RunResult, SqlDatabase, SqlDialect, SqlSession, SqlValue } from "./sql.js";
import { schemaVersion, sqliteSchema } from "./schema.js";

const dialect: SqlDialect = {
  greatest: (...args) => `MAX(${args.join(", ")})`,
  onConflict: (key, assignments) => `ON CONFLICT (${key.join(", ")}) DO UPDATE SET ${assignments((column) => `excluded.${column}`).join(", ")}`,
  // SQLite's LIKE ignores ASCII case already.
  likeInsensitive: (column) => `${column} LIKE ? ESCAPE '\\'`,
};

/** A session over the connection itself: better-sqlite3 is synchronous, the promises are already settled. */
class Statements implements SqlSession {
  private readonly cache = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private stmt(sql: string): Database.Statement {
    let statement = this.cache.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.cache.set(sql, statement);
    }
    return statement;
  }

  all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return Promise.resolve(this.stmt(sql).all(...params) as T[]);
  }

  get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return Promise.resolve(this.stmt(sql).get(...params) as T | undefined);
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<RunResult> {
    return Promise.resolve({ changes: this.stmt(sql).run(...params).changes });
  }

  insertRows(table: string, columns: readonly string[], rows: readonly (readonly SqlValue[])[], ignore = false): Promise<void> {
    // In-process calls cost nothing: one prepared single-row statement, run per row.
    const statement = this.stmt(`INSERT${ignore ? " OR IGNORE" : ""} INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`);
    for (const row of rows) statement.run(...row);
    return Promise.resolve();
  }
}

/**
 * The embedded index: one SQLite file (WAL) per instance. Operations are queued one at a time:
 * a transaction's body is asynchronous, and on one connection anything run between its
 * statements would run inside it, seeing (or committing) half of it.
 */
class SqliteDatabase implements SqlDatabase {
  readonly dialect = dialect;
  private readonly statements: Statements;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Database.Database,
    readonly location: string,
  ) {
    this.statements = new Statements(db);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }

  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.serial(() => this.statements.all<T>(sql, params));
  }

  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.serial(() => this.statements.get<T>(sql, params));
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult> {
    return this.serial(() => this.statements.run(sql, params));
  }

  insertRows(table: string, columns: readonly string[], rows: readonly (readonly SqlValue[])[], ignore?: boolean): Promise<void> {
    return this.serial(() => this.statements.insertRows(table, columns, rows, ignore));
  }

  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const value = await fn(this.statements);
        this.db.exec("COMMIT");
        return value;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        throw error;
      }
    });
  }

  /** One file per instance: nobody else to exclude (a second process on the file is rare and harmless, see metadata-index.ts). */
  async exclusive<T>(_name: string, _wait: boolean, fn: () => Promise<T>): Promise<{ acquired: true; value: T }> {
    return { acquired: true, value: await fn() };
  }

  close(): Promise<void> {
    return this.serial(() => {
      this.db.close();
      return Promise.resolve();
    });
  }
}

/** Opens (creating) the file, or ":memory:"; a file of another schema version is emptied and recreated. */
export function openSqlite(path: string): SqlDatabase {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  if ((db.pragma("user_version", { simple: true }) as number) !== schemaVersion) {
    db.transaction(() => {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
      for (const { name } of tables) db.exec(`DROP TABLE IF EXISTS "${name.replaceAll('"', '""')}"`);
      db.exec(sqliteSchema);
      db.pragma(`user_version = ${schemaVersion}`);
    })();
  }
  return new SqliteDatabase(db, path);
}
