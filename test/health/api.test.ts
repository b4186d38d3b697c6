import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseConfig } from "../../server/config/load.js";
import { scheduledChecks } from "../../server/health/checks.js";
import { HealthMonitor } from "../../server/health/monitor.js";
import { createLogger } from "../../server/log.js";
import { createRegistry } from "../../server/registry/handler.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { callerFor, createTestApiServices } from "../support/api.js";

const quiet = createLogger({ level: "error", write: () => undefined });

describe("the console's system.health procedure", () => {
  it("lists each configured check with its state", async () => {
    const driver = createDriver("inmemory");
    const dir = await mkdtemp(join(tmpdir(), "berth-health-api-"));
    try {
      const flag = join(dir, "flag");
      await writeFile(flag, "");
      const health = parseConfig({ version: "0.1", storage: { inmemory: {} }, health: { file: [{ file: flag }], storagedriver: { enabled: true } } }).health;
      const monitor = new HealthMonitor(scheduledChecks(health, driver));
      await monitor.runAll();
      const services = await createTestApiServices(driver);
      const caller = callerFor({ ...services, registry: createRegistry({ driver, logger: quiet, health: monitor }) });
      const result = await caller.system.health();
      assert.equal(result.status, "degraded");
      assert.deepEqual(
        result.checks.map((c) => [c.kind, c.name, c.ok, c.error, c.intervalMs]),
        [
          ["storagedriver", "storagedriver_inmemory", true, undefined, 10_000],
          ["file", flag, false, "file exists", 10_000],
        ],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
