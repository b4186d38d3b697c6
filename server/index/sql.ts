/**
 * The SQL database under the metadata index, as the index store needs it: a session that runs
 * statements, transactions, and a lock shared by every instance on the database. Implemented by
 * embedded SQLite (`sqlite.ts`) and a MySQL/MariaDB server (`mysql.ts`); `database.ts` opens one.
 */

export type SqlValue = string | number | null;

export interface RunResult {
  /** Rows inserted, updated or deleted. */
  changes: number;
}

/** Runs statements with `?` placeholders. */
export interface SqlSession {
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult>;
  /** `INSERT` (or `INSERT IGNORE`, with `ignore`) of many rows, in as few round trips as the database allows. */
  insertRows(table: string, columns: readonly string[], rows: readonly (readonly SqlValue[])[], ignore?: boolean): Promise<void>;
}

/** What differs in the SQL the two databases accept. */
export interface SqlDialect {
  /** The scalar maximum of its arguments (SQLite's two-argument MAX, MySQL's GREATEST). */
  greatest(...args: string[]): string;
  /** The tail of an INSERT that updates the existing row on a key conflict; `incoming(col)` names the value the INSERT tried. */
  onConflict(key: readonly string[], assignments: (incoming: (column: string) => string) => string[]): string;
  /** A case-insensitive `column LIKE ?` where `\` escapes `%` and `_`. */
  likeInsensitive(column: string): string;
}

export interface SqlDatabase extends SqlSession {
  readonly dialect: SqlDialect;
  /** Where the index is, for messages: a file path or a DSN without its password. */
  readonly location: string;
  /** Runs `fn` in one transaction: all of its writes or none, and readers outside it never see half of them. */
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` holding the lock `name` for every Berth instance using this database; with
   * `wait: false`, resolves `{ acquired: false }` at once when another holds it.
   */
  exclusive<T>(name: string, wait: boolean, fn: () => Promise<T>): Promise<{ acquired: true; value: T } | { acquired: false }>;
  close(): Promise<void>;
}
