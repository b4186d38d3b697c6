/**
 * The logger's formats, levels and redaction as a reader of its lines sees them, and which
 * entries reach a hook.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger, type LogEntry, type LoggerOptions, type LogLevel } from "./log.js";

function capture(options: LoggerOptions = {}) {
  const lines: string[] = [];
  return { lines, logger: createLogger({ ...options, write: (line) => lines.push(line) }) };
}

describe("logger", () => {
  it("writes json with the level name, an ISO time, the static fields and the caller's fields", () => {
    const { lines, logger } = capture({ format: "json", fields: { service: "registry" } });
    logger.with({ repo: "a/b" }).info("pushed", { status: 201 });
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual({ ...entry, time: undefined }, { level: "info", time: undefined, service: "registry", repo: "a/b", status: 201, msg: "pushed" });
    assert.ok(!Number.isNaN(Date.parse(String(entry.time))));
  });

  it("writes logstash with @timestamp, @version and message", () => {
    const { lines, logger } = capture({ format: "logstash" });
    logger.warn("slow", { ms: 900 });
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(entry["@version"], "1");
    assert.equal(entry.message, "slow");
    assert.equal(entry.level, "warn");
    assert.ok(!Number.isNaN(Date.parse(String(entry["@timestamp"]))));
  });

  it("writes text as one logfmt line, a line break in a value escaped", () => {
    const { lines, logger } = capture({ format: "text" });
    logger.error("request failed", { status: 500, error: "disk\nfull" });
    assert.match(lines[0]!, /^time="[^"]+" level=error msg="request failed" status=500 error="disk\\nfull"$/);
  });

  it("leaves out what is below the level, and follows a level that changes", () => {
    let level: LogLevel = "warn";
    const { lines, logger } = capture({ format: "json", level: () => level });
    logger.info("hidden");
    assert.equal(logger.enabled("info"), false);
    level = "debug";
    logger.debug("shown");
    assert.deepEqual(lines.map((line) => (JSON.parse(line) as { msg: string }).msg), ["shown"]);
  });

  it("redacts secret-looking fields, static, bound, per call and one level down", () => {
    const { lines, logger } = capture({ format: "json", fields: { apiToken: "static-secret" } });
    logger.with({ password: "bound-secret" }).info("login", { clientSecret: "call-secret", upstream: { password: "nested-secret" }, user: "ann" });
    for (const secret of ["static-secret", "bound-secret", "call-secret", "nested-secret"]) assert.ok(!lines[0]!.includes(secret), lines[0]);
    assert.match(lines[0]!, /"user":"ann"/);
    assert.equal((lines[0]!.match(/\[redacted\]/g) ?? []).length, 4);
  });

  it("hands a hook the entries of its levels that pass the logger's level, redacted, and survives a hook that throws", () => {
    const seen: LogEntry[] = [];
    const { lines, logger } = capture({
      format: "text",
      level: "warn",
      fields: { instance: "a" },
      hooks: [
        { levels: new Set<LogLevel>(["error", "debug"]), fire: (entry) => seen.push(entry) },
        { levels: new Set<LogLevel>(["error"]), fire: () => { throw new Error("hook broke"); } },
      ],
    });
    logger.error("boom", { password: "pw" });
    logger.warn("not a hook level");
    logger.debug("below the logger's level");
    assert.equal(lines.length, 2);
    assert.deepEqual(seen.map(({ level, msg, fields }) => ({ level, msg, fields })), [
      { level: "error", msg: "boom", fields: { instance: "a", password: "[redacted]" } },
    ]);
  });
});
