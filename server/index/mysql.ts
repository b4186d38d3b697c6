/*
 * The shared index on a MySQL or MariaDB server, through mysql2: MIT-licensed (the MariaDB
 * connector is LGPL), Promise-based with its own types, and it speaks to both servers; its
 * client-side expansion of `VALUES ?` gives multi-row inserts without a bulk protocol that only
 * MariaDB has.
 */
import { createHash } from "node:crypto";
import mysql from "mysql2/promise";
import type { RunResult, SqlDatabase, SqlDialect, SqlSession, SqlValue } from "./sql.js";
import { displayDsn, parseMysqlDsn, type MysqlDsn } from "./dsn.js";
import { mysqlSchema, schemaVersion, tableNames } from "./schema.js";

const dialect: SqlDialect = {
  greatest: (...args) => `GREATEST(${args.join(", ")})`,
  onConflict: (_key, assignments) => `ON DUPLICATE KEY UPDATE ${assignments((column) => `VALUES(${column})`).join(", ")}`,
  // The columns compare case-sensitively (utf8mb4_bin); backslash is MySQL's default LIKE escape.
  likeInsensitive: (column) => `${column} COLLATE utf8mb4_general_ci LIKE ?`,
};

/** Rows per multi-row INSERT: far below max_allowed_packet (16 MiB by default) for index rows. */
const insertChunk = 500;
/** Deadlocks and lock-wait timeouts between instances: the transaction is retried this often. */
const transactionAttempts = 4;
const retryableErrors = new Set([1213 /* ER_LOCK_DEADLOCK */, 1205 /* ER_LOCK_WAIT_TIMEOUT */]);

type Queryable = Pick<mysql.Pool, "query">;

class Session implements SqlSession {
  constructor(private readonly conn: Queryable) {}

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    const [rows] = await this.conn.query(sql, params as SqlValue[]);
    return rows as T[];
  }

  async get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<RunResult> {
    const [result] = await this.conn.query<mysql.ResultSetHeader>(sql, params as SqlValue[]);
    return { changes: result.affectedRows };
  }

  async insertRows(table: string, columns: readonly string[], rows: readonly (readonly SqlValue[])[], ignore = false): Promise<void> {
    for (let start = 0; start < rows.length; start += insertChunk) {
      const chunk = rows.slice(start, start + insertChunk);
      await this.conn.query(`INSERT${ignore ? " IGNORE" : ""} INTO ${table} (${columns.join(", ")}) VALUES ?`, [chunk]);
    }
  }
}

class MysqlDatabase extends Session implements SqlDatabase {
  readonly dialect = dialect;

  constructor(
    private readonly pool: mysql.Pool,
    readonly location: string,
    private readonly database: string,
  ) {
    super(pool);
  }

  async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    const conn = await this.pool.getConnection();
    try {
      for (let attempt = 1; ; attempt++) {
        await conn.beginTransaction();
        try {
          const value = await fn(new Session(conn));
          await conn.commit();
          return value;
        } catch (error) {
          await conn.rollback().catch(() => undefined);
          if (attempt >= transactionAttempts || !retryableErrors.has((error as { errno?: number }).errno ?? 0)) throw error;
        }
      }
    } finally {
      conn.release();
    }
  }

  /**
   * GET_LOCK on a connection held for the duration: the server releases it if this process dies.
   * Lock names are server-wide, so the database's name is part of it.
   */
  async exclusive<T>(name: string, wait: boolean, fn: () => Promise<T>): Promise<{ acquired: true; value: T } | { acquired: false }> {
    const conn = await this.pool.getConnection();
    const lock = lockName(this.database, name);
    try {
      // Waiting is bounded per call; a waiter simply asks again.
      for (;;) {
        const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT GET_LOCK(?, ?) AS got", [lock, wait ? 60 : 0]);
        if (rows[0]?.got === 1) break;
        if (!wait) return { acquired: false };
      }
      try {
        return { acquired: true, value: await fn() };
      } finally {
        await conn.query("SELECT RELEASE_LOCK(?)", [lock]);
      }
    } finally {
      conn.release();
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

function lockName(database: string, name: string): string {
  // MySQL caps lock names at 64 characters; a database name may reach 64 on its own.
  return `berth:${name}:${createHash("sha256").update(database).digest("hex").slice(0, 16)}`;
}

/** For `berth config validate --dry-run`: logs in to the DSN's database and asks its version; changes nothing. */
export async function probeMysql(dsn: string, timeoutMs = 5_000): Promise<string> {
  const parsed = parseMysqlDsn(dsn);
  const where = displayDsn(parsed);
  let conn: mysql.Connection | undefined;
  try {
    conn = await mysql.createConnection({ ...connectionOptions(parsed), connectTimeout: timeoutMs });
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT VERSION() AS version");
    return String(rows[0]?.version);
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`, { cause: error });
  } finally {
    await conn?.end().catch(() => undefined);
  }
}

function connectionOptions(parsed: MysqlDsn): mysql.ConnectionOptions {
  return {
    host: parsed.host,
    port: parsed.port,
    ...(parsed.socketPath ? { socketPath: parsed.socketPath } : {}),
    user: parsed.user,
    password: parsed.password,
    database: parsed.database,
    charset: "utf8mb4_bin",
    // BIGINT and SUM() come back as numbers (they stay far below 2^53 here).
    supportBigNumbers: true,
    bigNumberStrings: false,
    decimalNumbers: true,
    connectTimeout: 10_000,
  };
}

/** Connects (lazily, a small pool) and makes sure Berth's tables are there in this schema version. */
export async function openMysql(dsn: string): Promise<SqlDatabase> {
  const parsed = parseMysqlDsn(dsn);
  const pool = mysql.createPool({ ...connectionOptions(parsed), connectionLimit: 8 });
  const db = new MysqlDatabase(pool, displayDsn(parsed), parsed.database);
  try {
    await ensureSchema(db);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  return db;
}

async function ensureSchema(db: MysqlDatabase): Promise<void> {
  const current = async () => {
    try {
      return (await db.get<{ value: string }>("SELECT value FROM berth_meta WHERE name = 'schema'"))?.value;
    } catch (error) {
      if ((error as { errno?: number }).errno === 1146 /* ER_NO_SUCH_TABLE */) return undefined;
      throw error;
    }
  };
  if ((await current()) === String(schemaVersion)) return;
  // Instances starting together: one creates the tables, the others find them made.
  await db.exclusive("schema", true, async () => {
    if ((await current()) === String(schemaVersion)) return;
    for (const name of tableNames) await db.run(`DROP TABLE IF EXISTS ${name}`);
    for (const statement of mysqlSchema) await db.run(statement);
    await db.run("INSERT INTO berth_meta (name, value) VALUES ('schema', ?)", [String(schemaVersion)]);
  });
}
