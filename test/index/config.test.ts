/** `console.index` in config.yml: validation, redaction, and the dry run against a real MariaDB. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dryRun } from "../../server/config/dryrun.js";
import { redactConfig } from "../../server/config/redact.js";
import { validateConfigText } from "../../server/config/validate.js";
import { parseMysqlDsn } from "../../server/index/dsn.js";
import { indexSettings } from "../../server/index/settings.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { mariadb } from "./backends.js";

const config = (index: string) => `version: 0.1\nstorage:\n  inmemory:\nconsole:\n  index:\n${index}`;

describe("console.index configuration", () => {
  it("reads both DSN spellings", () => {
    assert.deepEqual(parseMysqlDsn("mysql://berth:p%40ss@db.example:3307/idx"), { user: "berth", password: "p@ss", host: "db.example", port: 3307, database: "idx" });
    assert.deepEqual(parseMysqlDsn("domeos:secret@tcp(10.0.0.5:3306)/domeos?loc=Local&parseTime=true"), {
      user: "domeos",
      password: "secret",
      host: "10.0.0.5",
      port: 3306,
      database: "domeos",
    });
  });

  it("requires a DSN with backend mysql and reports a bad one at its key without echoing it", async () => {
    const missing = await validateConfigText(config("    backend: mysql\n"), { env: {} });
    assert.equal(missing.ok, false);
    assert.ok(missing.problems.some((p) => p.path === "console.index.dsn" && p.message.includes("required")), JSON.stringify(missing.problems));

    const bad = await validateConfigText(config("    backend: mysql\n    dsn: http://u:hunter2@db/x\n"), { env: {} });
    const problem = bad.problems.find((p) => p.path === "console.index.dsn");
    assert.ok(problem, JSON.stringify(bad.problems));
    assert.equal(problem.line, 7, "the line of the dsn value");
    assert.ok(!JSON.stringify(bad.problems).includes("hunter2"), "the password is not echoed");
  });

  it("redacts the DSN and points the index at it; SQLite stays the default", async () => {
    const ok = await validateConfigText(config("    backend: MariaDB\n    dsn: mysql://u:hunter2@db:3306/x\n"), { env: {} });
    assert.ok(ok.ok && ok.config, JSON.stringify(ok.problems));
    assert.equal((redactConfig(ok.config) as { console: { index: { dsn: string } } }).console.index.dsn, "[redacted]");
    assert.deepEqual(indexSettings(ok.config).database, { backend: "mysql", dsn: "mysql://u:hunter2@db:3306/x" });
    const plain = await validateConfigText("version: 0.1\nstorage:\n  inmemory:\n", { env: {} });
    assert.equal(plain.config && indexSettings(plain.config).database.backend, "sqlite");
  });

  it("reaches the database in a dry run with connect", async () => {
    const dsn = await (await mariadb()).createDatabase();
    const check = async (value: string) => {
      const result = await validateConfigText(config(`    backend: mysql\n    dsn: "${value}"\n`), { env: {} });
      assert.ok(result.config, JSON.stringify(result.problems));
      return dryRun(result.config, { createDriver, connect: true });
    };
    assert.deepEqual(await check(dsn), []);
    const wrong = await check(dsn.replace(/:[^:@]*@/, ":wrong-password@"));
    assert.equal(wrong.length, 1);
    assert.equal(wrong[0]?.path, "console.index.dsn");
    assert.match(wrong[0]!.message, /Access denied/);
    assert.ok(!wrong[0]!.message.includes("wrong-password"));
  });
});
