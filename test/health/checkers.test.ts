import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FileChecker, HttpChecker, StorageDriverChecker, TcpChecker } from "../../server/health/checkers.js";
import { HealthMonitor } from "../../server/health/monitor.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { eventually } from "../support/eventually.js";
import { freePort } from "../support/net.js";

function listen(server: net.Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
}

const close = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe("health checkers against real targets", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-health-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("file: healthy while the file is absent, failing while it exists", async () => {
    const flag = join(dir, "out-of-rotation");
    const checker = new FileChecker(flag);
    await checker.check();
    await writeFile(flag, "");
    await assert.rejects(checker.check(), /file exists/);
    await rm(flag);
    await checker.check();
  });

  it("tcp: a listening port passes, a closed one fails, an address without a port is refused", async () => {
    const server = net.createServer((socket) => socket.destroy());
    const port = await listen(server);
    await new TcpChecker(`127.0.0.1:${port}`).check(1000);
    await close(server);
    await assert.rejects(new TcpChecker(`127.0.0.1:${port}`).check(1000), /connection failed: ECONNREFUSED/);
    await assert.rejects(new TcpChecker("nowhere").check(1000), /not a host:port address/);
  });

  it("http: a HEAD with the configured headers must answer the expected status, within the timeout", async () => {
    const seen: { method?: string; token?: string }[] = [];
    const server = http.createServer((req, res) => {
      seen.push({ method: req.method, token: req.headers["x-token"] as string | undefined });
      if (req.url === "/hang") return; // never answers
      res.writeHead(req.url === "/created" ? 201 : 200).end();
    });
    const port = await listen(server);
    const base = `http://127.0.0.1:${port}`;
    try {
      await new HttpChecker({ uri: `${base}/ok`, headers: { "X-Token": ["secret"] } }).check(1000);
      assert.deepEqual(seen[0], { method: "HEAD", token: "secret" });
      await new HttpChecker({ uri: `${base}/created`, statuscode: 201 }).check(1000);
      await assert.rejects(new HttpChecker({ uri: `${base}/ok`, statuscode: 204 }).check(1000), /unexpected status: 200/);
      const started = Date.now();
      await assert.rejects(new HttpChecker({ uri: `${base}/hang` }).check(200), /error while checking/);
      assert.ok(Date.now() - started < 5000, "the timeout bounds the check");
    } finally {
      server.closeAllConnections();
      await close(server);
    }
    await assert.rejects(new HttpChecker({ uri: base }).check(1000), /error while checking: ECONNREFUSED/);
  });

  it("storagedriver: an empty storage passes; a root the driver cannot stat fails", async () => {
    const root = join(dir, "storage");
    await new StorageDriverChecker(createDriver("filesystem", { rootdirectory: root })).check(1000);
    await mkdir(root);
    await new StorageDriverChecker(createDriver("filesystem", { rootdirectory: root })).check(1000);
    const loop = join(dir, "loop");
    await symlink(loop, loop);
    const broken = new StorageDriverChecker(createDriver("filesystem", { rootdirectory: loop }));
    assert.equal(broken.name, "storagedriver_filesystem");
    await assert.rejects(broken.check(1000));
  });
});

describe("HealthMonitor: thresholds and polling", () => {
  it("fails only after `threshold` consecutive failures and recovers after one success", async () => {
    const server = net.createServer((socket) => socket.destroy());
    const port = await listen(server);
    const checker = new TcpChecker(`127.0.0.1:${port}`);
    const monitor = new HealthMonitor([{ checker, intervalMs: 60_000, threshold: 3, timeoutMs: 1000 }]);
    assert.deepEqual(monitor.states().map((s) => [s.ok, s.checkedAt]), [[true, undefined]], "healthy until checked, as distribution");
    await monitor.runAll();
    assert.deepEqual(monitor.failing(), {});
    await close(server);
    for (const failures of [1, 2]) {
      await monitor.runAll();
      assert.deepEqual(monitor.failing(), {}, `below the threshold after ${failures}`);
      assert.equal(monitor.states()[0]?.consecutiveFailures, failures);
      assert.match(monitor.states()[0]?.error ?? "", /ECONNREFUSED/);
    }
    await monitor.runAll();
    assert.match(monitor.failing()[`127.0.0.1:${port}`] ?? "", /connection failed: ECONNREFUSED/);
    assert.equal(monitor.states()[0]?.ok, false);
    const again = net.createServer((socket) => socket.destroy());
    await listen(again, port);
    try {
      await monitor.runAll();
      assert.deepEqual(monitor.failing(), {});
      assert.deepEqual([monitor.states()[0]?.ok, monitor.states()[0]?.consecutiveFailures, monitor.states()[0]?.error], [true, 0, undefined]);
    } finally {
      await close(again);
    }
  });

  it("threshold 0 fails at the first failure; checks run every interval once started, and stop", async () => {
    const closed = await freePort();
    const monitor = new HealthMonitor([{ checker: new TcpChecker(`127.0.0.1:${closed}`), intervalMs: 30, threshold: 0, timeoutMs: 1000 }]);
    monitor.start();
    try {
      await eventually(() => Object.keys(monitor.failing()).length === 1, 5000, "the closed port reported failing");
      await eventually(() => (monitor.states()[0]?.consecutiveFailures ?? 0) >= 3, 5000, "polled again");
    } finally {
      monitor.stop();
    }
    const runs = monitor.states()[0]?.consecutiveFailures;
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(monitor.states()[0]?.consecutiveFailures, runs, "no run after stop");
  });
});
