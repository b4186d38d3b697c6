import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { expectError, OCI_MANIFEST, pushBlob, pushImage, putManifest, sha256, startRegistry, type TestRegistry } from "./harness.js";

async function tagsOf(r: TestRegistry, name: string): Promise<string[]> {
  const res = await r.fetch(`/v2/${name}/tags/list`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}

describe("deletes when disabled (the default)", () => {
  let r: TestRegistry;
  before(async () => {
    r = await startRegistry();
  });
  after(() => r.close());

  it("answers DELETE of a manifest and of a blob with 405 UNSUPPORTED and keeps them", async () => {
    const image = await pushImage(r, "nodelete/app", "v1");
    const layer = sha256(image.layers[0]!);
    await expectError(await r.fetch("/v2/nodelete/app/manifests/v1", { method: "DELETE" }), 405, "UNSUPPORTED");
    await expectError(await r.fetch(`/v2/nodelete/app/manifests/${image.digest}`, { method: "DELETE" }), 405, "UNSUPPORTED");
    await expectError(await r.fetch(`/v2/nodelete/app/blobs/${layer}`, { method: "DELETE" }), 405, "UNSUPPORTED");
    assert.equal((await r.fetch("/v2/nodelete/app/manifests/v1", { method: "HEAD" })).status, 200);
    assert.equal((await r.fetch(`/v2/nodelete/app/blobs/${layer}`, { method: "HEAD" })).status, 200);
  });
});

describe("deletes when enabled", () => {
  let r: TestRegistry;
  before(async () => {
    r = await startRegistry({ deleteEnabled: true });
  });
  after(() => r.close());

  it("DELETE by tag (202) removes the tag only; the manifest stays by digest", async () => {
    const image = await pushImage(r, "del/tag", "v1");
    const again = await putManifest(r, "del/tag", "v2", image.manifest, OCI_MANIFEST);
    assert.equal(again.status, 201);
    const res = await r.fetch("/v2/del/tag/manifests/v1", { method: "DELETE" });
    assert.equal(res.status, 202, await res.text());
    await expectError(await r.fetch("/v2/del/tag/manifests/v1"), 404, "MANIFEST_UNKNOWN");
    assert.deepEqual(await tagsOf(r, "del/tag"), ["v2"]);
    const byDigest = await r.fetch(`/v2/del/tag/manifests/${image.digest}`);
    assert.equal(byDigest.status, 200);
    assert.deepEqual(Buffer.from(await byDigest.arrayBuffer()), image.manifest);
    assert.equal((await r.fetch("/v2/del/tag/manifests/v2", { method: "HEAD" })).status, 200);
  });

  it("DELETE by digest (202) removes the manifest and every tag on it", async () => {
    const image = await pushImage(r, "del/digest", "a");
    for (const tag of ["b", "c"]) assert.equal((await putManifest(r, "del/digest", tag, image.manifest, OCI_MANIFEST)).status, 201);
    const keep = await pushImage(r, "del/digest", "keep");
    assert.deepEqual(await tagsOf(r, "del/digest"), ["a", "b", "c", "keep"]);
    const res = await r.fetch(`/v2/del/digest/manifests/${image.digest}`, { method: "DELETE" });
    assert.equal(res.status, 202, await res.text());
    await expectError(await r.fetch(`/v2/del/digest/manifests/${image.digest}`), 404, "MANIFEST_UNKNOWN");
    for (const tag of ["a", "b", "c"]) await expectError(await r.fetch(`/v2/del/digest/manifests/${tag}`), 404, "MANIFEST_UNKNOWN");
    assert.deepEqual(await tagsOf(r, "del/digest"), ["keep"]);
    const kept = await r.fetch("/v2/del/digest/manifests/keep");
    assert.deepEqual(Buffer.from(await kept.arrayBuffer()), keep.manifest);
  });

  it("answers DELETE of an unknown tag or digest with 404 MANIFEST_UNKNOWN", async () => {
    await pushImage(r, "del/unknown", "v1");
    await expectError(await r.fetch("/v2/del/unknown/manifests/nope", { method: "DELETE" }), 404, "MANIFEST_UNKNOWN");
    await expectError(await r.fetch(`/v2/del/unknown/manifests/${sha256("nope")}`, { method: "DELETE" }), 404, "MANIFEST_UNKNOWN");
  });

  it("DELETE of a blob (202) makes it unknown to the repository", async () => {
    const bytes = randomBytes(64);
    const digest = await pushBlob(r, "del/blob", bytes);
    await pushBlob(r, "del/blob-other", bytes);
    const res = await r.fetch(`/v2/del/blob/blobs/${digest}`, { method: "DELETE" });
    assert.equal(res.status, 202, await res.text());
    await expectError(await r.fetch(`/v2/del/blob/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    assert.equal((await r.fetch(`/v2/del/blob/blobs/${digest}`, { method: "HEAD" })).status, 404);
    await expectError(await r.fetch(`/v2/del/blob/blobs/${digest}`, { method: "DELETE" }), 404, "BLOB_UNKNOWN");
    // Another repository linking the same content is unaffected.
    const other = await r.fetch(`/v2/del/blob-other/blobs/${digest}`);
    assert.equal(other.status, 200);
    assert.deepEqual(Buffer.from(await other.arrayBuffer()), bytes);
  });

  it("answers DELETE of an invalid digest with 400 DIGEST_INVALID", async () => {
    await expectError(await r.fetch("/v2/del/blob/blobs/sha256:abc", { method: "DELETE" }), 400, "DIGEST_INVALID");
  });

  it("lets a deleted manifest be pushed again", async () => {
    const image = await pushImage(r, "del/again", "v1");
    assert.equal((await r.fetch(`/v2/del/again/manifests/${image.digest}`, { method: "DELETE" })).status, 202);
    const res = await putManifest(r, "del/again", "v1", image.manifest, OCI_MANIFEST);
    assert.equal(res.status, 201, await res.text());
    const got = await r.fetch("/v2/del/again/manifests/v1");
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), image.manifest);
  });
});
