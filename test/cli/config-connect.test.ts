import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { berth } from "./run.js";

describe("berth config validate: --dry-run connects to nothing, --connect reaches etcd", () => {
  let dir: string;
  let file: string;
  let etcd: Server;
  let requests = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-cli-connect-"));
    etcd = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ etcdserver: "3.5.9" }));
    });
    await new Promise<void>((resolve) => etcd.listen(0, "127.0.0.1", resolve));
    file = join(dir, "config.yml");
    const port = (etcd.address() as AddressInfo).port;
    await writeFile(file, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\netcd:\n  endpoints: [http://127.0.0.1:${port}]\n`);
  });
  after(async () => {
    etcd.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a dry run probes the storage, leaves etcd alone and says so", async () => {
    const result = await berth(["config", "validate", "--dry-run", file]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /not reached without --connect: etcd\.endpoints/);
    assert.equal(requests, 0);
  });

  it("--connect reaches etcd", async () => {
    const result = await berth(["config", "validate", "--connect", "--json", file]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const report = JSON.parse(result.stdout) as { dryRun: boolean; connect: boolean; unreached: string[] };
    assert.deepEqual([report.dryRun, report.connect, report.unreached], [true, true, []]);
    assert.equal(requests, 1);
  });
});
