/**
 * Two Berth registries on one storage (a shared filesystem directory) and one MariaDB index:
 * what one instance writes, the other's console lists, without a rebuild.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { createCaller } from "../../server/api/root.js";
import type { ApiContext } from "../../server/api/trpc.js";
import { createDriver } from "../../server/registry/storage/factory.js";
import { pushImage, startRegistry, type TestRegistry } from "../http/harness.js";
import { mariadb } from "./backends.js";
import { deleteRef, openIndex, tempDir, type IndexUnderTest } from "./helpers.js";

describe("two instances sharing one MariaDB index", () => {
  let dir: string;
  let a: TestRegistry;
  let b: TestRegistry;
  let ia: IndexUnderTest;
  let ib: IndexUnderTest;
  const session = { user: "admin", role: "admin" as const, expiresAt: Date.now() + 1e6 };
  const api = (r: TestRegistry, t: IndexUnderTest) => createCaller({ registry: r.registry, session, index: t.index } as unknown as ApiContext);
  const names = async (r: TestRegistry, t: IndexUnderTest) => (await api(r, t).repositories.list({ limit: 1000 })).rows.map((row) => row.name);

  before(async () => {
    dir = tempDir("berth-shared-");
    // Two engines, as two processes would have: each its own driver over the same directory.
    a = await startRegistry({ driver: createDriver("filesystem", { rootdirectory: dir }), deleteEnabled: true });
    b = await startRegistry({ driver: createDriver("filesystem", { rootdirectory: dir }), deleteEnabled: true });
    await pushImage(a, "shared/before", "v1");
    const database = { backend: "mysql" as const, dsn: await (await mariadb()).createDatabase() };
    ia = await openIndex(a, { database, generation: "g" });
    ib = await openIndex(b, { database, generation: "g" });
    // Both start on an empty database: one rebuilds, the other finds the lock taken (or the index fresh).
    const [sa, sb] = await Promise.all([ia.index.start(), ib.index.start()]);
    assert.equal(sa.stale, "missing");
    const reports = await Promise.all([sa.rebuild, sb.rebuild]);
    assert.equal(reports.filter((report) => report !== undefined).length, 1, "exactly one instance rebuilt");
  });
  after(async () => {
    await ia?.index.close();
    await ib?.index.close();
    await a?.close();
    await b?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("has the rebuilt index on both", async () => {
    assert.deepEqual(await names(a, ia), ["shared/before"]);
    assert.deepEqual(await names(b, ib), ["shared/before"]);
    assert.equal(await ib.index.staleness(), undefined);
  });

  it("lists on one instance what was pushed to the other, and sees deletes made there", async () => {
    const image = await pushImage(a, "shared/app", "v1");
    await ia.index.idle();
    assert.equal(await ib.index.staleness(), undefined, "no rebuild involved");
    assert.deepEqual(await names(b, ib), ["shared/app", "shared/before"]);
    const tags = await api(b, ib).repositories.tags({ repository: "shared/app" });
    assert.deepEqual(
      tags.rows.map((row) => [row.tag, row.digest]),
      [["v1", image.digest]],
    );

    await deleteRef(b, "shared/app", "v1");
    await ib.index.idle();
    assert.deepEqual((await api(a, ia).repositories.tags({ repository: "shared/app" })).rows, []);
    await deleteRef(b, "shared/app", image.digest);
    await ib.index.idle();
    const activity = (await api(a, ia).images.activity({ limit: 10 })).map((row) => [row.type, row.repository]);
    assert.deepEqual(activity.slice(0, 3), [
      ["manifest-delete", "shared/app"],
      ["tag-delete", "shared/app"],
      ["push", "shared/app"],
    ]);
  });

  it("does not let a rebuild on one instance drop what the other just pushed", async () => {
    const rebuilding = ia.index.rebuild();
    await pushImage(b, "shared/during", "v1");
    await ib.index.idle();
    await rebuilding;
    assert.ok((await names(a, ia)).includes("shared/during"));
    await ia.index.rebuild();
    assert.ok((await names(b, ib)).includes("shared/during"));
  });
});
