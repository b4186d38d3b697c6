import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RegistryEvent } from "../../server/registry/events.js";
import { pushImage, startRegistry, type TestRegistry } from "./harness.js";

describe("registry events", () => {
  let r: TestRegistry;
  const seen: RegistryEvent[] = [];

  before(async () => {
    r = await startRegistry({ deleteEnabled: true });
    r.registry.services.events.subscribe((event) => seen.push(event));
  });
  after(() => r.close());

  it("reports pushes, tag deletes and manifest deletes made through the API", async () => {
    const image = await pushImage(r, "ev/app", "v1");
    assert.equal((await r.fetch(`/v2/ev/app/manifests/v1`, { method: "DELETE" })).status, 202);
    assert.equal((await r.fetch(`/v2/ev/app/manifests/${image.digest}`, { method: "DELETE" })).status, 202);
    assert.deepEqual(seen, [
      { type: "manifest.put", repository: "ev/app", digest: image.digest, mediaType: image.mediaType, size: image.size, tag: "v1" },
      { type: "tag.delete", repository: "ev/app", tag: "v1" },
      { type: "manifest.delete", repository: "ev/app", digest: image.digest },
    ]);
  });

  it("lists a repository in the catalog as soon as its first manifest is pushed", async () => {
    // Asked once before the push, so a catalog remembered from then would show here.
    const earlier = (await (await r.fetch("/v2/_catalog")).json()) as { repositories: string[] };
    assert.ok(!earlier.repositories.includes("ev/new"));
    await pushImage(r, "ev/new", "v1");
    const catalog = (await (await r.fetch("/v2/_catalog")).json()) as { repositories: string[] };
    assert.ok(catalog.repositories.includes("ev/new"));
  });
});
