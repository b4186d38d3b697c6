import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fakeEtcd } from "../../test/support/etcd.js";
import { freePort } from "../../test/support/net.js";
import { listen } from "../../test/support/server.js";
import { createDriver } from "../registry/storage/factory.js";
import { dryRun, unreachedServices } from "./dryrun.js";
import { parseConfig } from "./load.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-config-dryrun-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const filesystem = (rootdirectory: string, extra: Record<string, unknown> = {}) =>
  parseConfig({ version: "0.1", storage: { filesystem: { rootdirectory } }, ...extra });

describe("dryRun: storage", () => {
  test("writes, reads back and deletes a probe on a fresh filesystem root, leaving nothing behind", async () => {
    const root = join(dir, "fresh");
    await mkdir(root);
    assert.deepEqual(await dryRun(filesystem(root), { createDriver }), []);
    assert.deepEqual(await readdir(root), []);
  });

  test("keeps an existing registry's directories and only removes its own probe", async () => {
    const root = join(dir, "existing");
    await mkdir(join(root, "docker", "registry", "v2", "repositories"), { recursive: true });
    await writeFile(join(root, "docker", "registry", "v2", "repositories", "keep"), "x");
    assert.deepEqual(await dryRun(filesystem(root), { createDriver }), []);
    assert.deepEqual((await readdir(join(root, "docker", "registry", "v2"))).sort(), ["repositories"]);
    assert.deepEqual(await readdir(join(root, "docker", "registry", "v2", "repositories")), ["keep"]);
  });

  test("reports a root that cannot be written (a regular file)", async () => {
    const root = join(dir, "a-file");
    await writeFile(root, "not a directory");
    const problems = await dryRun(filesystem(root), { createDriver });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.path, "storage.filesystem");
    assert.match(problems[0]?.message ?? "", new RegExp(`(cannot write the probe object|cannot inspect the storage).*under ${root}.*ENOTDIR`));
  });

  test("works on inmemory, and reports a driver Berth cannot open", async () => {
    assert.deepEqual(await dryRun(parseConfig({ version: "0.1", storage: "inmemory" }), { createDriver }), []);
    const gcs = parseConfig({ version: "0.1", storage: { gcs: { bucket: "b" } } });
    const problems = await dryRun(gcs, { createDriver, connect: true });
    assert.equal(problems[0]?.path, "storage.gcs");
    assert.match(problems[0]?.message ?? "", /cannot open the gcs storage driver: Berth has no gcs driver yet/);
  });

  test("reports content that does not read back as written", async () => {
    const liar = () => ({
      stat: async () => ({}),
      list: async () => [],
      putContent: async () => undefined,
      getContent: async () => Buffer.from("something else"),
      delete: async () => undefined,
    });
    const problems = await dryRun(parseConfig({ version: "0.1", storage: "inmemory" }), { createDriver: liar });
    assert.match(problems[0]?.message ?? "", /returned different content for the probe object \/docker\/registry\/v2\/_berth_probe\/[0-9a-f]+/);
  });
});

describe("dryRun: etcd", () => {
  test("reports an endpoint nobody answers on", async () => {
    const port = await freePort();
    const config = filesystem(join(dir, "etcd-closed"), { etcd: { endpoints: [`http://127.0.0.1:${port}`] } });
    const problems = await dryRun(config, { createDriver, etcdTimeoutMs: 2000, connect: true });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.path, "etcd.endpoints[0]");
    assert.match(problems[0]?.message ?? "", new RegExp(`cannot reach etcd at http://127.0.0.1:${port}: .*ECONNREFUSED`));
  });

  test("accepts an endpoint that answers /version like etcd, and flags one that does not", async () => {
    const etcd = await listen((req, res) => {
      res.writeHead(req.url === "/version" ? 200 : 404, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ etcdserver: "3.5.9", etcdcluster: "3.5.0" }));
    });
    const other = await listen((_req, res) => {
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end("<html>hello</html>");
    });
    try {
      const config = filesystem(join(dir, "etcd-up"), { etcd: { endpoints: [etcd.url + "/", other.url] } });
      const problems = await dryRun(config, { createDriver, connect: true });
      assert.deepEqual(problems.map((p) => p.path), ["etcd.endpoints[1]"]);
      assert.match(problems[0]?.message ?? "", /answered, but not like etcd/);
    } finally {
      await etcd.close();
      await other.close();
    }
  });

  test("gives up on a silent endpoint after the timeout", async () => {
    const silent = await listen(() => undefined); // never answers
    try {
      const config = filesystem(join(dir, "etcd-silent"), { etcd: { endpoints: [silent.url], dialtimeout: "200ms" } });
      const problems = await dryRun(config, { createDriver, connect: true });
      assert.match(problems[0]?.message ?? "", /no answer within 200 ms/);
    } finally {
      await silent.close();
    }
  });
});

describe("dryRun without connect: nothing on the network", () => {
  test("etcd is not contacted, an S3 storage not opened, and both are named as unreached", async () => {
    const etcd = await fakeEtcd();
    try {
      const local = filesystem(join(dir, "offline"), { etcd: { endpoints: [etcd.url] } });
      assert.deepEqual(await dryRun(local, { createDriver }), []);
      assert.equal(etcd.requests(), 0, "a plain dry run must not reach etcd");
      assert.deepEqual(unreachedServices(local), ["etcd.endpoints"]);
      assert.deepEqual(await dryRun(local, { createDriver, connect: true }), []);
      assert.equal(etcd.requests(), 1, "the connection check reaches it");

      const opened: string[] = [];
      const s3 = parseConfig({ version: "0.1", storage: { s3: { region: "r", bucket: "b", regionendpoint: etcd.url } } });
      const recording = (name: string, params: Record<string, unknown>) => {
        opened.push(name);
        return createDriver(name, params);
      };
      assert.deepEqual(await dryRun(s3, { createDriver: recording }), []);
      assert.deepEqual(opened, [], "a storage on the network is not opened without connect");
      assert.deepEqual(unreachedServices(s3), ["storage.s3"]);
    } finally {
      await etcd.close();
    }
  });
});
