import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { purgeUploads } from "../../server/registry/upload-purge.js";
import { startRegistry, uploadsInStorage, type TestRegistry } from "./harness.js";

describe("upload purging", () => {
  let r: TestRegistry;
  const hour = 3_600_000;

  const uploadIds = async (name: string) => (await uploadsInStorage(r.driver, name)).map((path) => path.slice(path.lastIndexOf("/") + 1)).sort();

  before(async () => {
    r = await startRegistry();
  });
  after(() => r.close());

  it("removes uploads older than the age, keeps recent ones, and finds repositories without manifests", async () => {
    const start = async (name: string) => (await r.fetch(`/v2/${name}/blobs/uploads/`, { method: "POST" })).headers.get("docker-upload-uuid") as string;
    const old = await start("purge/never-pushed");
    const now = Date.now();
    const dry = await purgeUploads(r.driver, { ageMs: 168 * hour, dryRun: true }, now + 200 * hour);
    assert.deepEqual(dry.purged.map((p) => p.id), [old]);
    assert.deepEqual(await uploadIds("purge/never-pushed"), [old], "a dry run deletes nothing");

    const fresh = await start("purge/never-pushed");
    const result = await purgeUploads(r.driver, { ageMs: 168 * hour, dryRun: false }, now + 200 * hour);
    assert.deepEqual(result.purged.map((p) => p.id).sort(), [fresh, old].sort());
    assert.deepEqual(await uploadIds("purge/never-pushed"), []);
    assert.equal((await r.fetch(`/v2/purge/never-pushed/blobs/uploads/${old}`)).status, 404);

    const recent = await start("purge/never-pushed");
    assert.deepEqual((await purgeUploads(r.driver, { ageMs: 168 * hour, dryRun: false })).purged, []);
    assert.deepEqual(await uploadIds("purge/never-pushed"), [recent]);
  });
});
