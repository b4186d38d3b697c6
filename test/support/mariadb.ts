/**
 * A real MySQL-protocol server for tests: Debian's MariaDB (`apt-get install -y mariadb-server`),
 * a private mariadbd on a free loopback port with a throwaway data directory. Nothing of the
 * system's own MariaDB (its config files, datadir, socket) is used: `--no-defaults` everywhere.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { findCommand, requireCommands } from "./commands.js";
import { eventually } from "./eventually.js";
import { freePort } from "./net.js";

export interface RunningMariaDb {
  port: number;
  /** Creates an empty database and a user for it; returns `mysql://user:password@127.0.0.1:port/name`. */
  createDatabase(): Promise<string>;
  /** Runs a statement as root (for assertions on what Berth wrote). */
  query<T = mysql.RowDataPacket[]>(sql: string, params?: unknown[]): Promise<T>;
  stop(): Promise<void>;
}

let databases = 0;

/** Starts mariadbd; rejects with its error log when it does not come up within `timeoutMs`. */
export async function startMariaDb(timeoutMs = 60_000): Promise<RunningMariaDb> {
  requireCommands("mariadbd", "mariadb-install-db");
  const dir = await mkdtemp(join(tmpdir(), "berth-mariadb-"));
  const datadir = join(dir, "data");
  const socket = join(dir, "mysqld.sock");
  const errorLog = join(dir, "error.log");
  // mariadbd refuses to run as root unless told which user to be.
  const user = userInfo().username;
  const install = spawnSync(
    findCommand("mariadb-install-db")!,
    ["--no-defaults", `--datadir=${datadir}`, `--user=${user}`, "--auth-root-authentication-method=normal", "--skip-test-db"],
    { encoding: "utf8" },
  );
  if (install.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed:\n${install.stdout}\n${install.stderr}`);
  }
  const port = await freePort();
  const child = spawn(
    findCommand("mariadbd")!,
    [
      "--no-defaults",
      `--datadir=${datadir}`,
      `--socket=${socket}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      `--user=${user}`,
      `--log-error=${errorLog}`,
      `--pid-file=${join(dir, "mariadbd.pid")}`,
      `--tmpdir=${dir}`,
      "--skip-name-resolve",
      "--skip-log-bin",
      // Small and quick: a test server, two cores shared with everything else.
      "--innodb-buffer-pool-size=128M",
      "--innodb-log-file-size=64M",
      "--innodb-flush-log-at-trx-commit=2",
      "--performance-schema=OFF",
    ],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const root = () => mysql.createConnection({ socketPath: socket, user: "root", password: "", multipleStatements: false });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await eventually(
      async () => {
        const conn = await root();
        await conn.end();
      },
      timeoutMs,
      "mariadbd to accept connections",
      { intervalMs: 100, abort: () => (child.exitCode === null ? undefined : `mariadbd exited (${child.exitCode})`) },
    );
  } catch (error) {
    const log = await readFile(errorLog, "utf8").catch(() => "(no error log)");
    await stop();
    throw new Error(`mariadbd did not start: ${(error as Error).message}\n${log.slice(-4000)}`);
  }

  const query = async <T>(sql: string, params: unknown[] = []): Promise<T> => {
    const conn = await root();
    try {
      const [rows] = await conn.query(sql, params);
      return rows as T;
    } finally {
      await conn.end();
    }
  };
  return {
    port,
    query,
    async createDatabase() {
      databases += 1;
      const name = `berth_test_${process.pid}_${databases}`;
      // A password with characters a DSN must escape, and a user limited to its own database.
      const password = `p@ss:${databases}/x`;
      await query(`CREATE DATABASE ${name}`);
      await query(`CREATE USER '${name}'@'127.0.0.1' IDENTIFIED BY ?`, [password]);
      await query(`GRANT ALL ON ${name}.* TO '${name}'@'127.0.0.1'`);
      return `mysql://${name}:${encodeURIComponent(password)}@127.0.0.1:${port}/${name}`;
    },
    stop,
  };
}
