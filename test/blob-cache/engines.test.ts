/**
 * Two engines on one filesystem root sharing a real Redis as blob descriptor cache: a blob HEAD
 * is answered from Redis, a delete or a garbage collection through one engine is seen by the
 * other at once, and with Redis killed both keep serving from the storage.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { collectGarbage } from "../../server/gc/collect.js";
import { createLogger } from "../../server/log.js";
import { invalidatingDriver } from "../../server/registry/blob-cache/cache.js";
import { RedisBlobDescriptorCache } from "../../server/registry/blob-cache/redis.js";
import { layout } from "../../server/registry/layout.js";
import { parseDigest } from "../../server/registry/reference.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { berth } from "../support/berth-cli.js";
import { eventually } from "../support/eventually.js";
import { startRegistry, type TestRegistry } from "../support/server.js";
import { startRedis, type RedisServer } from "./redis-server.js";

interface Engine {
  server: TestRegistry;
  cache: RedisBlobDescriptorCache;
  warnings: string[];
}

describe("blob descriptor cache in Redis shared by two engines", () => {
  let redis: RedisServer;
  let root: string;
  let one: Engine;
  let two: Engine;

  async function engine(): Promise<Engine> {
    const warnings: string[] = [];
    const logger = createLogger({ level: "warn", write: (line) => warnings.push(line) });
    const cache = new RedisBlobDescriptorCache({ addr: redis.addr, readtimeout: 300 }, logger);
    const driver = invalidatingDriver(createDriver("filesystem", { rootdirectory: root }), cache);
    const server = await startRegistry({ driver, blobCache: cache, logger, deleteEnabled: true });
    return { server, cache, warnings };
  }

  async function push(through: Engine, repository: string): Promise<string> {
    const blob = randomBytes(2048);
    const digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`;
    const started = await through.server.fetch(`/v2/${repository}/blobs/uploads/`, { method: "POST" });
    assert.equal(started.status, 202);
    const location = new URL(started.headers.get("location")!, through.server.url);
    location.searchParams.set("digest", digest);
    assert.equal((await fetch(location, { method: "PUT", body: blob })).status, 201);
    return digest;
  }

  const head = async (through: Engine, repository: string, digest: string) => (await through.server.fetch(`/v2/${repository}/blobs/${digest}`, { method: "HEAD" })).status;

  before(async () => {
    redis = await startRedis();
    root = await mkdtemp(join(tmpdir(), "berth-redis-cache-"));
    one = await engine();
    two = await engine();
    const probe = parseDigest(`sha256:${"0".repeat(64)}`);
    for (const { cache } of [one, two]) await eventually(async () => (await cache.remember(probe, 1), (await cache.size(probe)) === 1), 5_000, "redis client ready");
  });
  after(async () => {
    for (const e of [one, two]) {
      await e?.server.close();
      await e?.cache.close();
    }
    await redis?.kill();
    await rm(root, { recursive: true, force: true });
  });

  it("answers a HEAD from Redis: a link removed behind the engines' backs is still served", async () => {
    const digest = await push(one, "team/app");
    assert.equal(await head(two, "team/app", digest), 200);
    await rm(join(root, layout.layerDir("team/app", parseDigest(digest))), { recursive: true });
    assert.equal(await head(two, "team/app", digest), 200, "served from the cache");
    assert.equal(await head(two, "team/other", digest), 404, "another repository does not link it");
  });

  it("a blob deleted through one engine is unknown to the other at once", async () => {
    const digest = await push(one, "team/app");
    assert.equal(await head(two, "team/app", digest), 200);
    assert.equal((await one.server.fetch(`/v2/team/app/blobs/${digest}`, { method: "DELETE" })).status, 202);
    assert.equal(await head(two, "team/app", digest), 404);
    assert.equal(await head(one, "team/app", digest), 404);
  });

  it("a garbage collection through one engine's storage invalidates what it sweeps for both", async () => {
    const digest = await push(one, "team/gc");
    assert.equal(await head(two, "team/gc", digest), 200);
    assert.equal(await head(one, "team/gc", digest), 200);
    const report = await collectGarbage({ driver: one.server.driver, graceMs: 0 });
    assert.ok(report.blobsDeleted.some((blob) => blob.digest === digest), "the unreferenced blob was swept");
    assert.equal(await head(two, "team/gc", digest), 404);
    assert.equal(await head(one, "team/gc", digest), 404);
  });

  it("berth garbage-collect with the same configuration invalidates what it sweeps", async () => {
    const digest = await push(one, "team/cli");
    assert.equal(await head(two, "team/cli", digest), 200);
    const file = join(root, "..", `${basename(root)}.yml`);
    await writeFile(file, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n  cache:\n    blobdescriptor: redis\nredis:\n  addr: ${redis.addr}\n`);
    try {
      const result = await berth(["garbage-collect", "--grace", "0s", "--hold", "0s", file]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
    } finally {
      await rm(file, { force: true });
    }
    assert.equal(await head(two, "team/cli", digest), 404);
  });

  it("a frozen Redis (SIGSTOP) delays no request past the read timeout; a delete meanwhile is never served from the cache after", async () => {
    const digest = await push(one, "team/frozen");
    assert.equal(await head(two, "team/frozen", digest), 200);
    redis.child.kill("SIGSTOP");
    try {
      const started = performance.now();
      assert.equal((await one.server.fetch(`/v2/team/frozen/blobs/${digest}`, { method: "DELETE" })).status, 202);
      assert.equal(await head(two, "team/frozen", digest), 404);
      const took = performance.now() - started;
      assert.ok(took < 3_000, `a delete and a HEAD against a frozen Redis took ${Math.round(took)} ms`);
    } finally {
      redis.child.kill("SIGCONT");
    }
    // The invalidation Redis missed: the engine empties the cache before trusting it again.
    await eventually(async () => (await head(two, "team/frozen", digest)) === 404 && (await one.cache.size(parseDigest(digest))) === undefined, 5_000, "cache emptied after Redis resumed");
    assert.equal(await head(two, "team/frozen", digest), 404);
  });

  it("with Redis killed, both engines keep serving from the storage, quickly, and warn once", async () => {
    const before = await push(one, "team/down");
    assert.equal(await head(two, "team/down", before), 200);
    const warnedBefore = [one, two].map(({ warnings }) => warnings.length);
    await redis.kill();
    const started = performance.now();
    const after = await push(two, "team/down");
    for (let i = 0; i < 5; i++) {
      assert.equal(await head(one, "team/down", before), 200);
      assert.equal(await head(two, "team/down", after), 200);
    }
    assert.equal((await one.server.fetch(`/v2/team/down/blobs/${after}`, { method: "DELETE" })).status, 202);
    assert.equal(await head(two, "team/down", after), 404);
    const took = performance.now() - started;
    assert.ok(took < 5_000, `12 requests without Redis took ${Math.round(took)} ms`);
    [one, two].forEach(({ warnings }, i) => {
      const since = warnings.slice(warnedBefore[i]);
      assert.equal(since.filter((line) => line.includes("redis unavailable")).length, 1, since.join("\n"));
    });
  });
});
