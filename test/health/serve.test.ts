import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../server/config/load.js";
import { createLogger } from "../../server/log.js";
import { serve, type RunningBerth } from "../../server/serve.js";
import { eventually } from "../support/eventually.js";
import { freePort } from "../support/net.js";

const quiet = createLogger({ level: "error", write: () => undefined });

// A flag file is distribution's way to take an instance out of a load balancer's rotation.
describe("serve: the health section", () => {
  let dir: string;
  let flag: string;
  let running: RunningBerth;
  let debug: string;
  let closedPort: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-health-serve-"));
    flag = join(dir, "maintenance");
    closedPort = await freePort();
    const debugPort = await freePort();
    debug = `http://127.0.0.1:${debugPort}`;
    const config = parseConfig({
      version: "0.1",
      storage: { inmemory: {} },
      http: { addr: "127.0.0.1:0", secret: "x", debug: { addr: `127.0.0.1:${debugPort}` } },
      health: {
        storagedriver: { enabled: true, interval: "50ms", threshold: 2 },
        file: [{ file: flag, interval: "50ms" }],
        // Failing, but only after 1000 runs: below its threshold for the whole test.
        tcp: [{ addr: `127.0.0.1:${closedPort}`, interval: "50ms", threshold: 1000, timeout: "1s" }],
      },
    });
    running = await serve({ config, registryOnly: true, logger: quiet });
  });

  after(async () => {
    await running.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers /v2/ and /debug/health normally while no check is failing", async () => {
    await eventually(async () => (await (await fetch(`${debug}/debug/health`)).json() as { checks: { checkedAt?: string }[] }).checks.every((c) => c.checkedAt !== undefined), 5000, "every check ran");
    assert.equal((await fetch(`${running.url}/v2/`)).status, 200);
    const res = await fetch(`${debug}/debug/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { failing: Record<string, string>; checks: { name: string; ok: boolean; error?: string }[] };
    assert.deepEqual(body.failing, {});
    assert.deepEqual(body.checks.map((c) => [c.name, c.ok]), [["storagedriver_inmemory", true], [flag, true], [`127.0.0.1:${closedPort}`, true]]);
    assert.match(body.checks[2]?.error ?? "", /ECONNREFUSED/, "the failing tcp check shows its error below the threshold");
  });

  it("a failing check turns every API request into 503 UNAVAILABLE and /debug/health into 503, until it passes", async () => {
    await writeFile(flag, "");
    await eventually(async () => (await fetch(`${running.url}/v2/`)).status === 503, 5000, "/v2/ answers 503");
    const api = await fetch(`${running.url}/v2/team/app/tags/list`);
    assert.equal(api.status, 503);
    assert.deepEqual(await api.json(), {
      errors: [{ code: "UNAVAILABLE", message: "service unavailable", detail: "health check failed: please see /debug/health" }],
    });
    const health = await fetch(`${debug}/debug/health`);
    assert.equal(health.status, 503);
    assert.deepEqual(((await health.json()) as { failing: unknown }).failing, { [flag]: "file exists" });
    await rm(flag);
    await eventually(async () => (await fetch(`${running.url}/v2/`)).status === 200, 5000, "/v2/ answers 200 again");
    assert.equal((await fetch(`${debug}/debug/health`)).status, 200);
  });
});
