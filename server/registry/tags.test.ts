import assert from "node:assert/strict";
import { test } from "node:test";
import { RegistryEvents } from "./events.js";
import { parseDigest } from "./reference.js";
import { InMemoryDriver } from "./storage/inmemory.js";
import type { StorageDriver } from "./storage/driver.js";
import { TagStore } from "./tags.js";

/** The driver, with getContent slowed and the most reads seen in flight at once recorded. */
function countingReads(driver: StorageDriver) {
  const seen = { inFlight: 0, peak: 0 };
  const counted = new Proxy(driver, {
    get(target, property, receiver) {
      if (property !== "getContent") return Reflect.get(target, property, receiver);
      return async (path: string) => {
        seen.inFlight += 1;
        seen.peak = Math.max(seen.peak, seen.inFlight);
        try {
          await new Promise((resolve) => setTimeout(resolve, 5));
          return await target.getContent(path);
        } finally {
          seen.inFlight -= 1;
        }
      };
    },
  });
  return { counted, seen };
}

test("tagsOf reads at most storage.tag.concurrencylimit tag links at once, and finds every tag", async () => {
  const driver = new InMemoryDriver();
  const target = parseDigest(`sha256:${"a".repeat(64)}`);
  const other = parseDigest(`sha256:${"b".repeat(64)}`);
  const writer = new TagStore(driver, new RegistryEvents());
  for (let i = 0; i < 40; i++) await writer.tag("team/app", `t${i}`, i % 2 === 0 ? target : other);

  for (const limit of [1, 3]) {
    const { counted, seen } = countingReads(driver);
    const tags = await new TagStore(counted, new RegistryEvents(), limit).tagsOf("team/app", target);
    assert.equal(tags.length, 20);
    assert.ok(tags.every((tag) => Number(tag.slice(1)) % 2 === 0));
    assert.equal(seen.peak, limit, `limit ${limit}`);
  }
});
