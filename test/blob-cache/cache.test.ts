/**
 * One suite for both blob descriptor caches (inmemory and a real Redis): what a delete under a
 * storage path invalidates, and what each may answer for.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { invalidationOf, type BlobDescriptorCache } from "../../server/registry/blob-cache/cache.js";
import { MemoryBlobDescriptorCache } from "../../server/registry/blob-cache/memory.js";
import { RedisBlobDescriptorCache } from "../../server/registry/blob-cache/redis.js";
import { layout, repositoriesRoot } from "../../server/registry/layout.js";
import { createLogger } from "../../server/log.js";
import { parseDigest } from "../../server/registry/reference.js";
import { eventually } from "../support/eventually.js";
import { startRedis, type RedisServer } from "./redis-server.js";

const quiet = createLogger({ level: "error", write: () => undefined });
const a = parseDigest(`sha256:${"a".repeat(64)}`);
const b = parseDigest(`sha256:${"b".repeat(64)}`);

function cacheSuite(name: string, make: () => Promise<BlobDescriptorCache>, cleanup: () => Promise<void> = async () => undefined) {
  describe(name, () => {
    let cache: BlobDescriptorCache;
    before(async () => (cache = await make()));
    after(async () => {
      await cache.close();
      await cleanup();
    });

    it("keeps sizes by digest until the blob's data is deleted", async () => {
      await cache.remember(a, 10, "lib/app");
      await cache.remember(b, 20);
      assert.equal(await cache.size(a), 10);
      assert.equal(await cache.size(b), 20);
      await cache.invalidate(layout.blobDir(a));
      assert.equal(await cache.size(a), undefined);
      assert.equal(await cache.size(b), 20);
      await cache.invalidate("/docker/registry/v2");
      assert.equal(await cache.size(b), undefined);
    });

    it("answers for a repository's links only when shared, and forgets a link, a repository, a namespace", async () => {
      await cache.remember(a, 10, "lib/app");
      await cache.remember(a, 10, "lib/other");
      await cache.remember(a, 10, "libx");
      assert.equal(await cache.linked("lib/app", a), cache.shared);
      assert.equal(await cache.linked("lib/nothing", a), false);
      await cache.invalidate(layout.layerDir("lib/app", a));
      assert.equal(await cache.linked("lib/app", a), false);
      assert.equal(await cache.linked("lib/other", a), cache.shared);
      await cache.invalidate(`${repositoriesRoot}/lib`);
      assert.equal(await cache.linked("lib/other", a), false);
      assert.equal(await cache.linked("libx", a), cache.shared, "a namespace's deletion leaves a repository that only starts alike");
      assert.equal(await cache.size(a), 10, "a link's deletion leaves the blob's size");
    });
  });
}

cacheSuite("inmemory blob descriptor cache", async () => new MemoryBlobDescriptorCache(100));
let redis: RedisServer | undefined;
cacheSuite(
  "redis blob descriptor cache",
  async () => {
    redis = await startRedis();
    const cache = new RedisBlobDescriptorCache({ addr: redis.addr }, quiet);
    await eventually(() => cache.remember(a, 1).then(async () => (await cache.size(a)) === 1), 5_000, "redis client ready");
    return cache;
  },
  () => redis!.kill(),
);

describe("invalidationOf: what a deleted storage path invalidates", () => {
  it("reads blobs, links, repositories and namespaces from the layout", () => {
    assert.deepEqual(invalidationOf(layout.blobData(a)), { kind: "blob", digest: a });
    assert.deepEqual(invalidationOf(layout.layerLink("x/y", a)), { kind: "link", name: "x/y", digest: a });
    assert.deepEqual(invalidationOf(layout.layersDir("x/y")), { kind: "repositories", prefix: "x/y" });
    assert.deepEqual(invalidationOf(layout.repository("x/y")), { kind: "repositories", prefix: "x/y" });
    assert.deepEqual(invalidationOf(layout.tagDir("x/y", "v1")), { kind: "nothing" });
    assert.deepEqual(invalidationOf(layout.uploadDir("x/y", "id")), { kind: "nothing" });
    assert.deepEqual(invalidationOf(repositoriesRoot), { kind: "repositories", prefix: "" });
    assert.deepEqual(invalidationOf("/docker/registry/v2/blobs/sha256"), { kind: "everything" });
    assert.deepEqual(invalidationOf("/"), { kind: "everything" });
  });
});
