/**
 * The two index backends every shared index test runs on: SQLite (a fresh file each time) and
 * MySQL/MariaDB (a fresh database on one private mariadbd per test file, started on first use).
 * Wrap a suite in `for (const backend of indexBackends) describe(\`... (${backend.name})\`, ...)`. Without
 * MariaDB installed, the mariadb suites fail naming the package (startMariaDb).
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after } from "node:test";
import type { IndexDatabaseSettings } from "../../server/index/database.js";
import { startMariaDb, type RunningMariaDb } from "../support/mariadb.js";
import { tempDir } from "./helpers.js";

export interface IndexBackend {
  name: "sqlite" | "mariadb";
  /** A new, empty index database. */
  database(): Promise<IndexDatabaseSettings>;
}

let server: Promise<RunningMariaDb> | undefined;
const dirs: string[] = [];

after(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await (await server?.catch(() => undefined))?.stop();
});

/** The file's MariaDB server (for assertions on what Berth wrote); started on first use. */
export function mariadb(): Promise<RunningMariaDb> {
  server ??= startMariaDb();
  return server;
}

export const indexBackends: IndexBackend[] = [
  {
    name: "sqlite",
    database: () => {
      const dir = tempDir();
      dirs.push(dir);
      return Promise.resolve({ backend: "sqlite", path: join(dir, "index.sqlite") });
    },
  },
  {
    name: "mariadb",
    database: async () => ({ backend: "mysql", dsn: await (await mariadb()).createDatabase() }),
  },
];
