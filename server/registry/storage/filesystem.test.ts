import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { StorageDriver } from "./driver.js";
import { createDriver } from "./factory.js";
import { driverSuite } from "./testsuite.js";

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), "berth-fs-driver-"));
}

driverSuite("filesystem", async () => {
  const root = await tempRoot();
  return {
    driver: createDriver("filesystem", { rootdirectory: root }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describe("filesystem driver specifics", () => {
  let root: string;
  let driver: StorageDriver;

  before(async () => {
    root = await tempRoot();
    driver = createDriver("filesystem", { rootdirectory: root });
  });

  after(() => rm(root, { recursive: true, force: true }));

  it("never exposes a partially written putContent", async () => {
    const path = "/atomic/manifest";
    const old = Buffer.alloc(4 << 20, "o");
    const next = Buffer.alloc(3 << 20, "n");
    await driver.putContent(path, old);
    let done = false;
    let reads = 0;

    const writes = (async () => {
      try {
        for (let i = 0; i < 12 && !done; i++) await driver.putContent(path, i % 2 === 0 ? next : old);
      } finally {
        done = true;
      }
    })();
    const check = async (read: () => Promise<Buffer>) => {
      try {
        while (!done) {
          const seen = await read();
          reads++;
          assert.ok(seen.equals(old) || seen.equals(next), `saw ${seen.length} bytes that are neither value`);
        }
      } finally {
        done = true;
      }
    };
    // Settle everything before failing so no write outlives the test and its cleanup.
    const results = await Promise.allSettled([
      writes,
      check(() => driver.getContent(path)),
      check(() => readFile(join(root, "atomic", "manifest"))),
    ]);
    for (const result of results) if (result.status === "rejected") throw result.reason;
    assert.ok(reads > 0);
    assert.deepEqual(await readdir(join(root, "atomic")), ["manifest"], "temp files left behind");
  });

  it("stores link content byte for byte, without a trailing newline", async () => {
    const digest = "sha256:" + "ab".repeat(32);
    const path = "/docker/registry/v2/repositories/library/alpine/_layers/sha256/abab/link";
    await driver.putContent(path, digest);
    const onDisk = await readFile(join(root, ...path.slice(1).split("/")));
    assert.deepEqual(onDisk, Buffer.from(digest, "utf8"));
    assert.equal(onDisk.length, 71);
  });

  it("hides temp files and entries that are not storage keys", async () => {
    await driver.putContent("/hidden/visible", "x");
    await writeFile(join(root, "hidden", ".visible.tmp-0123456789abcdef"), "partial");
    await mkdir(join(root, "hidden", "lost+found"));
    assert.deepEqual(await driver.list("/hidden"), ["/hidden/visible"]);
    const walked: string[] = [];
    await driver.walk("/hidden", (info) => {
      walked.push(info.path);
    });
    assert.deepEqual(walked, ["/hidden/visible"]);
  });

  it("treats a root directory that does not exist yet as empty", async () => {
    const fresh = createDriver("filesystem", { rootdirectory: join(root, "not-yet") });
    assert.deepEqual(await fresh.list("/"), []);
    assert.equal((await fresh.stat("/")).isDir, true);
    await fresh.putContent("/first", "1");
    assert.deepEqual(await fresh.list("/"), ["/first"]);
  });
});
